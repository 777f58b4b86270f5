"""Only for the launchers; everything else is in pyproject.toml.

The launchers (bin/) start the interpreter with -S: site initialisation costs more than
the client's whole per-job budget (docs/benchmarks.md).  pip rewrites a "#!python" line
to the interpreter's path but drops any option after it, so bin/ scripts begin with
"#!/bin/sh" and re-exec Python with -S (~0.6 ms more per job).  When the package is
built, this puts the building interpreter (the one pip installs for) with -S on their
first line instead; the shell part stays as a fallback for running them from a checkout.
"""

import os
import sys

from setuptools import setup
from setuptools.dist import Distribution

build_scripts = Distribution().get_command_class("build_scripts")

SHELL_LINE = b"#!/bin/sh\n"


class DirectLaunchers(build_scripts):  # type: ignore[misc]
    def copy_scripts(self):  # type: ignore[no-untyped-def]
        outfiles, updated = super().copy_scripts()
        python = sys.executable or ""
        if python and os.access(python, os.X_OK) and " " not in python:
            for path in outfiles:
                with open(path, "rb") as f:
                    text = f.read()
                if text.startswith(SHELL_LINE) and b"''''true" in text[:40]:
                    with open(path, "wb") as f:
                        f.write(f"#!{python} -S\n".encode() + text[len(SHELL_LINE) :])
        return outfiles, updated


setup(cmdclass={"build_scripts": DirectLaunchers})
