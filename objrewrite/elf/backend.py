"""The ELF backend: list, scan and rewrite the paths in an ELF object's debug info.

Algorithm for a relocatable object (``ET_REL``; the fast path, no DIE walk):
1. decompress the ``SHF_COMPRESSED`` debug sections that contain or may contain paths;
2. rebuild ``.debug_str``/``.debug_line_str`` (``dwarf.strtab``) at any length;
3. splice the v2-4 ``.debug_line`` headers (``dwarf.line``);
4. rewrite inline ``DW_FORM_string`` values (``dwarf.info`` walk, only when a prefix
   occurs in ``.debug_info``): spliced when the unit has no location blocks, padded with
   '/' otherwise;
5. remap relocations (``relocations``), and ``.debug_str_offsets`` entries that have no
   relocations (``.dwo`` files);
6. recompress what changed and re-lay out the file (``file``).
Compressed sections are ``SHF_COMPRESSED`` ones and legacy ``.zdebug_*`` ones, which are
looked up under their ``.debug_*`` name (``canonical``).
Linked files (``ET_EXEC``/``ET_DYN``) are edited in place: string tables NUL-padded,
inline strings '/'-padded; a longer path is an ``UnsupportedError``.

Invariant: when no prefix occurs anywhere (and nothing is compressed), the input bytes
are returned as they are.
"""

from __future__ import annotations

from bisect import bisect_right

from objrewrite.dwarf import forms as F
from objrewrite.dwarf import line as L
from objrewrite.dwarf.strtab import StrTab
from objrewrite.elf import compression as Z
from objrewrite.elf.file import (
    SHF_COMPRESSED,
    SHT_NOBITS,
    SHT_REL,
    SHT_RELA,
    Buffers,
    ElfFile,
    Section,
)
from objrewrite.elf.relocations import fixups_for, remap
from objrewrite.errors import UnsupportedError
from objrewrite.prefixmap import PrefixMap
from objrewrite.report import Hit, PathEntry, RewriteReport
from objrewrite.splices import OffsetMap, apply_edits

TYPE_CHECKING = False  # mypy treats this name as True; typing itself costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Iterable

STRTABS = frozenset({".debug_str", ".debug_line_str", ".debug_str.dwo", ".debug_line_str.dwo"})
LINES = frozenset({".debug_line", ".debug_line.dwo"})
INFOS = frozenset({".debug_info", ".debug_types", ".debug_info.dwo", ".debug_types.dwo"})
STR_OFFSETS = frozenset({".debug_str_offsets", ".debug_str_offsets.dwo"})

MAGIC = b"\x7fELF"


def canonical(name: str) -> str:
    """``.zdebug_x`` (legacy compressed) names the same data as ``.debug_x``."""
    return ".debug" + name[7:] if name.startswith(".zdebug") else name


def is_debug(s: Section) -> bool:
    return s.name.startswith((".debug", ".zdebug")) and s.type != SHT_NOBITS


class _Obj:
    """An ``ElfFile`` plus a cache of decompressed section contents."""

    def __init__(self, data: bytes) -> None:
        self.elf = ElfFile(data)
        self._plain: dict[int, bytes] = {}
        self.comp: dict[int, Z.Compressed] = {}
        comment = self.named([".comment"])
        self.llvm = bool(comment) and b"clang" in bytes(comment[0].raw)

    def plain(self, s: Section) -> bytes:
        got = self._plain.get(s.index)
        if got is None:
            if s.flags & SHF_COMPRESSED:
                c = Z.decompress(s.raw, self.elf.is64, self.elf.endian)
                self.comp[s.index] = c
                got = c.plain
            elif s.name.startswith(".zdebug"):
                c = Z.decompress_gnu(s.raw)
                self.comp[s.index] = c
                got = c.plain
            else:
                got = bytes(s.raw)
            self._plain[s.index] = got
        return got

    def contains(self, s: Section, olds: list[bytes]) -> bool:
        """Whether a prefix occurs in ``s`` (searched in place unless compressed)."""
        if s.index in self._plain or s.flags & SHF_COMPRESSED or s.name.startswith(".zdebug"):
            return _contains(self.plain(s), olds)
        data, lo, hi = self.elf.data, s.offset, s.offset + s.size
        return any(data.find(o, lo, hi) >= 0 for o in olds)

    def named(self, names: Iterable[str]) -> list[Section]:
        want = set(names)
        return [s for s in self.elf.sections if canonical(s.name) in want and s.type != SHT_NOBITS]

    def has_relocs_for(self, idx: int) -> bool:
        return any(
            s.type in (SHT_REL, SHT_RELA) and s.info == idx and s.size for s in self.elf.sections
        )


