"""Relocation sections (``SHT_REL``/``SHT_RELA``) and the symbol table, remapped after edits.

Why this is enough for ET_REL objects: every cross-section DWARF offset in a relocatable
object (strp, line_strp, ``.debug_str_offsets`` entries, stmt_list, macro strp...) is a
relocation against the *section symbol* of the target section, with the offset in the
addend (RELA) or in the field itself (REL).  When a section's contents are spliced, two
things move and ``remap`` fixes both:

- the *places* (``r_offset``) of relocations that apply to the spliced section;
- the *targets*: for a symbol defined in a spliced section,
  ``addend' = map(st_value + addend) - map(st_value)``; a non-section symbol defined there
  also gets ``st_value' = map(st_value)``.

Vocabulary: ``maps`` is ``{section index: OffsetMap}`` for the spliced sections.  REL
addends are read from and written to the *new* contents of the section they apply to, with
the field size given by ``REL_SIZES`` (machine, type); an unknown type on a relocation that
needs remapping is an ``UnsupportedError``, never a guess.
"""

from __future__ import annotations

import struct
import sys
from itertools import compress

from objrewrite.dwarf.forms import byte_order
from objrewrite.elf.file import SHT_REL, SHT_RELA, SHT_SYMTAB, ElfFile, Section
from objrewrite.errors import FormatError, UnsupportedError
from objrewrite.splices import OffsetMap

TYPE_CHECKING = False  # mypy treats this name as True; typing itself costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Literal

EM_386, EM_MIPS, EM_ARM = 3, 8, 40
# (machine, type) -> size in bytes of the field holding a REL addend.
REL_SIZES = {
    (EM_386, 1): 4,  # R_386_32
    (EM_ARM, 2): 4,  # R_ARM_ABS32
    (EM_ARM, 38): 4,  # R_ARM_TARGET1
    (EM_MIPS, 2): 4,  # R_MIPS_32
    (EM_MIPS, 18): 8,  # R_MIPS_64
}
SHN_LORESERVE, SHN_XINDEX = 0xFF00, 0xFFFF


class Symbols:
    """The symbol table: value and defining section of each symbol."""

    def __init__(self, elf: ElfFile, symtab: Section) -> None:
        self.section = symtab
        self.fmt = elf.endian + ("IBBHQQ" if elf.is64 else "IIIBBH")
        self.size = struct.calcsize(self.fmt)
        raw = symtab.raw
        if len(raw) % self.size:
            raise FormatError("symbol table size is not a multiple of its entry size")
        xindex = None
        for s in elf.sections:
            if s.type == 18 and s.link == symtab.index:  # SHT_SYMTAB_SHNDX
                xindex = struct.unpack(f"{elf.endian}{len(s.raw) // 4}I", s.raw)
        self.values: list[int] = []
        self.shndx: list[int] = []
        for i, f in enumerate(struct.iter_unpack(self.fmt, raw)):
            if elf.is64:
                value, shndx = f[4], f[3]
            else:
                value, shndx = f[1], f[5]
            if shndx == SHN_XINDEX and xindex is not None:
                shndx = xindex[i]
            elif shndx >= SHN_LORESERVE:
                shndx = -1
            self.values.append(value)
            self.shndx.append(shndx)
        self.is64 = elf.is64

    def rewritten(self, maps: dict[int, OffsetMap]) -> bytes | None:
        """New symtab bytes if a symbol's value moved, else None."""
        out = None
        for i, (v, sh) in enumerate(zip(self.values, self.shndx, strict=True)):
            m = maps.get(sh)
            if m is None or v == 0:
                continue
            nv = m.map(v)
            if nv != v:
                if out is None:
                    out = bytearray(self.section.raw)
                f = list(struct.unpack_from(self.fmt, out, i * self.size))
                f[4 if self.is64 else 1] = nv
                struct.pack_into(self.fmt, out, i * self.size, *f)
        return bytes(out) if out is not None else None


