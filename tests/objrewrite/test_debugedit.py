"""Cross-check with rpm's debugedit 5.0 (when installed): same DWARF on gcc objects, and
correct output where debugedit exits 0 without rewriting (clang DWARF 5, ``-gz``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import objrewrite
from tests.objrewrite.conftest import Fx, dwarf_dump

pytestmark = pytest.mark.skipif(shutil.which("debugedit") is None, reason="needs debugedit")


def _debugedit(src: Path, old: str, new: str, dest: Path) -> subprocess.CompletedProcess[str]:
    shutil.copy(src, dest)
    return subprocess.run(
        ["debugedit", "-b", old, "-d", new, str(dest)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("case", ["gcc-dwarf4-g3-abs", "gcc-dwarf5-g-rel", "gcc-macinfo"])
def test_same_dwarf_as_debugedit_on_gcc_output(fx: Fx, case: str, tmp_path: Path) -> None:
    src, _, old, new = fx.direction(case, "longer")
    theirs = tmp_path / "theirs.o"
    assert _debugedit(src, old, new, theirs).returncode == 0
    ours = tmp_path / "ours.o"
    assert objrewrite.rewrite_file(src, [(old, new)], out=ours).ok
    assert dwarf_dump(ours) == dwarf_dump(theirs)


@pytest.mark.parametrize("case", ["clang-dwarf5-g-rel", "gcc-dwarf4-g-rel-gz"])
def test_correct_where_debugedit_silently_fails(fx: Fx, case: str, tmp_path: Path) -> None:
    src, expected, old, new = fx.direction(case, "longer")
    theirs = tmp_path / "theirs.o"
    proc = _debugedit(src, old, new, theirs)
    assert proc.returncode == 0  # debugedit reports success...
    assert [h for h in objrewrite.find_prefix(theirs, old) if h.debug]  # ...but left paths
    ours = tmp_path / "ours.o"
    assert objrewrite.rewrite_file(src, [(old, new)], out=ours).ok
    assert objrewrite.find_prefix(ours, old) == []
    assert dwarf_dump(ours) == dwarf_dump(expected)
