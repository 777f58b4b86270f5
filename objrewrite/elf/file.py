"""ELF headers and section headers: parse, re-lay out, serialise.

Covers ELFCLASS32/64 in either byte order.  ``ElfFile.parse`` reads the file header and
the section header table; each ``Section`` keeps its header fields and a view of its file
bytes.  ``ElfFile.build`` writes a new file from (possibly replaced) section contents:

Layout invariants (they make an unchanged object come back byte for byte, and a
rewritten one match what an assembler would have written):
- section order and indices never change, so ``sh_link``, ``sh_info``, ``st_shndx`` and
  ``SHT_GROUP`` members stay valid;
- sections are placed in their original file order at ``align(previous end,
  sh_addralign)``, plus any extra gap the original had; ``SHT_NOBITS`` takes no bytes;
- the section header table keeps its place in that order (usually last);
- bytes before the first section (file header, program headers) are copied.
Linked files (anything with program headers) are only ever edited in place: ``build``
refuses to move or grow a section of such a file.
"""

from __future__ import annotations

import struct

from objrewrite.errors import FormatError, UnsupportedError

ET_REL, ET_EXEC, ET_DYN = 1, 2, 3
SHT_NULL, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL, SHT_GROUP = 0, 2, 3, 4, 8, 9, 17
SHF_ALLOC, SHF_COMPRESSED = 0x2, 0x800

Buffer = bytes | bytearray | memoryview
Buffers = bytes | list[Buffer]  # a whole file, or its pieces in order


class Section:
    __slots__ = (
        "addr",
        "addralign",
        "entsize",
        "flags",
        "index",
        "info",
        "link",
        "name",
        "name_off",
        "offset",
        "raw",
        "size",
        "type",
    )

    def __init__(self, index: int, fields: tuple[int, ...], raw: bytes | memoryview) -> None:
        (
            self.name_off,
            self.type,
            self.flags,
            self.addr,
            self.offset,
            self.size,
            self.link,
            self.info,
            self.addralign,
            self.entsize,
        ) = fields
        self.index = index
        self.name = ""
        self.raw = raw

    def fields(self) -> tuple[int, ...]:
        return (
            self.name_off,
            self.type,
            self.flags,
            self.addr,
            self.offset,
            self.size,
            self.link,
            self.info,
            self.addralign,
            self.entsize,
        )