class RelocTable:
    """The entries of one relocation section, decoded one column at a time.

    Columns (offsets, infos, addends) come out of a single C-level call each: a
    ``memoryview.cast`` when the file's byte order is the machine's, ``struct`` otherwise.
    Per-entry Python work is kept to the entries that need remapping.
    """

    def __init__(self, elf: ElfFile, sec: Section) -> None:
        self.elf = elf
        self.sec = sec
        self.rela = sec.type == SHT_RELA
        width = 3 if self.rela else 2
        self.width = width
        self.code: Literal["q", "I"] = "q" if elf.is64 else "I"
        wsize = 8 if elf.is64 else 4
        if len(sec.raw) % (wsize * width):
            raise FormatError(f"{sec.name}: size is not a multiple of the entry size")
        if elf.is64 and elf.machine == EM_MIPS:
            raise UnsupportedError("MIPS64 relocation layout is not supported")
        self.count = len(sec.raw) // (wsize * width)
        self.shift = 32 if elf.is64 else 8
        self.native = elf.le == (sys.byteorder == "little")
        self._words: list[int] | None = None
        self._mv = memoryview(sec.raw).cast(self.code) if self.native else None
        self.infos = self._view(1)

    def _view(self, k: int) -> memoryview | list[int]:
        """Column ``k`` without materialising it when the byte order is native."""
        if self._mv is not None:
            return self._mv[k :: self.width]
        if self._words is None:
            fmt = f"{self.elf.endian}{self.count * self.width}{self.code}"
            self._words = list(struct.unpack(fmt, self.sec.raw))
        return self._words[k :: self.width]

    def _column(self, k: int) -> list[int]:
        view = self._view(k)
        return view.tolist() if isinstance(view, memoryview) else view

    def sym_column(self) -> memoryview | None:
        """The symbol indices as a 32-bit column, when the layout allows (LE64 RELA)."""
        if not (self.native and self.elf.is64 and self.elf.le and self.rela):
            return None
        return memoryview(self.sec.raw).cast("I")[3::6]

    def syms(self) -> list[int]:
        sh = self.shift
        return [i >> sh for i in self.infos]

    def rtype(self, k: int) -> int:
        info: int = self.infos[k]
        return info & (0xFFFFFFFF if self.elf.is64 else 0xFF)

    def addends(self) -> list[int]:
        adds = self._column(2)
        if not self.elf.is64:
            adds = [a - (1 << 32) if a >= 1 << 31 else a for a in adds]
        return adds

    def addends_at(self, idx: list[int]) -> list[int]:
        col = self._view(2)
        adds: list[int] = list(map(col.__getitem__, idx))
        if not self.elf.is64:
            adds = [a - (1 << 32) if a >= 1 << 31 else a for a in adds]
        return adds

    def offsets(self) -> list[int]:
        return self._column(0)

    def entries_of(self, infos: set[int]) -> list[int]:
        """Indices of the entries whose ``r_info`` is in ``infos``."""
        return list(compress(range(self.count), map(infos.__contains__, self.infos)))

    def store(
        self,
        offsets: list[int] | None,
        idx: list[int] | None = None,
        addends: list[int] | None = None,
    ) -> bytearray:
        """The section with new ``offsets`` (all entries) and new ``addends`` at ``idx``."""
        out = bytearray(self.sec.raw)
        n, w, code = self.count, self.width, self.code
        if addends is not None and not self.elf.is64:
            addends = [x & 0xFFFFFFFF for x in addends]
        if self.native:
            omv = memoryview(out).cast(code)
            if offsets is not None:
                omv[0::w] = memoryview(struct.pack(f"{n}{code}", *offsets)).cast(code)
            if idx and addends is not None:
                if len(idx) * 4 < n:
                    for k, v in zip(idx, addends, strict=True):
                        omv[3 * k + 2] = v
                else:
                    changed = dict(zip(idx, addends, strict=True))
                    col = list(map(changed.get, range(n), omv[2::3].tolist()))
                    omv[2::3] = memoryview(struct.pack(f"{n}{code}", *col)).cast(code)
            return out
        fmt = f"{self.elf.endian}{n * w}{code}"
        words = list(struct.unpack(fmt, out))
        if offsets is not None:
            words[0::w] = offsets
        if idx and addends is not None:
            for k, v in zip(idx, addends, strict=True):
                words[3 * k + 2] = v
        return bytearray(struct.pack(fmt, *words))


def _remap_rela_le64(
    table: RelocTable, syms: Symbols, relevant: set[int], maps: dict[int, OffsetMap]
) -> bytearray | None:
    """The common case (little-endian ELF64 RELA, native order) without decoding r_info:
    the symbol index is the high half of ``r_info``, a 32-bit column we can scan in C."""
    col = table.sym_column()
    assert col is not None
    if max(col) >= len(syms.values):
        raise FormatError(f"{table.sec.name}: symbol index out of range")
    idx = list(compress(range(table.count), map(relevant.__contains__, col)))
    if not idx:
        return None
    of_idx = list(map(col.__getitem__, idx))
    all_idx: list[int] = []
    all_new: list[int] = []
    present = set(of_idx)
    for sym in present:
        sub_idx = (
            idx if len(present) == 1 else [k for k, s in zip(idx, of_idx, strict=True) if s == sym]
        )
        m = maps[syms.shndx[sym]]
        base = syms.values[sym]
        vals = table.addends_at(sub_idx)
        if base:
            vals = [v + base for v in vals]
        nbase = m.map(base) if base else 0
        new = m.map_many(vals)
        all_idx += sub_idx
        all_new += [v - nbase for v in new] if nbase else new
    return table.store(None, all_idx, all_new)


def _surely_unrelated(elf: ElfFile, sec: Section, relevant: set[int]) -> bool:
    """True if no entry of ``sec`` uses a symbol in ``relevant``: a C-speed look at the
    symbol-index column, for the common case (little-endian ELF64 RELA on a
    little-endian machine); False means "look properly"."""
    if not (elf.is64 and elf.le and sys.byteorder == "little" and sec.type == SHT_RELA):
        return False
    if len(sec.raw) % 24:
        return False
    return relevant.isdisjoint(memoryview(sec.raw).cast("I")[3::6])


