"""Compressed debug sections: ``SHF_COMPRESSED`` (ELF gABI) with zlib or zstd.

A compressed section starts with an ``Elf32_Chdr``/``Elf64_Chdr`` (type, size,
addralign) followed by the compressed stream.  zlib comes from the standard library; zstd
from the ``zstandard`` module when it is installed, otherwise from the ``zstd`` command.

Invariant: ``recompress(decompress(x))`` keeps the header's type and alignment; a
section that was not edited is never recompressed (its bytes are copied as they were),
so untouched sections stay byte-identical.  zlib output is produced at the level that
reproduces the original stream when one exists (so an edited object can still match a
local ``-gz`` compile byte for byte).
"""

from __future__ import annotations

import struct
import zlib

from objrewrite.errors import FormatError, UnsupportedError

ELFCOMPRESS_ZLIB, ELFCOMPRESS_ZSTD = 1, 2
# Not an ELF value: our tag for the legacy GNU format of ``.zdebug_*`` sections
# ("ZLIB", 8-byte big-endian size, zlib stream), which has no Chdr and no SHF_COMPRESSED.
GNU_ZLIB = 0x100


class Compressed:
    """The decoded form of one compressed section."""

    __slots__ = ("addralign", "ctype", "level", "plain")

    def __init__(self, ctype: int, addralign: int, plain: bytes, level: int) -> None:
        self.ctype = ctype
        self.addralign = addralign
        self.plain = plain
        self.level = level


def _chdr_fmt(is64: bool, endian: str) -> str:
    return endian + ("IIQQ" if is64 else "III")


def decompress(raw: bytes | memoryview, is64: bool, endian: str) -> Compressed:
    fmt = _chdr_fmt(is64, endian)
    hsize = struct.calcsize(fmt)
    if len(raw) < hsize:
        raise FormatError("compressed section shorter than its header")
    if is64:
        ctype, _, size, align = struct.unpack_from(fmt, raw, 0)
    else:
        ctype, size, align = struct.unpack_from(fmt, raw, 0)
    body = bytes(raw[hsize:])
    if ctype == ELFCOMPRESS_ZLIB:
        try:
            plain = zlib.decompress(body)
        except zlib.error as exc:
            raise FormatError(f"bad zlib stream in a compressed section: {exc}") from exc
        level = _zlib_level(body, plain)
    elif ctype == ELFCOMPRESS_ZSTD:
        plain = _zstd(body, decompress=True)
        level = 0
    else:
        raise UnsupportedError(f"unknown ELF compression type {ctype}")
    if len(plain) != size:
        raise FormatError("compressed section size does not match its header")
    return Compressed(ctype, align, plain, level)


def compress(c: Compressed, plain: bytes | bytearray, is64: bool, endian: str) -> bytes:
    if c.ctype == GNU_ZLIB:
        return b"ZLIB" + len(plain).to_bytes(8, "big") + zlib.compress(bytes(plain), c.level)
    fmt = _chdr_fmt(is64, endian)
    if c.ctype == ELFCOMPRESS_ZLIB:
        body = zlib.compress(bytes(plain), c.level)
    else:
        body = _zstd(bytes(plain), decompress=False)
    if is64:
        hdr = struct.pack(fmt, c.ctype, 0, len(plain), c.addralign)
    else:
        hdr = struct.pack(fmt, c.ctype, len(plain), c.addralign)
    return hdr + body


def decompress_gnu(raw: bytes | memoryview) -> Compressed:
    """Decode a legacy ``.zdebug_*`` section (``-gz=zlib-gnu``)."""
    if len(raw) < 12 or bytes(raw[:4]) != b"ZLIB":
        raise FormatError("a .zdebug section without its ZLIB header")
    size = int.from_bytes(raw[4:12], "big")
    body = bytes(raw[12:])
    try:
        plain = zlib.decompress(body)
    except zlib.error as exc:
        raise FormatError(f"bad zlib stream in a .zdebug section: {exc}") from exc
    if len(plain) != size:
        raise FormatError(".zdebug section size does not match its header")
    return Compressed(GNU_ZLIB, 1, plain, _zlib_level(body, plain))


def _zlib_level(body: bytes, plain: bytes) -> int:
    """The zlib level that reproduces ``body`` (assemblers use the default or 9)."""
    for level in (zlib.Z_DEFAULT_COMPRESSION, 9, 1):
        if len(plain) > 1 << 20:
            return level  # don't spend time on the search for big sections
        if zlib.compress(plain, level) == body:
            return level
    return zlib.Z_DEFAULT_COMPRESSION


def _zstd(data: bytes, *, decompress: bool) -> bytes:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        zstandard = None
    if zstandard is not None:
        if decompress:
            return bytes(zstandard.ZstdDecompressor().decompress(data))
        return bytes(zstandard.ZstdCompressor().compress(data))
    import shutil
    import subprocess

    exe = shutil.which("zstd")
    if exe is None:
        raise UnsupportedError(
            "zstd-compressed section, but neither the zstandard module "
            "nor the zstd command is available"
        )
    args = [exe, "-q", "-c"] + (["-d"] if decompress else [])
    proc = subprocess.run(args, input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        raise FormatError(f"zstd failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
