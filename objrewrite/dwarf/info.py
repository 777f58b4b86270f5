"""A DIE walker for ``.debug_info``/``.debug_types`` (DWARF 2-5, 32/64-bit DWARF).

objrewrite only walks DIEs when it must: to list path attributes (``--list``) and to
rewrite inline ``DW_FORM_string`` values (clang's assembler CUs store ``DW_AT_comp_dir``
inline).  String tables are never found this way on the fast path.

Vocabulary:
- ``Unit``: one unit header (compile, type, skeleton, split) and the range of its DIEs.
- ``Attr``: one attribute occurrence: DIE offset, attribute, form, position of the value
  in the section, and the value (int, or bytes for ``DW_FORM_string``).
- *fixups*: see ``forms``; relocated values of offset fields in ET_REL objects.
Unit and abbreviation headers are validated; any inconsistency is a ``FormatError``.
"""

from __future__ import annotations

from objrewrite.dwarf import forms as F
from objrewrite.errors import FormatError

TYPE_CHECKING = False  # mypy treats this name as True; typing itself costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Iterator

Abbrevs = dict[int, tuple[int, bool, list[tuple[int, int, int]]]]

DW_UT_compile, DW_UT_type, DW_UT_partial, DW_UT_skeleton = 1, 2, 3, 4
DW_UT_split_compile, DW_UT_split_type = 5, 6


def parse_abbrevs(data: bytes | bytearray, offset: int) -> Abbrevs:
    r = F.Reader(data, offset)
    out: Abbrevs = {}
    while True:
        code = r.uleb()
        if code == 0:
            return out
        tag = r.uleb()
        children = r.u8() != 0
        attrs = []
        while True:
            at, form = r.uleb(), r.uleb()
            if at == 0 and form == 0:
                break
            const = r.sleb() if form == F.IMPLICIT_CONST else 0
            attrs.append((at, form, const))
        out[code] = (tag, children, attrs)


class Unit:
    __slots__ = (
        "abbrev_off",
        "addr_size",
        "die_start",
        "end",
        "off_size",
        "start",
        "unit_type",
        "version",
    )

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = self.die_start = self.abbrev_off = 0
        self.version = self.unit_type = self.addr_size = 0
        self.off_size = 4


def iter_units(
    data: bytes | bytearray, *, le: bool, fixups: F.Fixups | None = None, is_types: bool = False
) -> Iterator[Unit]:
    pos = 0
    while pos < len(data):
        u = Unit(pos)
        r = F.Reader(data, pos, le=le, fixups=fixups)
        length, u.off_size = r.unit_length()
        u.end = r.pos + length
        if u.end > len(data):
            raise FormatError(f"unit at {pos:#x} runs past the end of its section")
        u.version = r.uint(2)
        if not 2 <= u.version <= 5:
            raise FormatError(f"unsupported DWARF unit version {u.version} at {pos:#x}")
        if u.version >= 5:
            u.unit_type = r.u8()
            u.addr_size = r.u8()
            u.abbrev_off = r.offset(u.off_size)
            if u.unit_type in (DW_UT_skeleton, DW_UT_split_compile):
                r.pos += 8
            elif u.unit_type in (DW_UT_type, DW_UT_split_type):
                r.pos += 8 + u.off_size
        else:
            u.unit_type = DW_UT_type if is_types else DW_UT_compile
            u.abbrev_off = r.offset(u.off_size)
            u.addr_size = r.u8()
            if is_types:
                r.pos += 8 + u.off_size
        u.die_start = r.pos
        yield u
        pos = u.end


class Attr:
    __slots__ = ("at", "die", "form", "pos", "tag", "value")

    def __init__(
        self, die: int, tag: int, at: int, form: int, pos: int, value: int | bytes
    ) -> None:
        self.die, self.tag, self.at, self.form, self.pos, self.value = (
            die,
            tag,
            at,
            form,
            pos,
            value,
        )


_INT_FORMS = {
    F.STRP: 0,
    F.LINE_STRP: 0,
    F.SEC_OFFSET: 0,
    F.STRX1: 1,
    F.STRX2: 2,
    F.STRX3: 3,
    F.STRX4: 4,
}


def walk(
    data: bytes | bytearray,
    unit: Unit,
    abbrevs: Abbrevs,
    *,
    le: bool,
    fixups: F.Fixups | None = None,
    want: frozenset[int] | None = None,
    all_strings: bool = False,
) -> Iterator[Attr]:
    """Yield the attributes of ``unit`` whose attribute is in ``want`` (or every inline
    string with ``all_strings``), with their values decoded where cheap.  Also yields
    every reference-form and block-form attribute when ``want`` is None and
    ``all_strings`` is set (the splicer needs them)."""
    r = F.Reader(data, unit.die_start, le=le, fixups=fixups, end=unit.end)
    asz, osz, ver = unit.addr_size, unit.off_size, unit.version
    order = F.byte_order(le)
    while r.pos < unit.end:
        die = r.pos
        code = r.uleb()
        if code == 0:
            continue
        ab = abbrevs.get(code)
        if ab is None:
            raise FormatError(f"DIE at {die:#x} uses unknown abbreviation {code}")
        tag, _children, attrs = ab
        for at, form, _const in attrs:
            while form == F.INDIRECT:
                form = r.uleb()
            pos = r.pos
            if form == F.STRING:
                s = r.cstr()
                if all_strings or (want is not None and at in want):
                    yield Attr(die, tag, at, form, pos, s)
                continue
            interesting = (want is not None and at in want) or (
                all_strings and want is None and (form in F.REF_FORMS or form in _BLOCKS)
            )
            if not interesting:
                F.skip_form(r, form, asz, osz, ver)
                continue
            if form in (F.STRP, F.LINE_STRP, F.SEC_OFFSET):
                value: int | bytes = r.offset(osz)
            elif form in (F.STRX, F.GNU_STR_INDEX, F.UDATA, F.REF_UDATA):
                value = r.uleb()
            elif form in (
                F.STRX1,
                F.STRX2,
                F.STRX3,
                F.STRX4,
                F.REF1,
                F.REF2,
                F.REF4,
                F.REF8,
                F.DATA1,
                F.DATA2,
                F.DATA4,
                F.DATA8,
            ):
                n = {
                    F.STRX1: 1,
                    F.STRX2: 2,
                    F.STRX3: 3,
                    F.STRX4: 4,
                    F.REF1: 1,
                    F.REF2: 2,
                    F.REF4: 4,
                    F.REF8: 8,
                    F.DATA1: 1,
                    F.DATA2: 2,
                    F.DATA4: 4,
                    F.DATA8: 8,
                }[form]
                value = int.from_bytes(data[r.pos : r.pos + n], order)
                r.pos += n
            else:
                F.skip_form(r, form, asz, osz, ver)
                value = 0
            yield Attr(die, tag, at, form, pos, value)


_BLOCKS = frozenset({F.EXPRLOC, F.BLOCK, F.BLOCK1, F.BLOCK2, F.BLOCK4})
