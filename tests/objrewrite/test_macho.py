"""The Mach-O backend on clang's x86_64 and arm64 objects: in place, or a clear error."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import objrewrite
from objrewrite.errors import FormatError, UnsupportedError
from objrewrite.macho import slices
from tests.objrewrite.conftest import Fx, dwarf_dump, verify_errors

CASES = [f"macho-{a}-dwarf{v}" for a in ("x86_64", "arm64") for v in (4, 5)]
LD64 = Path("/usr/lib/llvm-14/bin/ld64.lld")


@pytest.mark.parametrize("case", CASES)
def test_shorter_prefix_rewritten_in_place(fx: Fx, case: str, tmp_path: Path) -> None:
    src, expected, old, new = fx.direction(case, "shorter")
    data = src.read_bytes()
    out, report = objrewrite.rewrite_bytes(data, [(old, new)])
    assert report.changed and report.remaining == [] and report.format == "mach-o"
    assert len(out) == len(data)
    dest = tmp_path / "m.o"
    dest.write_bytes(out)
    assert verify_errors(dest) == 0
    assert objrewrite.find_prefix(dest, old) == []
    texts = {e.text for e in objrewrite.list_paths(dest)}
    assert f"{new}/src" in {re.sub("/+", "/", t) for t in texts}
    # Same DWARF as a compile at the target path, once '/' padding is collapsed.
    assert re.sub("/{2,}", "/", dwarf_dump(dest)) == dwarf_dump(expected)


@pytest.mark.parametrize("case", CASES)
def test_longer_prefix_is_a_clear_error(fx: Fx, case: str) -> None:
    src, _, old, new = fx.direction(case, "longer")
    with pytest.raises(UnsupportedError, match="grow"):
        objrewrite.rewrite_bytes(src.read_bytes(), [(old, new)])


def test_fat_file_slices_are_rewritten(fx: Fx) -> None:
    thin = [fx.path(f"macho-{a}-dwarf4", "long").read_bytes() for a in ("x86_64", "arm64")]
    # A fat header (big endian) with two slices at 4 KiB boundaries.
    offs = [0x1000, 0x1000 + ((len(thin[0]) + 0xFFF) & ~0xFFF)]
    hdr = bytearray(b"\xca\xfe\xba\xbe" + (2).to_bytes(4, "big"))
    for (cpu, sub), off, body in zip(((0x01000007, 3), (0x0100000C, 0)), offs, thin, strict=True):
        for v in (cpu, sub, off, len(body), 12):
            hdr += v.to_bytes(4, "big")
    fat = bytearray(hdr)
    for off, body in zip(offs, thin, strict=True):
        fat += b"\x00" * (off - len(fat)) + body
    assert len(slices(bytes(fat))) == 2
    out, report = objrewrite.rewrite_bytes(bytes(fat), [(fx.long, fx.short)])
    assert report.remaining == [] and len(out) == len(fat)
    assert objrewrite.find_prefix(out, fx.long) == []


def test_truncated_macho_is_a_format_error(fx: Fx) -> None:
    data = fx.path("macho-x86_64-dwarf4", "long").read_bytes()
    with pytest.raises(FormatError):
        objrewrite.rewrite_bytes(data[:40], [(fx.long, fx.short)])


@pytest.mark.skipif(
    not LD64.exists() or shutil.which("dsymutil") is None,
    reason="needs ld64.lld and dsymutil (llvm-14)",
)
def test_linked_and_dsym_show_client_paths(fx: Fx, tmp_path: Path) -> None:
    src, _, old, new = fx.direction("macho-x86_64-dwarf4", "shorter")
    out, _ = objrewrite.rewrite_bytes(src.read_bytes(), [(old, new)])
    obj = tmp_path / "m.o"
    obj.write_bytes(out)
    exe, dsym = tmp_path / "m.exe", tmp_path / "m.dSYM"
    subprocess.run(
        [
            str(LD64),
            "-arch",
            "x86_64",
            "-platform_version",
            "macos",
            "11.0",
            "11.0",
            "-e",
            "_mfn",
            "-o",
            str(exe),
            str(obj),
        ],
        check=True,
    )
    subprocess.run(["dsymutil", "-o", str(dsym), str(exe)], check=True)
    dump = subprocess.run(
        ["llvm-dwarfdump", str(dsym)], capture_output=True, text=True, check=True
    ).stdout
    assert f'DW_AT_comp_dir\t("{new}/src")' in dump
    stabs = subprocess.run(
        ["llvm-nm", "-a", str(exe)], capture_output=True, text=True, check=True
    ).stdout
    assert f"SO {new}/src/m.c" in stabs
