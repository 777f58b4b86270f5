"""The safety net and the final scan (daemon/pumpjob.py ``_fixed``) on real gcc objects."""

from __future__ import annotations

import subprocess
from pathlib import Path

from daemon.pumpjob import _fixed


def compile_in(root: Path, source: str, *flags: str) -> bytes:
    src = root / "home" / "u"
    src.mkdir(parents=True, exist_ok=True)
    (src / "a.c").write_text(source)
    subprocess.run(
        ["gcc", "-g", "-O2", *flags, "-c", str(src / "a.c"), "-o", "a.o"], cwd=src, check=True
    )
    return (src / "a.o").read_bytes()


def test_objrewrite_removes_what_no_prefix_map_covered(tmp_path: Path) -> None:
    root = tmp_path / "distccd_x" / "root"
    data = compile_in(root, "int f(int x) { return x + 1; }\n")
    assert str(root).encode() in data
    problems: list[str] = []
    fixed = _fixed(data, str(root), "a.o", problems)
    assert problems == []
    assert str(root).encode() not in fixed
    assert b"/home/u" in fixed


def test_a_server_path_in_code_data_fails_the_job(tmp_path: Path) -> None:
    """``__FILE__`` in .rodata (only the debug map given) cannot be rewritten: reported."""
    root = tmp_path / "distccd_y" / "root"
    data = compile_in(
        root, "const char *name(void) { return __FILE__; }\n", f"-fdebug-prefix-map={root}="
    )
    problems: list[str] = []
    fixed = _fixed(data, str(root), "a.o", problems)
    assert problems == ["a.o"]
    assert str(root).encode() in fixed


def test_clean_objects_are_returned_untouched(tmp_path: Path) -> None:
    root = tmp_path / "distccd_z" / "root"
    data = compile_in(root, "int g;\n", f"-ffile-prefix-map={root}=")
    problems: list[str] = []
    assert _fixed(data, str(root), "a.o", problems) is data
    assert problems == []