class ElfFile:
    """A parsed ELF file (read-only view plus what ``build`` needs)."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 52 or data[:4] != b"\x7fELF":
            raise FormatError("not an ELF file")
        cls, enc = data[4], data[5]
        if cls not in (1, 2) or enc not in (1, 2):
            raise FormatError(f"bad ELF class/encoding {cls}/{enc}")
        self.data = data
        self.is64 = cls == 2
        self.le = enc == 1
        e = "<" if self.le else ">"
        self.endian = e
        if self.is64:
            self.ehdr_fmt = e + "16sHHIQQQIHHHHHH"
            self.shdr_fmt = e + "IIQQQQIIQQ"
        else:
            self.ehdr_fmt = e + "16sHHIIIIIHHHHHH"
            self.shdr_fmt = e + "IIIIIIIIII"
        ehsize = struct.calcsize(self.ehdr_fmt)
        if len(data) < ehsize:
            raise FormatError("truncated ELF header")
        hdr = list(struct.unpack_from(self.ehdr_fmt, data, 0))
        self.ehdr = hdr
        (
            _,
            self.e_type,
            self.machine,
            _,
            _,
            self.phoff,
            self.shoff,
            _,
            _,
            self.phentsize,
            self.phnum,
            shentsize,
            shnum,
            shstrndx,
        ) = hdr
        self.shentsize = struct.calcsize(self.shdr_fmt)
        if self.shoff == 0:
            raise FormatError("ELF file has no section headers")
        if shentsize != self.shentsize:
            raise FormatError(f"unexpected e_shentsize {shentsize}")
        if shnum == 0 or shstrndx == 0xFFFF:
            first = struct.unpack_from(self.shdr_fmt, data, self.shoff)
            shnum = shnum or first[5]
            if shstrndx == 0xFFFF:
                shstrndx = first[6]
        if self.shoff + shnum * shentsize > len(data):
            raise FormatError("section header table runs past the end of the file")
        self.shstrndx = shstrndx
        mv = memoryview(data)
        self.sections: list[Section] = []
        table = mv[self.shoff : self.shoff + shnum * shentsize]
        for i, f in enumerate(struct.iter_unpack(self.shdr_fmt, table)):
            off, size, typ = f[4], f[5], f[1]
            if typ != SHT_NOBITS and typ != SHT_NULL and off + size > len(data):
                raise FormatError(f"section {i} runs past the end of the file")
            raw = mv[off : off + size] if typ not in (SHT_NOBITS, SHT_NULL) else mv[0:0]
            self.sections.append(Section(i, f, raw))
        ehsize = struct.calcsize(self.ehdr_fmt)
        for s in self.sections[1:]:
            if s.type not in (SHT_NOBITS, SHT_NULL) and s.size and s.offset < ehsize:
                raise FormatError(f"section {s.index} overlaps the ELF header")
        if not 0 < shstrndx < shnum:
            raise FormatError("bad e_shstrndx")
        names = bytes(self.sections[shstrndx].raw)
        for s in self.sections:
            end = names.find(b"\x00", s.name_off)
            if end < 0:
                raise FormatError("section name runs past .shstrtab")
            s.name = names[s.name_off : end].decode("latin-1")
        self.linked = self.e_type != ET_REL

    def by_name(self, name: str) -> list[Section]:
        return [s for s in self.sections if s.name == name]

    def build(
        self,
        contents: dict[int, bytes | bytearray],
        headers: dict[int, dict[str, int]] | None = None,
    ) -> bytes:
        """A new file where section ``i`` holds ``contents[i]`` (others unchanged).

        ``headers`` may override header fields (``flags``...) of some sections.
        """
        return b"".join(self.build_parts(contents, headers))

    def build_parts(
        self,
        contents: dict[int, bytes | bytearray],
        headers: dict[int, dict[str, int]] | None = None,
    ) -> list[Buffer]:
        """``build`` as a list of buffers to write in order (saves joining megabytes only
        to write them out)."""
        headers = headers or {}
        if self.linked:
            return [self._build_in_place(contents, headers)]
        secs = self.sections
        # Items in file order: ("s", section) or ("h", None) for the header table.
        items: list[tuple[int, int, int, Section | None]] = []
        for s in secs[1:]:
            if s.type == SHT_NOBITS:
                continue
            items.append((s.offset, 1 if s.size else 0, s.index, s))
        items.append((self.shoff, 2, len(secs), None))
        items.sort(key=lambda t: (t[0], t[1], t[2]))
        first = min(t[0] for t in items)
        parts: list[Buffer] = [self.data[:first]]
        size = first
        new_off: dict[int, int] = {}
        new_size: dict[int, int] = {}
        old_end = first
        shoff = 0
        shsize = len(secs) * self.shentsize
        table = bytearray(shsize)
        for off, _, _, sec in items:
            align = (8 if self.is64 else 4) if sec is None else max(sec.addralign, 1)
            if sec is not None and sec.index in headers and "addralign" in headers[sec.index]:
                align = max(headers[sec.index]["addralign"], 1)
            # The alignment the writer really used: some align compressed sections by
            # the uncompressed alignment, so take the largest one the original obeys.
            while align > 1 and _align(old_end, align) > off:
                align //= 2
            extra = max(off - _align(old_end, align), 0)
            pos = _align(size, align) + extra
            if pos > size:
                parts.append(bytes(pos - size))
            size = pos
            if sec is None:
                shoff = pos
                parts.append(table)
                size += shsize
                old_end = off + shsize
                continue
            body = contents.get(sec.index, sec.raw)
            new_off[sec.index] = pos
            new_size[sec.index] = len(body)
            parts.append(body)
            size += len(body)
            old_end = max(old_end, off + sec.size)
        pack = struct.Struct(self.shdr_fmt).pack_into
        for s in secs:
            f = list(s.fields())
            if s.index in new_off:
                f[4], f[5] = new_off[s.index], new_size[s.index]
            elif s.type == SHT_NOBITS and s.index:
                f[4] = _nobits_offset(s, secs, new_off)
            for k, v in headers.get(s.index, {}).items():
                f[_FIELD[k]] = v
            pack(table, s.index * self.shentsize, *f)
        hdr = list(self.ehdr)
        hdr[6] = shoff
        head = bytearray(parts[0])
        struct.pack_into(self.ehdr_fmt, head, 0, *hdr)
        parts[0] = head
        return parts

    def _build_in_place(
        self, contents: dict[int, bytes | bytearray], headers: dict[int, dict[str, int]]
    ) -> bytes:
        out = bytearray(self.data)
        for idx, body in contents.items():
            s = self.sections[idx]
            if len(body) > s.size:
                raise UnsupportedError(
                    f"{s.name} would grow from {s.size} to {len(body)} bytes; a linked file "
                    "can only be rewritten in place"
                )
            out[s.offset : s.offset + len(body)] = body
            if len(body) != s.size or idx in headers:
                f = list(s.fields())
                f[5] = len(body)
                for k, v in headers.get(idx, {}).items():
                    f[_FIELD[k]] = v
                struct.pack_into(self.shdr_fmt, out, self.shoff + idx * self.shentsize, *f)
        return bytes(out)


_FIELD = {"flags": 2, "size": 5, "link": 6, "info": 7, "addralign": 8, "entsize": 9}


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a if a > 1 else n


def _nobits_offset(s: Section, secs: list[Section], new_off: dict[int, int]) -> int:
    """Keep an SHT_NOBITS section's offset relative to the section before it in the file."""
    best: Section | None = None
    for o in secs:
        if (
            o.index in new_off
            and o.offset <= s.offset
            and (best is None or o.offset >= best.offset)
        ):
            best = o
    if best is None:
        return s.offset
    return new_off[best.index] + (s.offset - best.offset)
