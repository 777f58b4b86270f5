"""The Mach-O backend: thin and fat files, 32/64-bit, either byte order; in place only.

Why in place only: in a Mach-O object the DWARF cross-section offsets (strp, line_strp,
``__debug_str_offs`` entries, stmt_list) and the ``__apple_*`` accelerator tables are
absolute values in the data, not relocations.  Rewriting without moving anything keeps
all of them valid: string tables are NUL-padded (``NEW + rest`` then NULs), inline
strings ('/'-padded) in ``__debug_line`` v2-4 headers and ``__debug_info``.  A longer new
prefix is an ``UnsupportedError`` until full (DIE-walking) support exists.

Vocabulary: a *slice* is one thin Mach-O image (a fat file holds several at offsets);
sections are named ``__debug_*`` in segment ``__DWARF``; Mach-O truncates names to 16
bytes (``__debug_str_offs``), so ``SECTION_NAMES`` maps them to ELF-style names.
"""

from __future__ import annotations

import struct

from objrewrite.dwarf import forms as F
from objrewrite.dwarf import line as L
from objrewrite.dwarf import paths as P
from objrewrite.dwarf.strtab import StrTab
from objrewrite.errors import FormatError, UnsupportedError
from objrewrite.prefixmap import PrefixMap
from objrewrite.report import Hit, PathEntry, RewriteReport
from objrewrite.splices import apply_edits

MH_MAGIC, MH_MAGIC_64, FAT_MAGIC, FAT_MAGIC_64 = 0xFEEDFACE, 0xFEEDFACF, 0xCAFEBABE, 0xCAFEBABF
MAGICS = (
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xca\xfe\xba\xbe",
    b"\xca\xfe\xba\xbf",
)
LC_SEGMENT, LC_SEGMENT_64 = 0x1, 0x19
S_ZEROFILL_TYPES = frozenset({0x1, 0xC, 0x12})


class MSection:
    __slots__ = ("name", "offset", "segname", "size")

    def __init__(self, segname: str, name: str, offset: int, size: int) -> None:
        self.segname, self.name, self.offset, self.size = segname, name, offset, size

    @property
    def canonical(self) -> str:
        return "." + self.name[2:] if self.name.startswith("__") else self.name


def _canonical(name: str) -> str:
    c = "." + name[2:] if name.startswith("__") else name
    return ".debug_str_offsets" if c == ".debug_str_offs" else c