def _contains(data: bytes, olds: list[bytes]) -> bool:
    return any(o in data for o in olds)


def rewrite(data: bytes, pmap: PrefixMap) -> tuple[bytes, RewriteReport]:
    out, report = rewrite_parts(data, pmap)
    return (out if isinstance(out, bytes) else b"".join(out)), report


def rewrite_parts(data: bytes, pmap: PrefixMap) -> tuple[Buffers, RewriteReport]:
    """``rewrite``, with the result as buffers to write in order (or ``data`` itself)."""
    report = RewriteReport(format="elf")
    obj = _Obj(data)
    elf = obj.elf
    olds = pmap.olds()
    debug = [s for s in elf.sections if is_debug(s)]
    packed = any(s.flags & SHF_COMPRESSED or s.name.startswith(".zdebug") for s in debug)
    if not packed and not any(o in data for o in olds):
        return data, report
    in_place = elf.linked
    new_plain: dict[int, bytes | bytearray] = {}
    maps: dict[int, OffsetMap] = {}
    strtabs: dict[int, StrTab] = {}
    for s in obj.named(STRTABS):
        if not obj.contains(s, olds):
            continue
        p = obj.plain(s)
        st = StrTab(p, pmap, in_place=in_place, name=s.name)
        if st.changed:
            strtabs[s.index] = st
            report.rewritten += 1
            if not st.map.identity:
                maps[s.index] = st.map
    for s in obj.named(LINES):
        if not obj.contains(s, olds):
            continue
        p = obj.plain(s)
        units = L.parse_units(p, le=elf.le)
        edits = L.splice_edits(p, units, pmap, le=elf.le, in_place=in_place)
        if edits:
            report.rewritten += len(edits)
            new_plain[s.index] = apply_edits(p, edits)
            om = OffsetMap(edits, s.name)
            if not om.identity:
                maps[s.index] = om
    for s in obj.named(INFOS):
        if not obj.contains(s, olds):
            continue
        p = obj.plain(s)
        from objrewrite.dwarf import paths as P  # only when a prefix is in .debug_info

        abbrev_name = ".debug_abbrev.dwo" if s.name.endswith(".dwo") else ".debug_abbrev"
        abbrev_secs = obj.named([abbrev_name])
        if not abbrev_secs:
            raise UnsupportedError(f"{s.name} without {abbrev_name}")
        edits = P.inline_string_edits(
            p,
            obj.plain(abbrev_secs[0]),
            pmap,
            le=elf.le,
            fixups=None if elf.linked else fixups_for(elf, s.index),
            in_place=in_place,
            can_splice=not in_place and not obj.named(P.NAME_TABLES),
            is_types=s.name.startswith(".debug_types"),
        )
        if edits:
            report.rewritten += len(edits)
            new_plain[s.index] = apply_edits(p, edits)
            om = OffsetMap(edits, s.name)
            if not om.identity:
                maps[s.index] = om
    # Relocations first: they may append tails to string tables.
    changed_other = remap(elf, maps, new_plain, obj.plain)
    for idx, st in strtabs.items():
        new_plain[idx] = st.data()
    _patch_str_offsets(obj, strtabs, new_plain)
    contents: dict[int, bytes | bytearray] = {}
    headers: dict[int, dict[str, int]] = {}
    gz = next((c for c in obj.comp.values() if c.ctype == Z.ELFCOMPRESS_ZLIB), None)
    if gz is None and any(s.flags & SHF_COMPRESSED for s in debug):
        gz = Z.decompress(
            next(s for s in debug if s.flags & SHF_COMPRESSED).raw, elf.is64, elf.endian
        )
    for idx, body in new_plain.items():
        contents[idx], hdr = _encode(obj, elf.sections[idx], body, gz)
        if hdr:
            headers[idx] = hdr
    for idx, body in changed_other.items():
        if idx not in new_plain:
            contents[idx] = body
    out: Buffers = data
    if contents:
        out = elf.build_parts(contents, headers)
        report.changed = any(
            getattr(elf.sections[idx], k) != v for idx, h in headers.items() for k, v in h.items()
        ) or any(body != elf.sections[idx].raw for idx, body in contents.items())
        if not report.changed:
            out = data
    hits = _scan_obj(
        obj, [o for o in olds if not any(o in n for _, n in pmap.pairs)], new_plain, data
    )
    report.remaining = [h for h in hits if h.debug]
    report.data_hits = [h for h in hits if not h.debug]
    return out, report


