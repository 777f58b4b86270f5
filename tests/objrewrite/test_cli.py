"""The ``objrewrite`` command: modes, atomic in-place writes, exit codes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from objrewrite.cli import EXIT_INPUT, EXIT_LEFT, EXIT_OK, EXIT_UNSUPPORTED, EXIT_USAGE, main
from tests.objrewrite.conftest import Fx


def _copy(fx: Fx, case: str, tree: str, tmp: Path, ext: str = ".o") -> Path:
    dest = tmp / f"{case}{ext}"
    shutil.copy(fx.path(case, tree, ext), dest)
    return dest


def test_command_rewrites_in_place(fx: Fx, tool_bin: Path, tmp_path: Path) -> None:
    obj = _copy(fx, "clang-dwarf5-g-rel", "short", tmp_path)
    proc = subprocess.run(
        [str(tool_bin / "objrewrite"), "--map", f"{fx.short}={fx.long}", str(obj)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == EXIT_OK, proc.stderr
    assert obj.read_bytes() == fx.path("clang-dwarf5-g-rel", "long").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [obj.name]  # no temp file left
    check = subprocess.run(
        [str(tool_bin / "objrewrite"), "--check", fx.short, str(obj)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == EXIT_OK and check.stdout == ""


def test_output_option_leaves_input_alone(fx: Fx, tmp_path: Path) -> None:
    obj = _copy(fx, "gcc-dwarf4-g-abs", "long", tmp_path)
    before = obj.read_bytes()
    out = tmp_path / "out.o"
    assert main(["-m", f"{fx.long}={fx.short}", "-o", str(out), str(obj)]) == EXIT_OK
    assert obj.read_bytes() == before
    assert main(["--check", fx.long, str(out)]) == EXIT_OK
    assert main(["--check", fx.long, str(obj)]) == EXIT_LEFT


def test_check_reports_debug_hits_and_warns_on_data(
    fx: Fx, capsys: pytest.CaptureFixture[str]
) -> None:
    obj = fx.path("gcc-filemacro", "short")
    assert main(["--check", fx.short, str(obj)]) == EXIT_LEFT
    cap = capsys.readouterr()
    assert ".debug_line_str+" in cap.out
    assert "warning: path in non-debug section .rodata" in cap.err


def test_list_prints_section_form_and_holder(fx: Fx, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list", str(fx.path("clang-dwarf5-g-abs", "short"))]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert f".debug_info\tDW_FORM_strx1\tDW_AT_comp_dir\t{fx.short}/src" in lines
    assert f".debug_line\tDW_FORM_line_strp\tline dir (v5)\t{fx.short}/src" in lines
    assert main(["--list", str(fx.path("gcc-dwarf4-g-rel", "short"))]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert f".debug_line\tinline\tline dir (v4)\t{fx.short}/include" in lines


def test_growth_in_place_fails_and_leaves_the_file(
    fx: Fx, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    obj = _copy(fx, "macho-arm64-dwarf5", "short", tmp_path)
    before = obj.read_bytes()
    assert main(["-m", f"{fx.short}={fx.long}", str(obj)]) == EXIT_UNSUPPORTED
    assert obj.read_bytes() == before
    assert "grow" in capsys.readouterr().err


@pytest.mark.parametrize(
    "junk", [b"", b"\x7fELF", b"not an object at all", b"\x7fELF\x02\x01" + b"\x00" * 60]
)
def test_bad_input_is_exit_3_and_untouched(tmp_path: Path, junk: bytes) -> None:
    obj = tmp_path / "bad.o"
    obj.write_bytes(junk)
    assert main(["-m", "/a=/b", str(obj)]) == EXIT_INPUT
    assert obj.read_bytes() == junk
    assert main(["--check", "/a", str(obj)]) == EXIT_INPUT


def test_truncated_object_is_exit_3(fx: Fx, tmp_path: Path) -> None:
    data = fx.path("gcc-dwarf5-g-rel", "short").read_bytes()
    for cut in (64, len(data) // 2, len(data) - 10):
        obj = tmp_path / f"t{cut}.o"
        obj.write_bytes(data[:cut])
        assert main(["-m", f"{fx.short}={fx.long}", str(obj)]) == EXIT_INPUT
        assert obj.read_bytes() == data[:cut]


def test_usage_errors(tmp_path: Path) -> None:
    assert main([]) == EXIT_USAGE
    assert main(["-m", "noequals", "x.o"]) == EXIT_USAGE
    assert main(["-m", "=/new", "x.o"]) == EXIT_USAGE
    assert main(["-m", "/a=/b", "-o", "o.o", "x.o", "y.o"]) == EXIT_USAGE
    assert main(["--list", "--check", "/a", "x.o"]) == EXIT_USAGE
    assert main(["-m", "/a=/b", str(tmp_path / "missing.o")]) == EXIT_INPUT


def test_several_files_worst_status_wins(fx: Fx, tmp_path: Path) -> None:
    good = _copy(fx, "clang-dwarf4-g-rel", "long", tmp_path)
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"junk")
    assert main(["-m", f"{fx.long}={fx.short}", str(good), str(bad)]) == EXIT_INPUT
    assert good.read_bytes() == fx.path("clang-dwarf4-g-rel", "short").read_bytes()


def test_cli_on_every_fixture_both_ways(fx: Fx, tmp_path: Path) -> None:
    """Exit 0 and nothing left, except growth where only in-place editing exists (4)."""
    in_place_only = ("gcc-exe", "gcc-so", "macho-")
    seen = 0
    for src in sorted(fx.obj.iterdir()):
        case, rest = src.name.split("@")
        tree, ext = rest.split(".")
        old, new = (fx.short, fx.long) if tree == "short" else (fx.long, fx.short)
        out = tmp_path / f"out.{ext}"
        code = main(["-q", "-m", f"{old}={new}", "-o", str(out), str(src)])
        growing = tree == "short" and case.startswith(in_place_only)
        assert code == (EXIT_UNSUPPORTED if growing else EXIT_OK), src.name
        if not growing:
            assert main(["-q", "--check", old, str(out)]) == EXIT_OK, src.name
        seen += 1
    assert seen == len(list(fx.obj.iterdir())) > 150
