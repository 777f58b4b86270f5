"""The native protocol on the daemon (docs/protocol.md): files by digest, zlib/lz4, ``ERRR``.

After ``DIST 50590003``, ``CDIR`` and the argv (checked as for protocol 3), the entries
(``read_request_entries``): inline after ``NFIL``, or in parts named by digest (``PRTS``;
the daemon asks for the parts its store lacks, which arrive like files).  An entry is
``NAME`` then ``FDIG digest:size`` (a file), ``SDIG digest:size`` (a system header),
``LINK target`` or ``MDIR``.  ``plan`` decides what is lacking: a digest is *needed*
unless the content store has it, or, for ``SDIG``, this server's own file at the same
path has that digest.  The daemon answers ``NEED m`` + m ``DGST``; the client sends m
``BLOB`` zlib streams in that order (``read_blobs``: each inflated at most to its
announced size, verified, stored).

System headers (``SDIG``): when every one matches the server's own file, the compiler
uses its own directories and nothing is changed (the common case, byte-identical
objects).  When one differs or is missing here, the compile must see the client's:
every ``SDIG`` file is placed in the mirror root (a link to the server's own file when it
matched, the received one otherwise), and the command gets ``-isystem ROOT<dir>`` for
each of the server's default directories, in its order: they come before the real ones,
hold every header of the closure, and so answer every lookup (``#include_next`` and gcc's
implicit ``stdc-predef.h`` too) the way the client's directories did.  (``-nostdinc``
would also drop gcc's implicit ``-include stdc-predef.h``.)

Under ``distccd --sandbox`` (``populate(..., chrooted=True)``) the compiler sees no
server header at all (daemon/chroot.py), so every ``SDIG`` file is in the mirror root, at
its path, and no ``-isystem`` is needed.  A matched one is copied once from the server's
file into the content store (under its digest, checked again), and every file of the
root is then a private *copy* from the store, not a hard link: inside its user namespace
the compiler owns the root's files, and through a link it could chmod and rewrite the
store's copy, which every later job of every client would compile (a link to the
server's own file would also usually cross file systems, and protected_hardlinks forbids
linking root's files for an unprivileged daemon; a bind per file would cost a ``mount``
per header).

The reply: ``DONE``, ``STAT``, ``SERR``, ``SOUT``, ``DOTO``, ``DOTD``, ``DDWO``, every bulk
an LZ4 frame (0 = empty); refusals are ``ERRR <message>`` then close.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

from common.protocol import (
    BLOB,
    CHIT,
    DDWO,
    DGST,
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
    PART_ID_LEN,
    PRTS,
    SDIG,
    SERR,
    SOUT,
    STAT,
    ProtocolError,
    Reader,
    TruncatedError,
    header,
    parse_parts,
    string_packet,
)
from daemon.mirror import MirrorRoot
from daemon.names import BadName, normal
from daemon.store import BadDigest, OwnFiles, Store, parse_digest
from daemon.sysdirs import CompilerFacts

MAX_ERROR = 4000


@dataclass(frozen=True)
class Entry:
    kind: str  # "F", "S", "L", "D"
    path: str  # client path, validated and normalised
    digest: str = ""
    size: int = 0
    target: str = ""


@dataclass
class Plan:
    need: list[tuple[str, int]] = field(default_factory=list)  # (digest, size), unique
    own: set[str] = field(default_factory=set)  # SDIG paths whose server file matches
    system_mismatch: bool = False


MAX_PARTS = 4096  # parts of one request's entries
MAX_PARTS_BYTES = 64 << 20  # their total size


def read_request_entries(
    reader: Reader, store: Store, send: Callable[[bytes], None]
) -> list[Entry]:
    """The file entries of a request: inline (``NFIL`` ...) or in parts by digest (``PRTS``).

    ``PRTS`` names parts, each the bytes of some entries (``NAME`` + ``FDIG``...) and all of
    them together the request's entries, in order.  The daemon answers ``NEED k`` + k
    ``DGST`` for the parts its store lacks and reads k ``BLOB`` (verified into the store
    like any file).  Parts are cut where the client's entries are alike from job to job (the
    system headers, runs of project headers), so a closure this daemon has never seen
    usually costs only its few new parts.
    """
    token, value = reader.read_header()
    if token == NFIL:
        return read_entries(reader, value)
    if token != PRTS:
        raise ProtocolError(f"protocol derailment: expected NFIL or PRTS, got {token!r}")
    if value > MAX_PARTS * PART_ID_LEN:
        raise ProtocolError(f"PRTS of {value} bytes: more than {MAX_PARTS} parts")
    parts = [
        ("blake2b:" + digest.hex(), size)
        for digest, size in parse_parts(reader.read_bulk_body(PRTS, value, False))
    ]
    if sum(size for _, size in parts) > MAX_PARTS_BYTES:
        raise ProtocolError(f"parts larger than {MAX_PARTS_BYTES} bytes in all")
    with store.pinned([d for d, _ in parts]):
        wanted = Plan()
        asked: set[str] = set()
        for digest, size in parts:
            if digest not in asked and not store.has(digest):
                asked.add(digest)
                wanted.need.append((digest, size))
        send(need_packets(wanted))
        read_blobs(reader, wanted, store, MAX_PARTS_BYTES)
        section = bytearray()
        for digest, size in parts:
            # The announced size bounds what is read: a part the store already has must
            # have it (else a client names a big stored file many times over).
            with open(store.path(digest), "rb") as f:
                data = f.read(size + 1)
            if len(data) != size:
                raise ProtocolError(f"PRTS: {digest} is not {size} bytes")
            section += data
    try:
        return read_entries_to_end(Reader(io.BytesIO(section), reader.limits), len(section))
    except TruncatedError as exc:  # in the parts, not on the connection
        raise ProtocolError(f"PRTS: the parts end inside an entry ({exc})") from None


def read_entries_to_end(reader: Reader, length: int) -> list[Entry]:
    """Entries up to the end of a stream of ``length`` bytes (the parts of ``PRTS``)."""
    entries: list[Entry] = []
    while reader.bytes_read < length:
        if len(entries) >= reader.limits.max_files:
            raise ProtocolError(f"more than {reader.limits.max_files} entries")
        entries.append(_read_entry(reader))
    return entries


def read_entries(reader: Reader, count: int) -> list[Entry]:
    """``count`` entries (the ``NFIL`` header has been read)."""
    if count > reader.limits.max_files:
        raise ProtocolError(f"NFIL {count} exceeds limit {reader.limits.max_files}")
    return [_read_entry(reader) for _ in range(count)]


def _read_entry(reader: Reader) -> Entry:
    path = normal(reader.read_string(NAME))
    token, value = reader.read_header()
    if token in (FDIG, SDIG):
        try:
            digest, size = parse_digest(reader.read_string_body(token, value))
        except BadDigest as exc:
            raise ProtocolError(str(exc)) from None
        if size > reader.limits.max_bulk:
            raise ProtocolError(f"{path}: {size} bytes is over the limit")
        return Entry("F" if token == FDIG else "S", path, digest, size)
    if token == LINK:
        return Entry("L", path, target=reader.read_string_body(LINK, value))
    if token == MDIR:
        if value:
            raise ProtocolError("MDIR carries no body")
        return Entry("D", path)
    raise ProtocolError(f"protocol derailment: expected an entry, got {token!r}")


def plan(entries: list[Entry], store: Store, own: OwnFiles, system_dirs: tuple[str, ...]) -> Plan:
    """What to ask for.  The server's own file is consulted only under ``system_dirs``
    (the compiler's default include directories): a client cannot probe other files."""
    result = Plan()
    asked: set[str] = set()
    for e in entries:
        if e.kind not in ("F", "S"):
            continue
        if e.kind == "S":
            if _under(e.path, system_dirs) and own.digest(e.path) == e.digest:
                result.own.add(e.path)
                continue
            result.system_mismatch = True
        if e.digest in asked or store.has(e.digest):
            continue
        asked.add(e.digest)
        result.need.append((e.digest, e.size))
    return result


def _under(path: str, dirs: tuple[str, ...]) -> bool:
    return any(path.startswith(d.rstrip("/") + "/") for d in dirs)


def need_packets(p: Plan) -> bytes:
    return header(NEED, len(p.need)) + b"".join(string_packet(DGST, d) for d, _ in p.need)


def read_blobs(reader: Reader, p: Plan, store: Store, budget: int) -> None:
    """The ``BLOB`` zlib streams for ``p.need``, verified into the store."""
    total = 0
    for digest, size in p.need:
        length = reader.expect(BLOB)
        if length > zlib_bound(size):
            raise ProtocolError(f"BLOB {digest}: {length} bytes for a {size}-byte file")
        body = reader.read_bulk_body(BLOB, length, False)
        data = inflate(body, size, digest)
        total += len(data)
        if total > budget:
            raise ProtocolError(f"files larger than {budget} bytes in all")
        try:
            store.put(digest, size, data)
        except BadDigest as exc:
            raise ProtocolError(f"BLOB: {exc}") from None


def zlib_bound(size: int) -> int:
    """The most a zlib stream of ``size`` bytes can take (zlib's compressBound, rounded
    up): a larger ``BLOB`` is refused before it is read."""
    return size + (size >> 12) + (size >> 14) + (size >> 25) + 64


def inflate(body: bytes, size: int, digest: str) -> bytes:
    """A ``BLOB`` body: one whole zlib stream of exactly ``size`` bytes, nothing after it
    (empty body = empty file).  Never inflates past ``size + 1`` bytes."""
    import zlib

    if not body:
        return b""
    d = zlib.decompressobj()
    try:
        data = d.decompress(body, size + 1)
    except zlib.error as exc:
        raise ProtocolError(f"BLOB {digest}: bad zlib stream: {exc}") from None
    if len(data) > size:
        raise ProtocolError(f"BLOB {digest}: longer than its announced {size} bytes")
    if not d.eof or d.unconsumed_tail or d.unused_data:
        raise ProtocolError(f"BLOB {digest}: not one whole zlib stream")
    return data


def populate(
    mirror: MirrorRoot, entries: list[Entry], p: Plan, store: Store, chrooted: bool = False
) -> None:
    """Build the root: store files hard-linked (copied when ``chrooted``), links,
    directories, system headers."""
    for e in entries:
        if e.kind == "F":
            if chrooted:
                _copy_from_store(mirror, e.path, store.path(e.digest))
            else:
                _link_from_store(mirror, e.path, store.path(e.digest))
        elif e.kind == "S":
            if chrooted:
                if e.path in p.own:
                    _own_into_store(store, e)
                _copy_from_store(mirror, e.path, store.path(e.digest))
                continue
            if not p.system_mismatch:
                continue  # the compiler reads its own, identical, copies
            if e.path in p.own:
                mirror.symlink_outside(e.path, e.path)
            else:
                _link_from_store(mirror, e.path, store.path(e.digest))
        elif e.kind == "D":
            mirror.make_dir(e.path)
    for e in entries:  # links last: no file is ever written below one
        if e.kind == "L":
            mirror.add_link(e.path, e.target)
    mirror.verify_links()


def _own_into_store(store: Store, e: Entry) -> None:
    """The server's own copy of a matched system header, into the store (once)."""
    if store.has(e.digest):
        return
    try:
        with open(e.path, "rb") as f:
            store.put(e.digest, e.size, f.read())
    except (OSError, BadDigest) as exc:
        raise BadName(f"{e.path}: the server's copy changed or went away ({exc})") from None


def _copy_from_store(mirror: MirrorRoot, client_path: str, source: str) -> None:
    """A private copy, for a chrooted compiler: inside its user namespace it owns the
    files of the root, so through a hard link it could chmod and rewrite the store's file
    (what every later job of every client would then compile)."""
    with open(source, "rb") as f:
        mirror.write_file(client_path, f.read())


def _link_from_store(mirror: MirrorRoot, client_path: str, source: str) -> None:
    try:
        mirror.link_file(client_path, source)
    except OSError as exc:
        import errno

        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        with open(source, "rb") as f:
            mirror.write_file(client_path, f.read())


def system_args(mirror: MirrorRoot, facts: CompilerFacts) -> list[str]:
    """Words to append for a compile that must see the client's system headers: the
    server's default directories, re-rooted, searched before the real ones."""
    out: list[str] = []
    for d in facts.include_dirs:
        out += ["-isystem", mirror.root + d]
        mirror.make_dir(d)
    return out


def _lz4(token: bytes, data: bytes) -> bytes:
    if not data:
        return header(token, 0)
    import lz4.frame

    body: bytes = lz4.frame.compress(data)
    return header(token, len(body)) + body


def reply_packets(
    status: int, stderr: bytes, stdout: bytes, obj: bytes, dotd: bytes, dwo: bytes
) -> bytes:
    ok = status == 0
    return b"".join(
        [
            header(DONE, NATIVE_VERSION),
            header(STAT, status),
            _lz4(SERR, stderr),
            _lz4(SOUT, stdout),
            _lz4(DOTO, obj if ok else b""),
            _lz4(DOTD, dotd if ok else b""),
            _lz4(DDWO, dwo if ok else b""),
        ]
    )


def origin_packet(cached: bool) -> bytes:
    """The reply's last packet: whether it is a stored reply (daemon/results.py)."""
    return header(CHIT, int(cached))


def error_packet(message: str) -> bytes:
    return string_packet(ERRR, message.encode("utf-8", "replace")[:MAX_ERROR])
