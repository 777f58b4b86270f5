"""``.debug_line`` unit headers (DWARF 2-5): where the path strings of a line table are.

A line-table unit is ``unit_length | version | [v5: address_size, seg_sel_size] |
header_length | fixed fields | standard_opcode_lengths | directories | files`` followed by
the line program.  v2-4 keep directories and files as inline NUL-terminated strings; v5
describes each entry by (content type, form) pairs, so a path may be inline
(``DW_FORM_string``) or an offset into ``.debug_line_str``/``.debug_str``.

``parse_units`` finds, for each unit, the fields whose values objrewrite may change:
``LineUnit.inline`` (position and bytes of inline path strings) and ``LineUnit.refs``
(offset-valued path entries, for listing).  ``splice_edits`` turns a prefix map into the
edits that rewrite the inline strings and fix ``unit_length``/``header_length``; the line
program itself is never touched, so only offsets after the header move.
"""

from __future__ import annotations

from objrewrite.dwarf import forms as F
from objrewrite.errors import FormatError, UnsupportedError
from objrewrite.prefixmap import PrefixMap, find_matches
from objrewrite.splices import Edit


class LineUnit:
    """One parsed line-table header."""

    __slots__ = ("end", "hdr_len_pos", "inline", "off_size", "refs", "start", "version")

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = 0
        self.version = 0
        self.off_size = 4
        self.hdr_len_pos = 0
        # (position, string, "dir"|"file")
        self.inline: list[tuple[int, bytes, str]] = []
        # (field position, form, value, "dir"|"file")
        self.refs: list[tuple[int, int, int, str]] = []


def parse_units(
    data: bytes | bytearray, *, le: bool, fixups: F.Fixups | None = None, addr_size: int = 8
) -> list[LineUnit]:
    units = []
    pos = 0
    while pos < len(data):
        units.append(_parse_unit(data, pos, le, fixups, addr_size))
        pos = units[-1].end
    return units


def _parse_unit(
    data: bytes | bytearray, start: int, le: bool, fixups: F.Fixups | None, addr_size: int
) -> LineUnit:
    u = LineUnit(start)
    r = F.Reader(data, start, le=le, fixups=fixups)
    length, u.off_size = r.unit_length()
    u.end = r.pos + length
    if u.end > len(data):
        raise FormatError(f".debug_line unit at {start:#x} runs past the section end")
    r.end = u.end
    u.version = r.uint(2)
    if not 2 <= u.version <= 5:
        raise UnsupportedError(f".debug_line version {u.version} at {start:#x}")
    if u.version >= 5:
        addr_size = r.u8()
        r.u8()  # segment selector size
    u.hdr_len_pos = r.pos
    hdr_len = r.uint(u.off_size)
    hdr_end = r.pos + hdr_len
    r.pos += 1  # minimum_instruction_length
    if u.version >= 4:
        r.pos += 1  # maximum_operations_per_instruction
    r.pos += 3  # default_is_stmt, line_base, line_range
    opcode_base = r.u8()
    r.pos += max(opcode_base - 1, 0)
    if u.version < 5:
        while r.data[r.pos] != 0:
            p = r.pos
            u.inline.append((p, r.cstr(), "dir"))
        r.pos += 1
        while r.data[r.pos] != 0:
            p = r.pos
            u.inline.append((p, r.cstr(), "file"))
            r.uleb()
            r.uleb()
            r.uleb()
        r.pos += 1
    else:
        for kind in ("dir", "file"):
            nfmt = r.u8()
            fmts = [(r.uleb(), r.uleb()) for _ in range(nfmt)]
            count = r.uleb()
            for _ in range(count):
                for ctype, form in fmts:
                    if ctype == F.LNCT_PATH and form == F.STRING:
                        p = r.pos
                        u.inline.append((p, r.cstr(), kind))
                    elif ctype == F.LNCT_PATH and form in (F.STRP, F.LINE_STRP):
                        p = r.pos
                        u.refs.append((p, form, r.offset(u.off_size), kind))
                    elif ctype == F.LNCT_PATH and form in F.STRX_FORMS:
                        raise UnsupportedError("strx path forms in .debug_line")
                    else:
                        F.skip_form(r, form, addr_size, u.off_size, u.version)
    if r.pos > hdr_end:
        raise FormatError(f".debug_line header at {start:#x} overruns header_length")
    return u


def pad_inline(old: bytes, new: bytes, junction: int) -> bytes:
    """``new`` padded with '/' to ``len(old)`` at ``junction`` (where the replaced prefix
    ends in ``new``), the way debugedit pads: ``/new//////rest``.

    When the prefix was replaced by nothing (``junction`` 0) the padding goes after the
    first component of what is left, so the result never starts with ``//``.
    """
    pad = len(old) - len(new)
    if pad < 0:
        raise UnsupportedError(
            f"path {old.decode(errors='replace')!r} cannot grow in place "
            f"(to {new.decode(errors='replace')!r})"
        )
    at = junction
    if at == 0:
        slash = new.find(b"/", 1)
        at = slash if slash > 0 else len(new)
    return new[:at] + b"/" * pad + new[at:]


def string_edits(
    data: bytes | bytearray, pos: int, s: bytes, pmap: PrefixMap, in_place: bool
) -> list[Edit]:
    """Edits rewriting the inline string ``s`` at ``pos`` (prefix matches at its start)."""
    ms = find_matches(s, pmap, starts_only=True)
    if not ms:
        return []
    _, olen, new = ms[0]
    if not in_place:
        return [(pos, olen, new)]
    repl = new + s[olen:]
    return [(pos, len(s), pad_inline(s, repl, len(new)))]


def splice_edits(
    data: bytes | bytearray, units: list[LineUnit], pmap: PrefixMap, *, le: bool, in_place: bool
) -> list[Edit]:
    """Edits for every unit's inline paths, plus the length fields they change."""
    order = F.byte_order(le)
    edits: list[Edit] = []
    for u in units:
        sedits: list[Edit] = []
        for pos, s, _kind in u.inline:
            sedits += string_edits(data, pos, s, pmap, in_place)
        if not sedits:
            continue
        delta = sum(len(n) - ol for _, ol, n in sedits)
        if delta:
            len_field = u.start + (4 if u.off_size == 8 else 0)
            old_len = int.from_bytes(data[len_field : len_field + u.off_size], order)
            old_hdr = int.from_bytes(data[u.hdr_len_pos : u.hdr_len_pos + u.off_size], order)
            limit = 1 << (8 * u.off_size)
            if old_len + delta >= (limit if u.off_size == 8 else 0xFFFFFFF0):
                raise UnsupportedError(".debug_line unit would overflow 32-bit DWARF")
            edits.append((len_field, u.off_size, (old_len + delta).to_bytes(u.off_size, order)))
            edits.append((u.hdr_len_pos, u.off_size, (old_hdr + delta).to_bytes(u.off_size, order)))
        edits += sedits
    return edits