def _encode(
    obj: _Obj, s: Section, plain: bytes | bytearray, gz: Z.Compressed | None
) -> tuple[bytes | bytearray, dict[str, int]]:
    """The file bytes of an edited section, and header fields to change.

    An object built with ``-gz`` compresses a debug section only when that makes it
    smaller (gas and LLVM agree), so an edited section follows the same rule: this is
    what keeps a rewritten ``-gz`` object identical to a local compile.
    """
    elf = obj.elf
    c = obj.comp.get(s.index)
    if c is None and (gz is None or elf.linked or not is_debug(s)):
        return plain, {}
    if c is not None and (elf.linked or c.ctype == Z.GNU_ZLIB):
        return Z.compress(c, plain, elf.is64, elf.endian), {}
    if c is None:
        assert gz is not None
        c = Z.Compressed(gz.ctype, s.addralign, b"", gz.level)
    packed = Z.compress(c, plain, elf.is64, elf.endian)
    if obj.llvm:
        # LLVM 14 compares against the *other* class's header size (12 for ELF64).
        smaller = len(plain) > len(packed) - (24 if elf.is64 else 12) + (12 if elf.is64 else 24)
    else:
        smaller = len(packed) < len(plain)
    if smaller:
        return packed, {"flags": s.flags | SHF_COMPRESSED, "addralign": 8 if elf.is64 else 4}
    return plain, {"flags": s.flags & ~SHF_COMPRESSED, "addralign": c.addralign}


def _patch_str_offsets(
    obj: _Obj, strtabs: dict[int, StrTab], new_plain: dict[int, bytes | bytearray]
) -> None:
    """Patch unrelocated ``.debug_str_offsets`` entries (``.dwo``) through the new map."""
    elf = obj.elf
    order = F.byte_order(elf.le)
    for s in obj.named(STR_OFFSETS):
        if obj.has_relocs_for(s.index):
            continue
        want = ".debug_str.dwo" if s.name.endswith(".dwo") else ".debug_str"
        tabs = [strtabs[t.index] for t in obj.named([want]) if t.index in strtabs]
        if not tabs or tabs[0].map.identity:
            continue
        m = tabs[0].map
        p = bytearray(obj.plain(s))
        for start, end, size in _str_offsets_ranges(p, order):
            vals = [int.from_bytes(p[i : i + size], order) for i in range(start, end, size)]
            for i, v in zip(range(start, end, size), m.map_many(vals), strict=True):
                p[i : i + size] = v.to_bytes(size, order)
        new_plain[s.index] = p


