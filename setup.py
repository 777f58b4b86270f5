"""Only for the launchers; everything else is in pyproject.toml.

The launchers (bin/) start the interpreter with -S: site initialisation costs more than
the client's whole per-job budget (docs/benchmarks.md).  pip rewrites a "#!python" line
to the interpreter's path but drops any option after it, so bin/ scripts begin with
"#!/bin/sh" and re-exec Python with -S (~0.6 ms more per job).  When the package is
built, this puts the building interpreter (the one `pip install` installs for) with -S
on their first line instead, so the wheel belongs to that interpreter, as pip's own
launchers do; a build in a throw-away environment (`python -m build`) keeps the shell
line.  The shell part also serves for running them from a checkout.
"""

import os
import sys
import tempfile

from setuptools import setup
from setuptools.dist import Distribution

build_scripts = Distribution().get_command_class("build_scripts")

SHELL_LINE = b"#!/bin/sh\n"


def _throwaway() -> bool:
    """Is this a temporary build environment (``python -m build``'s venv under the temp
    directory)?  Then the wheel is for another interpreter: keep the shell line."""
    temp = os.path.realpath(tempfile.gettempdir()) + os.sep
    prefix = os.path.realpath(sys.prefix) + os.sep
    return sys.prefix != sys.base_prefix and prefix.startswith(temp)


class DirectLaunchers(build_scripts):  # type: ignore[misc]
    def copy_scripts(self):  # type: ignore[no-untyped-def]
        outfiles, updated = super().copy_scripts()
        python = sys.executable or ""
        line = f"#!{python} -S\n"
        # Linux reads at most 127 bytes of a #! line before 5.1 (256 since).
        usable = python and " " not in python and len(line) <= 127 and os.access(python, os.X_OK)
        if usable and not _throwaway():
            for path in outfiles:
                with open(path, "rb") as f:
                    text = f.read()
                if text.startswith(SHELL_LINE) and b"''''true" in text[:40]:
                    with open(path, "wb") as f:
                        f.write(line.encode() + text[len(SHELL_LINE) :])
        return outfiles, updated


setup(cmdclass={"build_scripts": DirectLaunchers})