class Slice:
    """One thin image: byte order and its sections (offsets relative to the file)."""

    def __init__(self, data: bytes, base: int) -> None:
        head = data[base : base + 4]
        if head in (b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"):
            e = "<"
        elif head in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf"):
            e = ">"
        else:
            raise FormatError(f"no Mach-O header at offset {base:#x}")
        self.le = e == "<"
        (magic,) = struct.unpack_from(e + "I", data, base)
        is64 = magic == MH_MAGIC_64
        hsize = 32 if is64 else 28
        if base + hsize > len(data):
            raise FormatError("truncated Mach-O header")
        _, _, _, _, ncmds, sizeofcmds, _ = struct.unpack_from(e + "7I", data, base)
        pos = base + hsize
        end = pos + sizeofcmds
        if end > len(data):
            raise FormatError("Mach-O load commands run past the end of the file")
        self.sections: list[MSection] = []
        for _ in range(ncmds):
            if pos + 8 > end:
                raise FormatError("truncated Mach-O load command")
            cmd, cmdsize = struct.unpack_from(e + "II", data, pos)
            if cmdsize < 8 or pos + cmdsize > end:
                raise FormatError("bad Mach-O load command size")
            if cmd in (LC_SEGMENT, LC_SEGMENT_64):
                seg64 = cmd == LC_SEGMENT_64
                nsects = struct.unpack_from(e + "I", data, pos + (64 if seg64 else 48))[0]
                spos = pos + (72 if seg64 else 56)
                ssize = 80 if seg64 else 68
                if spos + nsects * ssize > pos + cmdsize:
                    raise FormatError("Mach-O sections overrun their segment command")
                for k in range(nsects):
                    at = spos + k * ssize
                    sect = data[at : at + 16].rstrip(b"\x00").decode("latin-1")
                    seg = data[at + 16 : at + 32].rstrip(b"\x00").decode("latin-1")
                    if seg64:
                        _, size, offset, _, _, _, flags = struct.unpack_from(
                            e + "QQIIIII", data, at + 32
                        )
                    else:
                        _, size, offset, _, _, _, flags = struct.unpack_from(
                            e + "IIIIIII", data, at + 32
                        )
                    if (flags & 0xFF) in S_ZEROFILL_TYPES or size == 0:
                        continue
                    if base + offset + size > len(data):
                        raise FormatError(f"Mach-O section {sect} runs past the end of file")
                    self.sections.append(MSection(seg, sect, base + offset, size))
            pos += cmdsize

    def debug(self) -> list[MSection]:
        return [
            s
            for s in self.sections
            if s.name.startswith(("__debug", "__apple")) or s.segname == "__DWARF"
        ]


def slices(data: bytes) -> list[Slice]:
    if data[:4] in (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"):
        fat64 = data[3] == 0xBF
        (n,) = struct.unpack_from(">I", data, 4)
        if n == 0 or n > 64:
            raise FormatError("implausible fat Mach-O header (or a Java class file)")
        out = []
        for k in range(n):
            if fat64:
                _, _, off, _, _, _ = struct.unpack_from(">IIQQII", data, 8 + k * 32)
            else:
                _, _, off, _, _ = struct.unpack_from(">IIIII", data, 8 + k * 20)
            out.append(Slice(data, off))
        return out
    return [Slice(data, 0)]


class _View:
    def __init__(self, data: bytes, sl: Slice) -> None:
        self.data = data
        self.sl = sl
        self.le = sl.le

    def sections(self, name: str) -> list[tuple[str, bytes, F.Fixups | None]]:
        return [
            (s.name, self.data[s.offset : s.offset + s.size], None)
            for s in self.sl.debug()
            if _canonical(s.name) == name
        ]


def rewrite(data: bytes, pmap: PrefixMap) -> tuple[bytes, RewriteReport]:
    report = RewriteReport(format="mach-o")
    olds = pmap.olds()
    if not any(o in data for o in olds):
        slices(data)  # still validate the input
        return data, report
    out = bytearray(data)
    for sl in slices(data):
        view = _View(data, sl)
        for s in sl.debug():
            c = _canonical(s.name)
            body = data[s.offset : s.offset + s.size]
            if not any(o in body for o in olds):
                continue
            new: bytes | bytearray | None = None
            if c in (".debug_str", ".debug_line_str"):
                st = StrTab(body, pmap, in_place=True, name=s.name)
                if st.changed:
                    new = st.data()
            elif c == ".debug_line":
                units = L.parse_units(body, le=sl.le)
                edits = L.splice_edits(body, units, pmap, le=sl.le, in_place=True)
                if edits:
                    new = apply_edits(body, edits)
            elif c == ".debug_info":
                ab = view.sections(".debug_abbrev")
                if not ab:
                    raise FormatError("__debug_info without __debug_abbrev")
                edits = P.inline_string_edits(
                    body,
                    ab[0][1],
                    pmap,
                    le=sl.le,
                    fixups=None,
                    in_place=True,
                    can_splice=False,
                    is_types=False,
                )
                if edits:
                    new = apply_edits(body, edits)
            if new is not None:
                if len(new) != s.size:
                    raise UnsupportedError(f"{s.name}: size would change in a Mach-O file")
                out[s.offset : s.offset + s.size] = new
                report.rewritten += 1
    result = bytes(out)
    report.changed = result != data
    hits = scan(result, [o for o in olds if not any(o in n for _, n in pmap.pairs)])
    report.remaining = [h for h in hits if h.debug]
    report.data_hits = [h for h in hits if not h.debug]
    return result, report


def scan(data: bytes, olds: list[bytes]) -> list[Hit]:
    hits: list[Hit] = []
    if not olds or not any(o in data for o in olds):
        return hits
    for sl in slices(data):
        debug = {id(s) for s in sl.debug()}
        for s in sl.sections:
            b = data[s.offset : s.offset + s.size]
            for o in olds:
                pos = b.find(o)
                while pos >= 0:
                    end = pos + len(o)
                    if end >= len(b) or o.endswith(b"/") or b[end] in b"/\x00 \t\"':,;=":
                        lo = b.rfind(b"\x00", 0, pos) + 1
                        hi = b.find(b"\x00", pos)
                        hi = len(b) if hi < 0 else hi
                        text = b[lo:hi].decode("utf-8", "replace")
                        hits.append(Hit(f"{s.segname},{s.name}", pos, text, id(s) in debug))
                    pos = b.find(o, pos + 1)
    return hits


def list_paths(data: bytes) -> list[PathEntry]:
    out: list[PathEntry] = []
    for sl in slices(data):
        out += P.list_paths(_View(data, sl))
    return out