def _str_offsets_ranges(p: bytearray, order: F.Order) -> list[tuple[int, int, int]]:
    """(start, end, entry size) of the entry arrays: v5 units, or one headerless array."""
    out: list[tuple[int, int, int]] = []
    pos = 0
    while pos + 8 <= len(p):
        n = int.from_bytes(p[pos : pos + 4], order)
        size, hdr = 4, 8
        if n == 0xFFFFFFFF:
            n = int.from_bytes(p[pos + 4 : pos + 12], order)
            size, hdr = 8, 16
        ver_at = pos + hdr - 4
        ver = int.from_bytes(p[ver_at : ver_at + 2], order)
        end = pos + hdr - 4 + n
        if ver != 5 or end > len(p) or (n - 4) % size:
            return out or [(0, len(p) - len(p) % 4, 4)]
        out.append((pos + hdr, end, size))
        pos = end
    return out if out or not p else [(0, len(p) - len(p) % 4, 4)]


def scan(data: bytes, olds: list[bytes]) -> list[Hit]:
    """Every occurrence of each prefix (at a path boundary) in every section."""
    if not olds:
        return []
    return _scan_obj(_Obj(data), olds, {}, data)


def _scan_obj(
    obj: _Obj, olds: list[bytes], replaced: dict[int, bytes | bytearray], data: bytes
) -> list[Hit]:
    """``scan`` over ``obj`` (whose file bytes are ``data``) with some sections'
    decompressed contents ``replaced`` by new ones.

    Sections that are neither replaced nor compressed are the same bytes in ``data``:
    one ``find`` over the whole file locates their hits, so a clean rewrite costs
    almost nothing to check.
    """
    if not olds:
        return []
    secs = [s for s in obj.elf.sections[1:] if s.type != SHT_NOBITS and s.size]
    special = [
        s
        for s in secs
        if s.index in replaced or s.flags & SHF_COMPRESSED or s.name.startswith(".zdebug")
    ]
    special_ids = {s.index for s in special}
    plain = sorted((s.offset, s.offset + s.size, s) for s in secs if s.index not in special_ids)
    starts = [t[0] for t in plain]
    hits: list[Hit] = []
    found: dict[int, Section] = {}
    for o in olds:
        pos = data.find(o)
        while pos >= 0:
            k = bisect_right(starts, pos) - 1
            if k >= 0 and pos < plain[k][1]:
                found[plain[k][2].index] = plain[k][2]
            pos = data.find(o, pos + 1)
    for s in sorted(found.values(), key=lambda x: x.index) + special:
        got = replaced.get(s.index)
        hits += _scan_section(s, bytes(got if got is not None else obj.plain(s)), olds)
    hits.sort(key=lambda h: (obj.elf.by_name(h.section)[0].index, h.offset))
    return hits


def _scan_section(s: Section, b: bytes, olds: list[bytes]) -> list[Hit]:
    hits = []
    for o in olds:
        pos = b.find(o)
        while pos >= 0:
            end = pos + len(o)
            if end >= len(b) or o.endswith(b"/") or b[end] in b"/\x00 \t\"':,;=":
                lo = b.rfind(b"\x00", 0, pos) + 1
                hi = b.find(b"\x00", pos)
                hi = len(b) if hi < 0 else hi
                text = b[max(lo, pos - 200) : min(hi, pos + 400)].decode("utf-8", "replace")
                hits.append(Hit(s.name, pos, text, is_debug(s)))
            pos = b.find(o, pos + 1)
    return hits


def list_paths(data: bytes) -> list[PathEntry]:
    from objrewrite.dwarf import paths as P

    obj = _Obj(data)
    return P.list_paths(_View(obj))


class _View:
    """The sections of an ELF object as ``dwarf.paths`` sees them."""

    def __init__(self, obj: _Obj) -> None:
        self.obj = obj
        self.le = obj.elf.le

    def sections(self, name: str) -> list[tuple[str, bytes, F.Fixups | None]]:
        elf = self.obj.elf
        return [
            (s.name, self.obj.plain(s), None if elf.linked else fixups_for(elf, s.index))
            for s in self.obj.named([name])
        ]
