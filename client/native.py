"""The native protocol on the client (docs/protocol.md): files by digest, lz4, explicit errors.

For a ``,native`` host under pump:

1. ask the include server for the closure in its compact form (``XINC 2``): one ARGV per
   entry, tab-separated: ``F digest size path`` (a file), ``S digest size path`` (a system
   header), ``L path target`` (a symlink), ``D path`` (a directory that must exist);
   ``ARGC 0`` means not covered;
2. send the job with every entry by digest; the daemon answers with the digests it lacks;
3. send only those, as LZ4 frames, each re-hashed here first: a file that changed since
   the include server read it is never shipped under its old digest (the job falls back);
4. read the reply (object, .d, .dwo).

Bytes cross the network once per server and content, not once per job.
"""

from __future__ import annotations

from client import lz4frame
from common.protocol import (
    ARGC,
    BLOB,
    CDIR,
    DDWO,
    DGST,
    DIST,
    DONE,
    DOTD,
    DOTO,
    ERRR,
    FDIG,
    LINK,
    LIST,
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


def entry_section(entries: list[Entry]) -> bytes:
    """The ``NFIL`` section: the count, then ``NAME`` + ``FDIG``/``SDIG``/``LINK``/``MDIR``."""
    out = [header(NFIL, len(entries))]
    for e in entries:
        out.append(string_packet(NAME, e.path))
        if e.kind == "F":
            out.append(string_packet(FDIG, f"{e.digest}:{e.size}"))
        elif e.kind == "S":
            out.append(string_packet(SDIG, f"{e.digest}:{e.size}"))
        elif e.kind == "L":
            out.append(string_packet(LINK, e.target))
        else:
            out.append(header(MDIR, 0))
    return b"".join(out)


def request_head(cwd: str, argv: list[str], entries: list[Entry]) -> bytes:
    """The request with its entries inline (``NFIL``...)."""
    head = header(DIST, NATIVE_VERSION) + string_packet(CDIR, cwd) + argv_packets(argv)
    return head + entry_section(entries)


def request_head_by_list(cwd: str, argv: list[str], section: bytes) -> bytes:
    """The request naming its ``NFIL`` section by digest (``LIST``): an unchanged closure
    costs one line once the daemon has seen it (docs/protocol.md)."""
    head = header(DIST, NATIVE_VERSION) + string_packet(CDIR, cwd) + argv_packets(argv)
    return head + string_packet(LIST, f"{digest_of(section)}:{len(section)}")


def digest_of(data: bytes) -> str:
    from _blake2 import blake2b

    return "blake2b:" + blake2b(data, digest_size=32).hexdigest()


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


def run(
    conn: Connection,
    cwd: str,
    argv: list[str],
    entries: list[Entry],
    outcome: Outcome,
) -> NativeReply:
    """One native job over an open connection.  Raises NativeRefused, StaleFile,
    ProtocolError or the transport's errors; the caller closes ``conn``."""
    frame = lz4frame.load()

    # Canonical order, so that the same closure always has the same list digest (the
    # include server's order may change when it recomputes a closure).
    section = entry_section(sorted(entries, key=lambda e: (e.path, e.kind)))
    conn.cork(True)
    conn.send(request_head_by_list(cwd, argv, section))
    conn.cork(False)
    reader = Reader(conn)  # type: ignore[arg-type]
    if _read_token(reader, NEED):
        # The daemon has not seen this closure yet: send the section itself, once.
        if reader.read_string(DGST) != digest_of(section):
            raise ProtocolError("daemon asked for a list digest we did not offer")
        packed = frame.compress(section)
        conn.send(header(BLOB, len(packed)) + packed)
    needed = _read_token(reader, NEED)
    by_digest = {e.digest: e for e in entries if e.kind in ("F", "S")}
    wanted = [reader.read_string(DGST) for _ in range(min(needed, len(by_digest) + 1))]
    if needed > len(by_digest):
        raise ProtocolError(f"daemon asked for {needed} files, we offered {len(by_digest)}")
    blobs = []
    for digest in wanted:
        entry = by_digest.get(digest)
        if entry is None:
            raise ProtocolError(f"daemon asked for a digest we did not offer: {digest}")
        with open(entry.path, "rb") as f:
            data = f.read()
        if len(data) != entry.size or digest_of(data) != digest:
            raise StaleFile(f"{entry.path} changed since the include server read it")
        packed = frame.compress(data)
        blobs.append(header(BLOB, len(packed)) + packed)
    conn.cork(True)
    conn.send(b"".join(blobs))
    conn.cork(False)
    done = _read_token(reader, DONE)
    if done != NATIVE_VERSION:
        raise ProtocolError(f"daemon answered version {done:#x}")
    status = reader.expect(STAT)
    stderr = _lz4(reader, SERR)
    stdout = _lz4(reader, SOUT)
    obj = _lz4(reader, DOTO)
    dotd = _lz4(reader, DOTD)
    dwo = _lz4(reader, DDWO)
    outcome.bytes_sent += conn.bytes_sent
    outcome.bytes_received += conn.bytes_received
    return NativeReply(status, stderr, stdout, obj, dotd or None, dwo or None)


__all__ = ["ARGC", "NativeRefused", "StaleFile", "ask_closure", "run"]
