"""Format-neutral DWARF path work: list path strings, rewrite inline ``DW_FORM_string``.

Both backends present their sections through a ``View``: ``sections(name)`` returns
``(section name, decompressed bytes, fixups or None)`` for every section with that
canonical (ELF-style) name, so Mach-O's ``__debug_str_offs`` is asked for as
``.debug_str_offsets``.  Nothing here knows about files, relocations or layouts.

Inline-string policy (``inline_string_edits``): a unit whose inline strings change is
*spliced* (strings at any length; ``unit_length`` and CU-relative references fixed) when
``can_splice`` and the unit has no location blocks (they may hold DIE offsets we do not
decode); otherwise each string is '/'-padded in place and growth is an error.
"""

from __future__ import annotations

from objrewrite.dwarf import forms as F
from objrewrite.dwarf import info as I
from objrewrite.dwarf import line as L
from objrewrite.errors import UnsupportedError
from objrewrite.prefixmap import PrefixMap, find_matches, rewrite_string
from objrewrite.report import PathEntry
from objrewrite.splices import Edit, OffsetMap

TYPE_CHECKING = False  # mypy treats this name as True; typing itself costs ~2 ms
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object

NAME_TABLES = (
    ".debug_names",
    ".debug_pubnames",
    ".debug_pubtypes",
    ".debug_gnu_pubnames",
    ".debug_gnu_pubtypes",
)
CU_TAGS = frozenset({0x11, 0x3C, 0x41, 0x4A})
_REF_SIZE = {F.REF1: 1, F.REF2: 2, F.REF4: 4, F.REF8: 8}


class View(Protocol):
    le: bool

    def sections(self, name: str) -> list[tuple[str, bytes, F.Fixups | None]]: ...


def inline_string_edits(
    p: bytes,
    abbrev_data: bytes,
    pmap: PrefixMap,
    *,
    le: bool,
    fixups: F.Fixups | None,
    in_place: bool,
    can_splice: bool,
    is_types: bool,
) -> list[Edit]:
    """Edits for the inline strings of one ``.debug_info``-like section."""
    order = F.byte_order(le)
    edits: list[Edit] = []
    cache: dict[int, I.Abbrevs] = {}
    for unit in I.iter_units(p, le=le, fixups=fixups, is_types=is_types):
        ab = cache.get(unit.abbrev_off)
        if ab is None:
            ab = cache[unit.abbrev_off] = I.parse_abbrevs(abbrev_data, unit.abbrev_off)
        strings: list[Edit] = []
        refs: list[I.Attr] = []
        blocks = False
        for a in I.walk(p, unit, ab, le=le, fixups=fixups, all_strings=True):
            if a.form == F.STRING:
                assert isinstance(a.value, bytes)
                new = rewrite_string(a.value, pmap)
                if new != a.value:
                    strings.append((a.pos, len(a.value), new))
            elif a.form in F.REF_FORMS:
                refs.append(a)
            else:
                blocks = True
        if not strings:
            continue
        splice = (
            can_splice
            and not in_place
            and not blocks
            and not is_types
            and unit.unit_type in (I.DW_UT_compile, I.DW_UT_partial, I.DW_UT_skeleton)
            and all(r.form != F.REF_UDATA for r in refs)
        )
        if not splice:
            for pos, olen, new in strings:
                old = bytes(p[pos : pos + olen])
                ms = find_matches(old, pmap)
                first_end = ms[0][0] + len(ms[0][2]) if ms else 0
                edits.append((pos, olen, L.pad_inline(old, new, first_end)))
            continue
        umap = OffsetMap(strings, ".debug_info")
        osz = unit.off_size
        len_field = unit.start + (4 if osz == 8 else 0)
        old_len = unit.end - (len_field + osz)
        uedits: list[Edit] = [(len_field, osz, (old_len + umap.delta).to_bytes(osz, order))]
        for r in refs:
            assert isinstance(r.value, int)
            size = _REF_SIZE[r.form]
            nv = umap.map(unit.start + r.value) - unit.start
            if nv != r.value:
                if nv >= 1 << (8 * size):
                    raise UnsupportedError(f"reference at {r.pos:#x} overflows its form")
                uedits.append((r.pos, size, nv.to_bytes(size, order)))
        edits += sorted(uedits + strings)
    return edits


