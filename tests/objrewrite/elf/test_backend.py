"""The ELF backend against real gcc/clang output: the whole fixture matrix, both ways.

Oracles: clang objects come back byte-identical to a compile at the target path; gcc
objects (whose string tables are ordered by hash) give the same normalised
``llvm-dwarfdump`` text; every result passes ``llvm-dwarfdump --verify`` as cleanly as
the reference object and has no old prefix left in any debug section.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import objrewrite
from objrewrite.elf.file import ElfFile
from objrewrite.errors import UnsupportedError
from tests.objrewrite.conftest import GEN, Fx, dwarf_dump, readelf_warnings, verify_errors

MATRIX = GEN.matrix()
WAYS = ("longer", "shorter")
IDENTICAL_EXTRAS = [
    "clang-asm",
    "clang-split",
    "clang-split4",
    "clang-types4",
    "clang-types5",
    "clang-ldr",
]
# ELF32/64, both byte orders, REL (i386, arm, mips) and RELA (the others).
CROSS = [f"clang-{arch}" for arch in GEN.CROSS]
# gcc orders its string tables by hashes that depend on the paths: equal DWARF, not bytes.
EQUIVALENT_EXTRAS = [
    "gcc-asm",
    "gcc-dwarf64",
    "gcc-macinfo",
    "gcc-types4",
    "gcc-types5",
    "gcc-split",
    "gcc-split4",
    "gcc-ldr",
    "gcc-zstd",
    "gcc-zlibgnu",
    "gcc-filemacro",
]


def _rewrite(fx: Fx, case: str, way: str, tmp: Path, ext: str = ".o") -> tuple[Path, Path]:
    src, expected, old, new = fx.direction(case, way, ext)
    out, report = objrewrite.rewrite_bytes(src.read_bytes(), [(old, new)])
    assert report.changed
    assert report.remaining == []
    dest = tmp / f"{case}-{way}{ext}"
    dest.write_bytes(out)
    assert [h for h in objrewrite.find_prefix(dest, old) if h.debug] == []
    return dest, expected


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(
    "case", [c for c in MATRIX if c.startswith("clang")] + IDENTICAL_EXTRAS + CROSS
)
def test_identical_to_a_compile_at_the_target_path(
    fx: Fx, case: str, way: str, tmp_path: Path
) -> None:
    dest, expected = _rewrite(fx, case, way, tmp_path)
    assert dest.read_bytes() == expected.read_bytes()
    assert verify_errors(dest) == 0


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", [c for c in MATRIX if c.startswith("gcc")] + EQUIVALENT_EXTRAS)
def test_dwarf_equal_to_a_compile_at_the_target_path(
    fx: Fx, case: str, way: str, tmp_path: Path
) -> None:
    dest, expected = _rewrite(fx, case, way, tmp_path)
    assert dwarf_dump(dest) == dwarf_dump(expected)
    assert verify_errors(dest) == verify_errors(expected)
    assert readelf_warnings(dest) == readelf_warnings(expected)


@pytest.mark.parametrize("case", ["gcc-split", "clang-split", "gcc-split4", "clang-split4"])
def test_split_dwarf_dwo_files(fx: Fx, case: str, tmp_path: Path) -> None:
    for way in WAYS:
        dest, expected = _rewrite(fx, case, way, tmp_path, ".dwo")
        if case.startswith("clang"):
            assert dest.read_bytes() == expected.read_bytes()
        else:
            assert dwarf_dump(dest) == dwarf_dump(expected)


def test_rewrite_is_idempotent_and_no_match_is_a_copy(fx: Fx) -> None:
    src, _, old, new = fx.direction("gcc-dwarf4-g3-abs", "longer")
    once, _ = objrewrite.rewrite_bytes(src.read_bytes(), [(old, new)])
    twice, report = objrewrite.rewrite_bytes(once, [(old, new)])
    assert twice == once and not report.changed
    data = src.read_bytes()
    same, report = objrewrite.rewrite_bytes(data, [("/nowhere/at/all", "/x")])
    assert same is data and not report.changed


def test_prefix_of_a_longer_directory_name_does_not_match(fx: Fx) -> None:
    src = fx.path("clang-dwarf5-g-abs", "short")
    data = src.read_bytes()
    # fx.short is ".../s/proj"; ".../s/pro" is a prefix of it but not a path prefix.
    out, report = objrewrite.rewrite_bytes(data, [(fx.short[:-1], "/elsewhere")])
    assert out == data and report.rewritten == 0


def test_linked_executable_is_rewritten_in_place_when_not_longer(fx: Fx, tmp_path: Path) -> None:
    src, _, old, new = fx.direction("gcc-exe", "shorter")
    data = src.read_bytes()
    out, report = objrewrite.rewrite_bytes(data, [(old, new)])
    assert len(out) == len(data) and report.remaining == []
    exe = tmp_path / "t"
    exe.write_bytes(out)
    exe.chmod(0o755)
    assert verify_errors(exe) == verify_errors(src)
    assert subprocess.run([str(exe)], check=False).returncode == 0
    addr = subprocess.run(["nm", str(exe)], capture_output=True, text=True, check=True).stdout
    add = next(ln.split()[0] for ln in addr.splitlines() if ln.endswith(" add"))
    where = subprocess.run(
        ["addr2line", "-e", str(exe), f"0x{add}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert where.startswith(new + "/src/a.c:") or (where.startswith(new + "/") and "a.c:" in where)
    gdb = subprocess.run(
        ["gdb", "-nx", "-batch", "-ex", "list add", "-ex", "info source", str(exe)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert f"Compilation directory is {new}/src" in gdb
    assert "int add(int a, int b)" in gdb


@pytest.mark.parametrize("case", ["gcc-exe", "gcc-so"])
def test_linked_files_refuse_to_grow(fx: Fx, case: str) -> None:
    src, _, old, new = fx.direction(case, "longer")
    with pytest.raises(UnsupportedError, match="grow"):
        objrewrite.rewrite_bytes(src.read_bytes(), [(old, new)])


def test_shared_library_is_rewritten_in_place(fx: Fx, tmp_path: Path) -> None:
    src, _, old, new = fx.direction("gcc-so", "shorter")
    data = src.read_bytes()
    out, report = objrewrite.rewrite_bytes(data, [(old, new)])
    assert len(out) == len(data) and report.changed and report.remaining == []
    lib = tmp_path / "liba.so"
    lib.write_bytes(out)
    assert verify_errors(lib) == verify_errors(src)
    assert readelf_warnings(lib) == readelf_warnings(src)
    texts = {e.text for e in objrewrite.list_paths(lib)}
    assert f"{new}/src" in texts
    # Only debug sections changed: every other section is byte for byte the same.
    before, after = ElfFile(data), ElfFile(out)
    for a, b in zip(before.sections, after.sections, strict=True):
        assert (a.offset, a.size) == (b.offset, b.size)
        if not a.name.startswith(".debug"):
            assert bytes(a.raw) == bytes(b.raw), a.name
    sym = subprocess.run(["nm", "-D", str(lib)], capture_output=True, text=True, check=True)
    assert " T add" in sym.stdout


def test_rewritten_object_links_and_debugs_at_the_new_path(fx: Fx, tmp_path: Path) -> None:
    dest, _ = _rewrite(fx, "gcc-dwarf4-g-rel", "longer", tmp_path)
    exe = tmp_path / "t"
    main_c = Path(fx.long) / "src" / "main.c"
    subprocess.run(["gcc", str(main_c), str(dest), "-o", str(exe)], check=True)
    addr = subprocess.run(["nm", str(exe)], capture_output=True, text=True, check=True).stdout
    add = next(ln.split()[0] for ln in addr.splitlines() if ln.endswith(" add"))
    where = subprocess.run(
        ["addr2line", "-e", str(exe), f"0x{add}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert where.startswith(fx.long + "/src/a.c:3")


def test_file_macro_in_rodata_is_reported_not_rewritten(fx: Fx) -> None:
    src, _, old, new = fx.direction("gcc-filemacro", "longer")
    out, report = objrewrite.rewrite_bytes(src.read_bytes(), [(old, new)])
    assert report.remaining == []
    assert [h.section[:7] for h in report.data_hits] == [".rodata"]
    assert report.data_hits[0].text == old + "/src/f.c"
    assert objrewrite.find_prefix(out, old) == report.data_hits


@pytest.mark.parametrize("way", WAYS)
def test_paths_inside_a_recorded_command_line(fx: Fx, way: str, tmp_path: Path) -> None:
    """clang -grecord-command-line puts "-I <path>" inside DW_AT_producer."""

    def producer(path: Path) -> str:
        return subprocess.run(
            ["llvm-dwarfdump", "--debug-info", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    src, _, old, new = fx.direction("clang-cmdline", way)
    assert f"-I {old}/include" in producer(src)
    dest, _ = _rewrite(fx, "clang-cmdline", way, tmp_path)
    assert f"-I {new}/include" in producer(dest)
    assert f"{old}/" not in producer(dest)
    assert verify_errors(dest) == 0