def remap(
    elf: ElfFile,
    maps: dict[int, OffsetMap],
    contents: dict[int, bytes | bytearray],
    plain_of: Callable[[Section], bytes | memoryview],
) -> dict[int, bytes | bytearray]:
    """New contents for every relocation section (and REL targets, symtab) that changed.

    ``contents`` holds the new contents of spliced sections; REL addends are patched in
    them (a copy is returned in the result for each such section).
    """
    out: dict[int, bytes | bytearray] = {}
    if not maps:
        return out
    symtabs: dict[int, Symbols] = {}
    relevant_of: dict[int, set[int]] = {}
    order = byte_order(elf.le)
    for sec in elf.sections:
        if sec.type not in (SHT_REL, SHT_RELA) or not sec.size:
            continue
        target_map = maps.get(sec.info)
        if sec.link not in symtabs:
            st = elf.sections[sec.link] if sec.link < len(elf.sections) else None
            if st is None or st.type != SHT_SYMTAB:
                raise FormatError(f"{sec.name}: sh_link is not a symbol table")
            symtabs[sec.link] = Symbols(elf, st)
            relevant_of[sec.link] = {
                i for i, sh in enumerate(symtabs[sec.link].shndx) if sh in maps
            }
        syms = symtabs[sec.link]
        relevant = relevant_of[sec.link]
        if not relevant and target_map is None:
            continue
        if target_map is None and _surely_unrelated(elf, sec, relevant):
            continue
        table = RelocTable(elf, sec)
        if target_map is None and table.rela and table.sym_column() is not None:
            patched = _remap_rela_le64(table, syms, relevant, maps)
            if patched is not None:
                out[sec.index] = patched
            continue
        # Group the distinct r_info values by symbol: few, so this is cheap.
        by_sym: dict[int, set[int]] = {}
        nsyms = len(syms.values)
        for info in set(table.infos):
            sym = info >> table.shift
            if sym >= nsyms:
                raise FormatError(f"{sec.name}: symbol index {sym} out of range")
            if sym in relevant:
                by_sym.setdefault(sym, set()).add(info)
        if not by_sym and target_map is None:
            continue
        offsets = table.offsets() if target_map is not None or not table.rela else []
        new_offsets = target_map.map_many(offsets) if target_map is not None else None
        if not by_sym:
            out[sec.index] = table.store(new_offsets, None)
            continue
        if table.rela:
            all_idx: list[int] = []
            all_new: list[int] = []
            for sym, infos in by_sym.items():
                m = maps[syms.shndx[sym]]
                base = syms.values[sym]
                idx = table.entries_of(infos)
                vals = table.addends_at(idx)
                if base:
                    vals = [v + base for v in vals]
                nbase = m.map(base) if base else 0
                new = m.map_many(vals)
                all_idx += idx
                all_new += [v - nbase for v in new] if nbase else new
            out[sec.index] = table.store(new_offsets, all_idx, all_new)
        else:
            tgt = sec.info
            if not 0 < tgt < len(elf.sections):
                raise FormatError(f"{sec.name}: sh_info {tgt} is not a section")
            if tgt not in contents:
                contents[tgt] = bytearray(plain_of(elf.sections[tgt]))
            elif not isinstance(contents[tgt], bytearray):
                contents[tgt] = bytearray(contents[tgt])
            data = contents[tgt]
            assert isinstance(data, bytearray)
            place = new_offsets if new_offsets is not None else offsets
            for sym, infos in by_sym.items():
                m = maps[syms.shndx[sym]]
                base = syms.values[sym]
                nbase = m.map(base) if base else 0
                for k in table.entries_of(infos):
                    size = REL_SIZES.get((elf.machine, table.rtype(k)))
                    if size is None:
                        raise UnsupportedError(
                            f"{sec.name}: REL relocation type {table.rtype(k)} on machine "
                            f"{elf.machine} points into a rewritten section"
                        )
                    p = place[k]
                    val = int.from_bytes(data[p : p + size], order) + base
                    data[p : p + size] = ((m.map(val) - nbase) % (1 << (8 * size))).to_bytes(
                        size, order
                    )
            out[tgt] = data
            if new_offsets is not None:
                out[sec.index] = table.store(new_offsets, None)
    for tab_idx, symtab in symtabs.items():
        new_tab = symtab.rewritten(maps)
        if new_tab is not None:
            out[tab_idx] = new_tab
    return out


def fixups_for(elf: ElfFile, target: int) -> dict[int, int]:
    """``{r_offset: symbol value + addend}`` for RELA sections applying to ``target``
    (REL addends are already in the data, so their fields read right as they are)."""
    out: dict[int, int] = {}
    for sec in elf.sections:
        if sec.type != SHT_RELA or sec.info != target or not sec.size:
            continue
        if not 0 < sec.link < len(elf.sections):
            raise FormatError(f"{sec.name}: sh_link is not a symbol table")
        syms = Symbols(elf, elf.sections[sec.link])
        table = RelocTable(elf, sec)
        nsyms = len(syms.values)
        for off, sym, add in zip(table.offsets(), table.syms(), table.addends(), strict=True):
            if sym >= nsyms:
                raise FormatError(f"{sec.name}: symbol index {sym} out of range")
            out[off] = syms.values[sym] + add
    return out
