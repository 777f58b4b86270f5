"""DWARF constants (forms, attributes, line-table content types) and LEB128 readers.

Vocabulary: ``Reader`` reads one section's bytes with a fixed byte order and offset size
(4 for 32-bit DWARF, 8 for 64-bit DWARF).  A *fixup* table maps a field's offset to the
value a relocation gives it (ET_REL objects store 0 in the field and the real offset in the
relocation addend); ``Reader.offset()`` consults it so callers see relocated values.
"""

from __future__ import annotations

from objrewrite.errors import FormatError

TYPE_CHECKING = False  # mypy treats this name as True; typing itself costs ~2 ms
if TYPE_CHECKING:
    from typing import Literal

    Order = Literal["little", "big"]


def byte_order(le: bool) -> Order:
    return "little" if le else "big"


Fixups = dict[int, int]

# Forms (DWARF 2-5 plus the GNU split-DWARF extensions).
ADDR, BLOCK2, BLOCK4, DATA2, DATA4, DATA8, STRING, BLOCK, BLOCK1 = (
    0x01,
    0x03,
    0x04,
    0x05,
    0x06,
    0x07,
    0x08,
    0x09,
    0x0A,
)
DATA1, FLAG, SDATA, STRP, UDATA, REF_ADDR, REF1, REF2, REF4, REF8, REF_UDATA = (
    0x0B,
    0x0C,
    0x0D,
    0x0E,
    0x0F,
    0x10,
    0x11,
    0x12,
    0x13,
    0x14,
    0x15,
)
INDIRECT, SEC_OFFSET, EXPRLOC, FLAG_PRESENT, STRX, ADDRX, REF_SUP4, STRP_SUP = (
    0x16,
    0x17,
    0x18,
    0x19,
    0x1A,
    0x1B,
    0x1C,
    0x1D,
)
DATA16, LINE_STRP, REF_SIG8, IMPLICIT_CONST, LOCLISTX, RNGLISTX, REF_SUP8 = (
    0x1E,
    0x1F,
    0x20,
    0x21,
    0x22,
    0x23,
    0x24,
)
STRX1, STRX2, STRX3, STRX4, ADDRX1, ADDRX2, ADDRX3, ADDRX4 = (
    0x25,
    0x26,
    0x27,
    0x28,
    0x29,
    0x2A,
    0x2B,
    0x2C,
)
GNU_ADDR_INDEX, GNU_STR_INDEX, GNU_REF_ALT, GNU_STRP_ALT = 0x1F01, 0x1F02, 0x1F20, 0x1F21

FORM_NAMES = {
    STRING: "DW_FORM_string",
    STRP: "DW_FORM_strp",
    LINE_STRP: "DW_FORM_line_strp",
    STRX: "DW_FORM_strx",
    STRX1: "DW_FORM_strx1",
    STRX2: "DW_FORM_strx2",
    STRX3: "DW_FORM_strx3",
    STRX4: "DW_FORM_strx4",
    GNU_STR_INDEX: "DW_FORM_GNU_str_index",
    GNU_STRP_ALT: "DW_FORM_GNU_strp_alt",
    STRP_SUP: "DW_FORM_strp_sup",
}
STRX_FORMS = frozenset({STRX, STRX1, STRX2, STRX3, STRX4, GNU_STR_INDEX})
REF_FORMS = frozenset({REF1, REF2, REF4, REF8, REF_UDATA})

# Attributes whose string values are paths.
AT_NAME, AT_COMP_DIR, AT_DWO_NAME, AT_GNU_DWO_NAME = 0x03, 0x1B, 0x76, 0x2130
AT_LLVM_SYSROOT, AT_LLVM_INCLUDE_PATH, AT_APPLE_SDK = 0x3E02, 0x3E00, 0x3FEF
AT_STR_OFFSETS_BASE, AT_SIBLING = 0x72, 0x01
PATH_ATTRS = {
    AT_NAME: "DW_AT_name",
    AT_COMP_DIR: "DW_AT_comp_dir",
    AT_DWO_NAME: "DW_AT_dwo_name",
    AT_GNU_DWO_NAME: "DW_AT_GNU_dwo_name",
    AT_LLVM_SYSROOT: "DW_AT_LLVM_sysroot",
    AT_LLVM_INCLUDE_PATH: "DW_AT_LLVM_include_path",
    AT_APPLE_SDK: "DW_AT_APPLE_sdk",
}

# Line-table (v5) entry content types.
LNCT_PATH, LNCT_DIRECTORY_INDEX = 0x1, 0x2


