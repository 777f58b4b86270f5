"""The fixture generator's contract: names follow the documented scheme, nothing is missing."""

from __future__ import annotations

import re

from tests.objrewrite.conftest import GEN, Fx

NAME = re.compile(
    r"^(?:(?:gcc|clang)-dwarf[245]-g3?-(?:rel|abs)(?:-gz)?"
    r"|(?:gcc|clang)-(?:asm|split|split4|types4|types5|ldr)|clang-cmdline"
    r"|gcc-(?:macinfo|dwarf64|zstd|zlibgnu|exe|so|filemacro)"
    r"|clang-(?:i386|arm|mips|ppc64|ppc|s390x|aarch64)"
    r"|macho-(?:x86_64|arm64)-dwarf[45])"
    r"@(?:short|long)\.(?:o|dwo)$"
)


def test_every_generated_file_follows_the_naming_scheme(fx: Fx) -> None:
    names = sorted(p.name for p in fx.obj.iterdir())
    bad = [n for n in names if not NAME.match(n)]
    assert bad == []


def test_every_case_exists_in_both_trees(fx: Fx) -> None:
    for case in GEN.all_cases():
        for tree in ("short", "long"):
            assert fx.path(case, tree).stat().st_size > 0, (case, tree)
    assert len(GEN.matrix()) == 2 * 3 * 2 * 2 * 2


def test_trees_differ_only_in_location(fx: Fx) -> None:
    short = fx.root / GEN.TREES["short"] / "proj"
    long = fx.root / GEN.TREES["long"] / "proj"
    for rel in GEN.SOURCES:
        assert (short / rel).read_bytes() == (long / rel).read_bytes()
    assert len(fx.long) > len(fx.short)