def list_paths(view: View) -> list[PathEntry]:
    """Every path-valued string of the debug info, with its section and form."""
    out: list[PathEntry] = []
    order = F.byte_order(view.le)

    def cstr_at(name: str, off: int) -> str:
        for _n, p, _f in view.sections(name):
            chunk = bytes(p[off : off + 4096])
            end = chunk.find(b"\x00")
            return chunk[: end if end >= 0 else len(chunk)].decode("utf-8", "replace")
        return f"<no {name}>"

    for info_name in (".debug_info", ".debug_types", ".debug_info.dwo", ".debug_types.dwo"):
        dwo = info_name.endswith(".dwo")
        str_name = ".debug_str.dwo" if dwo else ".debug_str"
        abbrev = view.sections(".debug_abbrev.dwo" if dwo else ".debug_abbrev")
        if not abbrev:
            continue
        ab_data = abbrev[0][1]
        so = view.sections(".debug_str_offsets.dwo" if dwo else ".debug_str_offsets")
        so_data = so[0][1] if so else b""
        so_fix = (so[0][2] or {}) if so else {}
        want = frozenset([*F.PATH_ATTRS, F.AT_STR_OFFSETS_BASE])
        for sname, p, fix in view.sections(info_name):
            for unit in I.iter_units(
                p, le=view.le, fixups=fix, is_types=info_name.startswith(".debug_types")
            ):
                ab = I.parse_abbrevs(ab_data, unit.abbrev_off)
                base = 8 if unit.version >= 5 and dwo else 0
                found: list[I.Attr] = []
                for a in I.walk(p, unit, ab, le=view.le, fixups=fix, want=want):
                    if a.at == F.AT_STR_OFFSETS_BASE:
                        assert isinstance(a.value, int)
                        base = a.value  # may follow the strx attributes that need it
                    elif a.at != F.AT_NAME or a.tag in CU_TAGS:
                        found.append(a)
                for a in found:
                    holder = F.PATH_ATTRS.get(a.at, hex(a.at))
                    form_name = F.FORM_NAMES.get(a.form, hex(a.form))
                    if isinstance(a.value, bytes):
                        text = a.value.decode("utf-8", "replace")
                    elif a.form == F.LINE_STRP:
                        text = cstr_at(".debug_line_str", a.value)
                    elif a.form == F.STRP:
                        text = cstr_at(str_name, a.value)
                    elif a.form in F.STRX_FORMS:
                        at = base + a.value * unit.off_size
                        raw = int.from_bytes(bytes(so_data[at : at + unit.off_size]), order)
                        text = cstr_at(str_name, so_fix.get(at, raw))
                    else:
                        continue
                    out.append(PathEntry(sname, form_name, holder, text))
    for line_name in (".debug_line", ".debug_line.dwo"):
        for sname, p, fix in view.sections(line_name):
            for u in L.parse_units(p, le=view.le, fixups=fix):
                for _pos, sv, kind in u.inline:
                    out.append(
                        PathEntry(
                            sname,
                            "inline",
                            f"line {kind} (v{u.version})",
                            sv.decode("utf-8", "replace"),
                        )
                    )
                for _pos, form, value, kind in u.refs:
                    tab = ".debug_line_str" if form == F.LINE_STRP else ".debug_str"
                    out.append(
                        PathEntry(
                            sname,
                            F.FORM_NAMES[form],
                            f"line {kind} (v{u.version})",
                            cstr_at(tab, value),
                        )
                    )
    return out
