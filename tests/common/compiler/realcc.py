"""Helpers for differential tests: run a real gcc/clang in a fresh source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

COMPILERS = [
    pytest.param(
        cc, marks=pytest.mark.skipif(shutil.which(cc) is None, reason=f"{cc} not installed")
    )
    for cc in ("gcc", "clang")
]

# foo.c includes a user header (so -MP has something to list) and a system header (so -MD
# and -MMD differ).
FOO_C = '#include "foo.h"\n#include <stddef.h>\nint x = FOO;\nsize_t s;\n'
FOO_H = "#define FOO 1\n"


def make_tree(root: Path) -> Path:
    """A fresh source tree: foo.c, foo.cpp, foo.h, pre.i, src/bar.c, empty sub/ d.x/ deps/."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "foo.c").write_text(FOO_C)
    (root / "foo.cpp").write_text(FOO_C)
    (root / "foo.h").write_text(FOO_H)
    (root / "pre.i").write_text("int x = 1;\n")
    for d in ("sub", "d.x", "deps", "src"):
        (root / d).mkdir()
    (root / "src" / "bar.c").write_text(FOO_C.replace('"foo.h"', '"../foo.h"'))
    return root


def files(root: Path) -> set[str]:
    """Every regular file under root, relative to it."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> int:
    full = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES")
    }
    full["LC_ALL"] = "C"
    full.update(env or {})
    proc = subprocess.run(argv, cwd=cwd, env=full, capture_output=True, check=False)
    return proc.returncode


def env_file(env: dict[str, str]) -> str | None:
    """The file DEPENDENCIES_OUTPUT / SUNPRO_DEPENDENCIES names, if any."""
    spec = env.get("DEPENDENCIES_OUTPUT") or env.get("SUNPRO_DEPENDENCIES")
    return spec.partition(" ")[0] if spec else None
