"""The native protocol on the client (docs/protocol.md): files by digest, explicit errors.

For a ``,native`` host under pump:

1. ask the include server for the closure in its compact form (``XINC 2``): one ARGV per
   entry, tab-separated: ``F digest size path`` (a file), ``S digest size path`` (a system
   header), ``L path target`` (a symlink), ``D path`` (a directory that must exist);
   ``ARGC 0`` means not covered;
2. send the job with its entries in *parts* named by digest (``split_parts``); the daemon
   answers with the parts it lacks, and we send those (zlib);
3. the daemon answers with the file digests it lacks; we send only those, as zlib streams,
   each re-hashed here first: a file that changed since the include server read it is
   never shipped under its old digest (the job falls back);
4. read the reply (object, .d, .dwo: LZ4 frames).

Bytes cross the network once per server and content, not once per job; so do entry lists,
mostly: parts are cut where closures agree from one TU to the next (system headers in
path order, cut at entries chosen by a hash of their path, so that one header more or
less changes one part, not every part after it).
"""

from __future__ import annotations

from client import lz4frame
from common.protocol import (
    ARGC,
    BLOB,
    CDIR,
    CHIT,
    DDWO,
    DGST,
    DIST,
    DONE,
    DOTD,
    DOTO,
    ERRR,
    FDIG,
    LINK,
    MDIR,
    NAME,
    NATIVE_VERSION,
    NEED,
    NFIL,
    SDIG,
    SERR,
    SOUT,
    STAT,
    XINC,
    XINC_COMPACT,
    Limits,
    ProtocolError,
    Reader,
    argv_packets,
    header,
    parts_packet,
    string_packet,
)
from common.values import TYPE_CHECKING, Value

if TYPE_CHECKING:
    from client.compile import Outcome
    from client.transport import Connection


class NativeRefused(Exception):
    """The daemon sent ERRR: an explicit refusal (message in the exception)."""


class StaleFile(Exception):
    """A file's content no longer matches the digest the include server gave."""


class Entry(Value):
    __slots__ = ("kind", "path", "digest", "size", "target")
    kind: str  # "F", "S", "L" or "D"
    path: str
    digest: str
    size: int
    target: str

    def __init__(
        self, kind: str, path: str, digest: str = "", size: int = 0, target: str = ""
    ) -> None:
        self._init(kind=kind, path=path, digest=digest, size=size, target=target)


class NativeReply(Value):
    __slots__ = ("status", "stderr", "stdout", "obj", "dotd", "dwo")
    status: int
    stderr: bytes
    stdout: bytes
    obj: bytes
    dotd: bytes | None
    dwo: bytes | None

    def __init__(
        self,
        status: int,
        stderr: bytes,
        stdout: bytes,
        obj: bytes,
        dotd: bytes | None,
        dwo: bytes | None,
    ) -> None:
        self._init(status=status, stderr=stderr, stdout=stdout, obj=obj, dotd=dotd, dwo=dwo)


def parse_entry(line: str) -> Entry:
    fields = line.split("\t")
    kind = fields[0]
    if kind in ("F", "S") and len(fields) == 4:
        return Entry(kind, fields[3], fields[1], int(fields[2]))
    if kind == "L" and len(fields) == 3:
        return Entry(kind, fields[1], target=fields[2])
    if kind == "D" and len(fields) == 2:
        return Entry(kind, fields[1])
    raise ProtocolError(f"bad closure entry from the include server: {line!r}")


def ask_closure(socket_path: str, cwd: str, argv: tuple[str, ...]) -> list[Entry]:
    """The closure with digests; raises client.pumpmode.NotCovered when there is none."""
    from client.pumpmode import NotCovered, query_include_server

    request = header(XINC, XINC_COMPACT) + string_packet(CDIR, cwd) + argv_packets(argv)
    lines = query_include_server(socket_path, request, Limits(max_argc=1 << 20))
    try:
        return [parse_entry(line) for line in lines]
    except (ProtocolError, ValueError) as exc:
        raise NotCovered(str(exc)) from None


def entry_bytes(e: Entry) -> bytes:
    """One entry: ``NAME`` + ``FDIG``/``SDIG``/``LINK``/``MDIR``."""
    name = string_packet(NAME, e.path)
    if e.kind == "F":
        return name + string_packet(FDIG, f"{e.digest}:{e.size}")
    if e.kind == "S":
        return name + string_packet(SDIG, f"{e.digest}:{e.size}")
    if e.kind == "L":
        return name + string_packet(LINK, e.target)
    return name + header(MDIR, 0)


def entry_section(entries: list[Entry]) -> bytes:
    """The ``NFIL`` section: the count, then the entries."""
    return header(NFIL, len(entries)) + b"".join(entry_bytes(e) for e in entries)


# A part ends after an entry whose path's CRC-32 has these bits clear: ~16 entries a part.
# (Measured on redis's closures: 4 bits gave the fewest bytes for a daemon that had seen
# other TUs; fewer parts mean more new entries per new part, more mean a longer PRTS.)
PART_MASK = 0xF


def split_parts(entries: list[Entry]) -> list[bytes]:
    """The entries in parts: system headers first, then the rest, each in path order (so
    the same closure always gives the same parts, whatever order the include server
    answered in), cut after each entry whose path hash matches ``PART_MASK``."""
    from zlib import crc32

    parts: list[bytes] = []
    system = sorted((e for e in entries if e.kind == "S"), key=lambda e: e.path)
    rest = sorted((e for e in entries if e.kind != "S"), key=lambda e: (e.path, e.kind))
    for group in (system, rest):
        current: list[bytes] = []
        for e in group:
            current.append(entry_bytes(e))
            if not crc32(e.path.encode("utf-8", "surrogateescape")) & PART_MASK:
                parts.append(b"".join(current))
                current = []
        if current:
            parts.append(b"".join(current))
    return parts


