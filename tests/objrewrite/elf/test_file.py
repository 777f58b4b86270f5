"""ELF layout: an unedited rebuild is byte-identical for every generated object."""

from __future__ import annotations

import pytest

from objrewrite.elf.file import ElfFile
from objrewrite.errors import FormatError
from tests.objrewrite.conftest import Fx


def test_rebuild_without_edits_is_identity(fx: Fx) -> None:
    count = 0
    for p in sorted(fx.obj.iterdir()):
        data = p.read_bytes()
        if not data.startswith(b"\x7fELF"):
            continue
        assert ElfFile(data).build({}) == data, p.name
        count += 1
    assert count > 100


def test_grown_section_moves_the_rest(fx: Fx) -> None:
    data = fx.path("gcc-dwarf4-g-rel", "short").read_bytes()
    elf = ElfFile(data)
    idx = elf.by_name(".comment")[0].index
    new = ElfFile(elf.build({idx: bytes(elf.sections[idx].raw) + b"extra\x00"}))
    assert bytes(new.sections[idx].raw).endswith(b"extra\x00")
    for a, b in zip(elf.sections, new.sections, strict=True):
        assert a.name == b.name
        if a.index != idx and a.type != 8:
            assert bytes(a.raw) == bytes(b.raw)


def test_bad_headers() -> None:
    with pytest.raises(FormatError):
        ElfFile(b"\x7fELF" + b"\x00" * 60)
    with pytest.raises(FormatError):
        ElfFile(b"MZ" + b"\x00" * 100)