class Reader:
    """Sequential reads over one section's bytes."""

    __slots__ = ("data", "end", "fixups", "le", "pos")

    def __init__(
        self,
        data: bytes | bytearray,
        pos: int = 0,
        *,
        le: bool = True,
        fixups: Fixups | None = None,
        end: int | None = None,
    ) -> None:
        self.data = data
        self.pos = pos
        self.le = le
        self.fixups = fixups
        self.end = len(data) if end is None else end

    def _need(self, n: int) -> None:
        if self.pos + n > self.end:
            raise FormatError(f"DWARF data truncated at offset {self.pos:#x}")

    def uint(self, size: int) -> int:
        self._need(size)
        v = int.from_bytes(self.data[self.pos : self.pos + size], "little" if self.le else "big")
        self.pos += size
        return v

    def u8(self) -> int:
        self._need(1)
        v = self.data[self.pos]
        self.pos += 1
        return v

    def offset(self, size: int) -> int:
        """A section-offset field: relocated value if a relocation covers it."""
        at = self.pos
        raw = self.uint(size)
        if self.fixups is not None:
            return self.fixups.get(at, raw)
        return raw

    def uleb(self) -> int:
        data, pos = self.data, self.pos
        result = shift = 0
        while True:
            if pos >= self.end:
                raise FormatError("LEB128 runs past the end of the section")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        self.pos = pos
        return result

    def sleb(self) -> int:
        data, pos = self.data, self.pos
        result = shift = 0
        while True:
            if pos >= self.end:
                raise FormatError("LEB128 runs past the end of the section")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        if b & 0x40:
            result -= 1 << shift
        self.pos = pos
        return result

    def cstr(self) -> bytes:
        e = self.data.find(b"\x00", self.pos, self.end)
        if e < 0:
            raise FormatError(f"unterminated string at offset {self.pos:#x}")
        s = bytes(self.data[self.pos : e])
        self.pos = e + 1
        return s

    def unit_length(self) -> tuple[int, int]:
        """Read an initial length; returns (length, offset size 4 or 8)."""
        n = self.uint(4)
        if n == 0xFFFFFFFF:
            return self.uint(8), 8
        if n >= 0xFFFFFFF0:
            raise FormatError(f"reserved unit length {n:#x}")
        return n, 4


def skip_form(r: Reader, form: int, addr_size: int, off_size: int, version: int) -> None:
    """Advance ``r`` past one attribute value of ``form``."""
    fixed = _FIXED.get(form)
    if fixed is not None:
        r.pos += fixed
    elif form in (STRP, LINE_STRP, SEC_OFFSET, STRP_SUP, GNU_REF_ALT, GNU_STRP_ALT):
        r.pos += off_size
    elif form == REF_ADDR:
        r.pos += addr_size if version <= 2 else off_size
    elif form == ADDR:
        r.pos += addr_size
    elif form in (SDATA,):
        r.sleb()
    elif form in _ULEB:
        r.uleb()
    elif form == STRING:
        e = r.data.find(b"\x00", r.pos, r.end)
        if e < 0:
            raise FormatError("unterminated DW_FORM_string")
        r.pos = e + 1
    elif form in (BLOCK, EXPRLOC):
        n = r.uleb()
        r.pos += n
    elif form == BLOCK1:
        r.pos += 1 + r.u8()
    elif form == BLOCK2:
        r.pos += 2 + r.uint(2)
    elif form == BLOCK4:
        r.pos += 4 + r.uint(4)
    elif form == INDIRECT:
        skip_form(r, r.uleb(), addr_size, off_size, version)
    else:
        raise FormatError(f"unknown DWARF form {form:#x}")
    if r.pos > r.end:
        raise FormatError("DWARF attribute runs past the end of its unit")


_FIXED = {
    DATA1: 1,
    REF1: 1,
    FLAG: 1,
    STRX1: 1,
    ADDRX1: 1,
    DATA2: 2,
    REF2: 2,
    STRX2: 2,
    ADDRX2: 2,
    STRX3: 3,
    ADDRX3: 3,
    DATA4: 4,
    REF4: 4,
    STRX4: 4,
    ADDRX4: 4,
    REF_SUP4: 4,
    DATA8: 8,
    REF8: 8,
    REF_SIG8: 8,
    REF_SUP8: 8,
    DATA16: 16,
    FLAG_PRESENT: 0,
    IMPLICIT_CONST: 0,
}
_ULEB = frozenset(
    {UDATA, REF_UDATA, STRX, ADDRX, LOCLISTX, RNGLISTX, GNU_ADDR_INDEX, GNU_STR_INDEX}
)
