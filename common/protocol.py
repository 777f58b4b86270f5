"""distcc's wire framing, protocols 1, 2 and 3, byte for byte (reference §1).

Every packet is a 4-byte ASCII token and 8 hex digits (``%08x``); string and bulk tokens
carry a body whose length is that number.  In protocols 2 and 3 bulk bodies are raw LZO1X
and the number is the *compressed* length; strings are never compressed; an empty file is
``TOKEN00000000`` with no body.

Pure encoders build bytes; ``Reader`` decodes from a binary stream passed in by the caller
(a socket's ``makefile('rb')``, a pipe, ``io.BytesIO`` in tests).  Invariants of the reader:

- every declared length and count is checked against ``Limits`` *before* anything is read,
  and bodies are read in chunks, so a hostile header never makes us allocate its claim;
- anything unexpected raises ``ProtocolError`` (a derailment: wrong token, bad digits) or
  ``TruncatedError`` (EOF inside a packet); callers close that connection and go on.

Vocabulary: *version* is the protocol number sent in ``DIST``/``DONE``; *bulk* tokens carry
file contents (``DOTI SERR SOUT DOTO DOTD FILE``); *string* tokens carry one argument or
path (``ARGV CDIR NAME LINK``).
"""

from __future__ import annotations

import os

from common.compress import CompressionError, lzo_compress, lzo_decompress
from common.values import TYPE_CHECKING, Value

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import BinaryIO

DEFAULT_PORT = 3632
DEFAULT_STATS_PORT = 3633
HEADER_LEN = 12

# Tokens.  Kept as bytes: that is what goes on the wire.
DIST = b"DIST"
CDIR = b"CDIR"
ARGC = b"ARGC"
ARGV = b"ARGV"
DOTI = b"DOTI"
NFIL = b"NFIL"
NAME = b"NAME"
FILE = b"FILE"
LINK = b"LINK"
DONE = b"DONE"
STAT = b"STAT"
SERR = b"SERR"
SOUT = b"SOUT"
DOTO = b"DOTO"
DOTD = b"DOTD"

# Our native protocol (docs/protocol.md): distcc's framing, its own version number.
NATIVE_VERSION = 0x50590003
FDIG = b"FDIG"  # NAME's content by digest: "digest:size"
SDIG = b"SDIG"  # a system header by digest: the daemon may use its own copy
MDIR = b"MDIR"  # NAME is a directory that must exist
NEED = b"NEED"  # the daemon lacks this many digests (DGST packets follow)
DGST = b"DGST"
BLOB = b"BLOB"  # one missing file or part, as a zlib stream
ERRR = b"ERRR"  # an explicit refusal, then close
DDWO = b"DDWO"  # the -gsplit-dwarf .dwo
PRTS = b"PRTS"  # the entries as parts by digest (binary: 32-byte digest, 4-byte size)
PART_ID_LEN = 36
CHIT = b"CHIT"  # last packet of a reply: 1 if it came from the daemon's result cache

# The include server's extension of distcc's include-server protocol: XINC + version
# before CDIR; version 1 answers with XJSN (JSON), version 2 with ARGC/ARGV of compact
# tab-separated entries (our client's per-job path, no JSON to import).
XINC = b"XINC"
XINC_JSON = 1
XINC_COMPACT = 2

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_CHUNK = 1 << 16


class ProtocolError(Exception):
    """The peer sent something that is not the protocol (maps to exit code 109)."""


class TruncatedError(ProtocolError):
    """The stream ended inside a packet (maps to exit code 108)."""


class Limits(Value):
    """Upper bounds on what a reader accepts.  Defaults suit a compile server."""

    __slots__ = ("max_string", "max_argc", "max_files", "max_bulk", "max_version")
    max_string: int  # one argv word or path
    max_argc: int
    max_files: int  # NFIL in protocol 3
    max_bulk: int  # one file, compressed or not, and one inflated file
    max_version: int

    def __init__(
        self,
        max_string: int = 1 << 20,
        max_argc: int = 1 << 16,
        max_files: int = 1 << 17,
        max_bulk: int = 1 << 30,
        max_version: int = 3,
    ) -> None:
        self._init(
            max_string=max_string,
            max_argc=max_argc,
            max_files=max_files,
            max_bulk=max_bulk,
            max_version=max_version,
        )