def request_head(cwd: str, argv: list[str], entries: list[Entry]) -> bytes:
    """The request with its entries inline (``NFIL``...)."""
    head = header(DIST, NATIVE_VERSION) + string_packet(CDIR, cwd) + argv_packets(argv)
    return head + entry_section(entries)


def request_head_by_parts(cwd: str, argv: list[str], parts: list[tuple[str, bytes]]) -> bytes:
    """The request naming its entries' parts ((digest, bytes), in order) by digest
    (``PRTS``, docs/protocol.md)."""
    ids = [(bytes.fromhex(d[len(_PREFIX) :]), len(p)) for d, p in parts]
    head = header(DIST, NATIVE_VERSION) + string_packet(CDIR, cwd) + argv_packets(argv)
    return head + parts_packet(ids)


_PREFIX = "blake2b:"


def digest_of(data: bytes) -> str:
    from _blake2 import blake2b

    return _PREFIX + blake2b(data, digest_size=32).hexdigest()


def _read_token(reader: Reader, expected: bytes) -> int:
    """Read a header that must be ``expected`` or ERRR (then raise NativeRefused)."""
    token, value = reader.read_header()
    if token == ERRR:
        raise NativeRefused(reader.read_string_body(ERRR, value))
    if token != expected:
        raise ProtocolError(f"protocol derailment: expected {expected!r}, got {token!r}")
    return value


def _lz4(reader: Reader, token: bytes) -> bytes:
    frame = lz4frame.load()

    length = reader.expect(token)
    if not length:
        return b""
    body = reader.read_bulk_body(token, length, False)
    try:
        data = frame.decompress(body)
    except RuntimeError as exc:
        raise ProtocolError(f"{token.decode()}: bad LZ4 frame: {exc}") from None
    if len(data) > reader.limits.max_bulk:
        raise ProtocolError(f"{token.decode()}: inflates past the limit")
    return bytes(data)


def _log_bytes(head: int, parts: int, parts_sent: list[int], files_sent: list[int]) -> None:
    """Where a job's bytes went (``DISTCC_LOG``/``DISTCC_VERBOSE`` only: measuring the
    protocol, e.g. bench/pump.py's client.log)."""
    from client import log

    log.info(
        f"native bytes: head {head} ({parts} parts), parts {len(parts_sent)} sent "
        f"{sum(parts_sent)}, files {len(files_sent)} sent {sum(files_sent)}"
    )


def _blobs(reader: Reader, offered: dict[str, bytes | Entry], what: str) -> list[bytes]:
    """Read ``NEED`` + ``DGST``s and return the ``BLOB`` packets the daemon asked for, from
    ``offered`` (digest -> a part's bytes, or a file's entry: the file is read and re-hashed
    now, raising ``StaleFile`` if it no longer has that digest)."""
    from zlib import compress

    needed = _read_token(reader, NEED)
    wanted = [reader.read_string(DGST) for _ in range(min(needed, len(offered) + 1))]
    if needed > len(offered):
        raise ProtocolError(f"daemon asked for {needed} {what}, we offered {len(offered)}")
    blobs = []
    for digest in wanted:
        item = offered.get(digest)
        if item is None:
            raise ProtocolError(f"daemon asked for a digest we did not offer: {digest}")
        if isinstance(item, Entry):
            with open(item.path, "rb") as f:
                data = f.read()
            if len(data) != item.size or digest_of(data) != digest:
                raise StaleFile(f"{item.path} changed since the include server read it")
        else:
            data = item
        packed = compress(data) if data else b""
        blobs.append(header(BLOB, len(packed)) + packed)
    return blobs


def run(
    conn: Connection,
    cwd: str,
    argv: list[str],
    entries: list[Entry],
    outcome: Outcome,
) -> NativeReply:
    """One native job over an open connection.  Raises NativeRefused, StaleFile,
    ProtocolError or the transport's errors; the caller closes ``conn``."""
    parts = [(digest_of(p), p) for p in split_parts(entries)]
    head = request_head_by_parts(cwd, argv, parts)
    conn.cork(True)
    conn.send(head)
    conn.cork(False)
    reader = Reader(conn)  # type: ignore[arg-type]
    part_blobs = _blobs(reader, dict(parts), "parts")
    if part_blobs:  # the daemon has not seen these parts of the closure yet
        conn.send(b"".join(part_blobs))
    files: dict[str, bytes | Entry] = {e.digest: e for e in entries if e.kind in ("F", "S")}
    file_blobs = _blobs(reader, files, "files")
    conn.cork(True)
    conn.send(b"".join(file_blobs))
    conn.cork(False)
    _log_bytes(len(head), len(parts), list(map(len, part_blobs)), list(map(len, file_blobs)))
    done = _read_token(reader, DONE)
    if done != NATIVE_VERSION:
        raise ProtocolError(f"daemon answered version {done:#x}")
    status = reader.expect(STAT)
    stderr = _lz4(reader, SERR)
    stdout = _lz4(reader, SOUT)
    obj = _lz4(reader, DOTO)
    dotd = _lz4(reader, DOTD)
    dwo = _lz4(reader, DDWO)
    outcome.cached = _read_token(reader, CHIT) == 1
    outcome.files_offered += len(files)
    outcome.files_sent += len(file_blobs)
    outcome.bytes_sent += conn.bytes_sent
    outcome.bytes_received += conn.bytes_received
    return NativeReply(status, stderr, stdout, obj, dotd or None, dwo or None)


__all__ = ["ARGC", "NativeRefused", "StaleFile", "ask_closure", "run"]