def compresses(version: int) -> bool:
    """Protocols 2 and 3 LZO-compress bulk data; protocol 1 does not."""
    return version >= 2


# ---------------------------------------------------------------------------- encoding


def header(token: bytes, value: int) -> bytes:
    if len(token) != 4:
        raise ValueError(f"token must be 4 bytes: {token!r}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"value out of range for {token!r}: {value}")
    return token + b"%08x" % value


def string_packet(token: bytes, value: str | bytes) -> bytes:
    raw = os.fsencode(value) if isinstance(value, str) else value
    return header(token, len(raw)) + raw


def bulk_packet(token: bytes, data: bytes, compressed: bool) -> bytes:
    """A bulk packet; ``compressed`` means LZO1X (protocols 2 and 3)."""
    if not data:
        return header(token, 0)
    body = lzo_compress(data) if compressed else data
    return header(token, len(body)) + body


def argv_packets(argv: Sequence[str | bytes]) -> bytes:
    return header(ARGC, len(argv)) + b"".join(string_packet(ARGV, a) for a in argv)


def parts_packet(parts: Sequence[tuple[bytes, int]]) -> bytes:
    """``PRTS``: per part its 32-byte BLAKE2b digest and its size (4 bytes, big-endian)."""
    body = b"".join(digest + size.to_bytes(4, "big") for digest, size in parts)
    return header(PRTS, len(body)) + body


def parse_parts(body: bytes) -> list[tuple[bytes, int]]:
    """The (digest, size) pairs of a ``PRTS`` body."""
    if len(body) % PART_ID_LEN:
        raise ProtocolError(f"PRTS of {len(body)} bytes is not a whole number of parts")
    return [
        (body[i : i + 32], int.from_bytes(body[i + 32 : i + PART_ID_LEN], "big"))
        for i in range(0, len(body), PART_ID_LEN)
    ]


def request_v12(version: int, argv: Sequence[str], preprocessed: bytes) -> bytes:
    """A whole protocol 1 or 2 request (the client may also send it in two pieces)."""
    return request_head(version, argv) + bulk_packet(DOTI, preprocessed, compresses(version))


def request_head(version: int, argv: Sequence[str], cwd: str | None = None) -> bytes:
    """``DIST`` (+ ``CDIR`` in protocol 3) + ``ARGC``/``ARGV``."""
    out = header(DIST, version)
    if version >= 3:
        if cwd is None:
            raise ValueError("protocol 3 needs the client's cwd")
        out += string_packet(CDIR, cwd)
    return out + argv_packets(argv)


class Reply(Value):
    """What the server sends back after running the compiler."""

    __slots__ = ("version", "status", "stderr", "stdout", "obj", "dotd", "dwo")
    version: int
    status: int  # a Unix wait status
    stderr: bytes
    stdout: bytes
    obj: bytes
    dotd: bytes | None  # protocol 3 only, success only
    dwo: bytes | None  # native protocol only: the -gsplit-dwarf .dwo

    def __init__(
        self,
        version: int,
        status: int,
        stderr: bytes = b"",
        stdout: bytes = b"",
        obj: bytes = b"",
        dotd: bytes | None = None,
        dwo: bytes | None = None,
    ) -> None:
        self._init(
            version=version,
            status=status,
            stderr=stderr,
            stdout=stdout,
            obj=obj,
            dotd=dotd,
            dwo=dwo,
        )


def reply_packets(reply: Reply) -> bytes:
    z = compresses(reply.version)
    out = [
        header(DONE, reply.version),
        header(STAT, reply.status),
        bulk_packet(SERR, reply.stderr, z),
        bulk_packet(SOUT, reply.stdout, z),
    ]
    if reply.status == 0:
        out.append(bulk_packet(DOTO, reply.obj, z))
        if reply.version >= 3:
            out.append(bulk_packet(DOTD, reply.dotd or b"", z))
    else:
        out.append(header(DOTO, 0))
    return b"".join(out)


# ---------------------------------------------------------------------------- decoding


def parse_header(raw: bytes) -> tuple[bytes, int]:
    """Split a 12-byte header.  Only the form senders use (8 hex digits) is accepted."""
    if len(raw) != HEADER_LEN:
        raise TruncatedError(f"short header: {raw!r}")
    token, digits = raw[:4], raw[4:]
    if not all(c in _HEX_DIGITS for c in digits):
        raise ProtocolError(f"bad number in header {raw!r}")
    return token, int(digits, 16)


class Reader:
    """Reads packets from a binary stream, enforcing ``limits`` on every length."""

    def __init__(self, stream: BinaryIO, limits: Limits | None = None) -> None:
        self.stream = stream
        self.limits = limits or Limits()
        self.bytes_read = 0

    def _read_exact(self, n: int) -> bytes:
        parts: list[bytes] = []
        remaining = n
        while remaining:
            chunk = self.stream.read(min(remaining, _CHUNK))
            if not chunk:
                raise TruncatedError(f"connection closed with {remaining} of {n} bytes unread")
            parts.append(chunk)
            remaining -= len(chunk)
        self.bytes_read += n
        return b"".join(parts)

    def read_header(self) -> tuple[bytes, int]:
        raw = self.stream.read(HEADER_LEN)
        if not raw:
            raise TruncatedError("connection closed")
        self.bytes_read += len(raw)
        if len(raw) < HEADER_LEN:
            raw += self._read_exact(HEADER_LEN - len(raw))
        return parse_header(raw)

    def expect(self, token: bytes) -> int:
        got, value = self.read_header()
        if got != token:
            raise ProtocolError(f"protocol derailment: expected {token!r}, got {got!r}")
        return value

    def _body(self, token: bytes, length: int, limit: int) -> bytes:
        if length > limit:
            raise ProtocolError(f"{token.decode()} length {length} exceeds limit {limit}")
        return self._read_exact(length)

    def read_string_body(self, token: bytes, length: int) -> str:
        raw = self._body(token, length, self.limits.max_string)
        return os.fsdecode(raw)

    def read_string(self, token: bytes) -> str:
        return self.read_string_body(token, self.expect(token))

    def read_argv(self) -> list[str]:
        argc = self.expect(ARGC)
        if argc > self.limits.max_argc:
            raise ProtocolError(f"ARGC {argc} exceeds limit {self.limits.max_argc}")
        return [self.read_string(ARGV) for _ in range(argc)]

    def read_bulk_body(self, token: bytes, length: int, compressed: bool) -> bytes:
        body = self._body(token, length, self.limits.max_bulk)
        if not compressed or not body:
            return body
        try:
            return lzo_decompress(body, self.limits.max_bulk)
        except CompressionError as exc:
            raise ProtocolError(f"{token.decode()}: {exc}") from None

    def read_bulk(self, token: bytes, compressed: bool) -> bytes:
        return self.read_bulk_body(token, self.expect(token), compressed)

    def read_version(self, token: bytes = DIST) -> int:
        version = self.expect(token)
        if not 1 <= version <= self.limits.max_version:
            raise ProtocolError(f"unsupported protocol version {version}")
        return version


def read_reply(reader: Reader, version: int) -> Reply:
    """Read ``DONE STAT SERR SOUT DOTO [DOTD]`` as a client does."""
    done = reader.expect(DONE)
    if done != version:
        raise ProtocolError(f"server answered protocol {done}, we asked for {version}")
    status = reader.expect(STAT)
    z = compresses(version)
    stderr = reader.read_bulk(SERR, z)
    stdout = reader.read_bulk(SOUT, z)
    obj = reader.read_bulk(DOTO, z)
    dotd = None
    if version >= 3 and status == 0:
        try:
            dotd = reader.read_bulk(DOTD, z)
        except TruncatedError:
            dotd = None  # a missing DOTD is tolerated, as by distcc's client
    return Reply(version, status, stderr, stdout, obj, dotd)
