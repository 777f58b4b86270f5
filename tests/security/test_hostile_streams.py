"""Malformed byte streams against a real daemon: every protocol, every kind of lie.

Declared lengths far beyond what is sent, non-hex and negative numbers, over-long and
NUL-holding strings, huge counts, truncated streams, idle connections, file entries where
a directory must be.  For each: no reply (protocols 1-3) or an explicit ``ERRR`` (native),
a log line, the daemon alive and its TMPDIR empty, and the next client served.

A declared length is never allocated: checked in-process with ``tracemalloc`` on the
reader, and on the running daemon by holding connections that declare 256 MiB each and
reading the daemon's resident size from /proc.
"""

from __future__ import annotations

import io
import socket
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from common.protocol import (
    ARGC,
    ARGV,
    CDIR,
    DIST,
    DOTI,
    FILE,
    NAME,
    NATIVE_VERSION,
    NFIL,
    PRTS,
    Reader,
    TruncatedError,
    argv_packets,
    header,
    parts_packet,
    read_reply,
    request_head,
    request_v12,
    string_packet,
)
from daemon.job import DAEMON_LIMITS
from tests.daemon.helpers import Daemon, wait_for
from tests.security.conftest import SOURCE

StartDaemon = Callable[..., Daemon]
ALLOW = ("--allow-compiler", "gcc")
GOOD_ARGV = ["gcc", "-c", "hello.c", "-o", "hello.o"]
NATIVE = NATIVE_VERSION


def _dist(version: int) -> bytes:
    return header(DIST, version)


def _v3_head(cwd: str = "/src") -> bytes:
    return request_head(3, GOOD_ARGV, cwd)


def _native_head(cwd: str = "/src") -> bytes:
    return _dist(NATIVE) + string_packet(CDIR, cwd) + argv_packets(GOOD_ARGV)


MB256 = 1 << 28
_BOMB = zlib.compress(b"\0" * (1 << 24), 9)  # 16 MB from a few KB, for a 10-byte part
# name -> raw request (sent whole, then the client waits for the daemon to close)
STREAMS: dict[str, bytes] = {
    "garbage": b"GET / HTTP/1.0\r\n\r\n",
    "non-hex-version": b"DISTzzzzzzzz",
    "negative-version": b"DIST-0000001",
    "version-9": _dist(9),
    "version-0": _dist(0),
    "non-hex-argc": _dist(1) + b"ARGC0000000g",
    "negative-argc": _dist(1) + b"ARGC-0000001",
    "argc-zero": _dist(1) + header(ARGC, 0),
    "argc-huge": _dist(1) + header(ARGC, 0xFFFFFFFF),
    "argv-over-long": _dist(1) + header(ARGC, 1) + header(ARGV, 0x7FFFFFFF) + b"gcc",
    "argv-over-limit": _dist(1) + header(ARGC, 1) + string_packet(ARGV, b"g" * ((1 << 17) + 1)),
    "argv-nul": _dist(1) + argv_packets([b"gcc\0rm", b"-c", b"hello.c"]),
    "argv-wrong-token": _dist(1) + header(ARGC, 1) + string_packet(b"ARGX", b"gcc"),
    "doti-beyond-sent": _dist(1) + argv_packets(GOOD_ARGV) + header(DOTI, MB256) + b"int x;",
    "doti-over-limit": _dist(1) + argv_packets(GOOD_ARGV) + header(DOTI, MB256 + 1),
    "doti-bad-lzo": _dist(2) + argv_packets(GOOD_ARGV) + header(DOTI, 8) + b"\xff" * 8,
    "truncated-header": _dist(1) + b"ARG",
    "truncated-string": _dist(1) + header(ARGC, 1) + header(ARGV, 10) + b"gcc",
    "truncated-source": request_v12(1, GOOD_ARGV, SOURCE)[:-5],
    "v3-cdir-nul": _dist(3) + string_packet(CDIR, b"/src\0x") + argv_packets(GOOD_ARGV),
    "v3-cdir-relative": _dist(3) + string_packet(CDIR, b"src") + argv_packets(GOOD_ARGV),
    "v3-nfil-huge": _v3_head() + header(NFIL, 0xFFFFFFFF),
    "v3-name-over-long": _v3_head() + header(NFIL, 1) + string_packet(NAME, "/" + "a" * 5000),
    "v3-component-over-long": _v3_head() + header(NFIL, 1) + string_packet(NAME, "/" + "a" * 300),
    "v3-file-beyond-sent": _v3_head()
    + header(NFIL, 1)
    + string_packet(NAME, "/src/hello.c")
    + header(FILE, MB256)
    + b"x",
    "v3-file-where-dir-must-be": _v3_head()
    + header(NFIL, 2)
    + string_packet(NAME, "/src")
    + header(FILE, 0)
    + string_packet(NAME, "/src/hello.c")
    + header(FILE, 0),
    "v3-truncated-entries": _v3_head() + header(NFIL, 3) + string_packet(NAME, "/src/a.h"),
    "native-nfil-huge": _native_head() + header(NFIL, 0xFFFFFFFF),
    "native-name-dotdot": _native_head() + header(NFIL, 1) + string_packet(NAME, "/a/../../x"),
    "native-bad-digest": _native_head()
    + header(NFIL, 1)
    + string_packet(NAME, "/src/hello.c")
    + string_packet(b"FDIG", "md5:abc:12"),
    "native-size-huge": _native_head()
    + header(NFIL, 1)
    + string_packet(NAME, "/src/hello.c")
    + string_packet(b"FDIG", "blake2b:" + "0" * 64 + ":99999999999"),
    "native-mdir-body": _native_head()
    + header(NFIL, 1)
    + string_packet(NAME, "/src")
    + header(b"MDIR", 5),
    "native-truncated": _native_head() + header(NFIL, 2),
    "native-prts-ragged": _native_head() + header(PRTS, 35) + b"\0" * 35,
    "native-prts-too-many": _native_head() + header(PRTS, 36 * 5000) + b"\0" * 36 * 5000,
    "native-prts-size-huge": _native_head() + parts_packet([(b"\1" * 32, 0xFFFFFFFF)] * 20),
    "native-prts-truncated": _native_head() + header(PRTS, 36 * 100) + b"\0" * 36,
    "native-part-bad-blob": _native_head()
    + parts_packet([(b"\2" * 32, 10)])
    + header(b"BLOB", 8)
    + b"\xff" * 8,
    "native-part-blob-oversized": _native_head()  # beyond zlib's bound for 10 bytes
    + parts_packet([(b"\4" * 32, 10)])
    + header(b"BLOB", 1 << 20)
    + b"\0" * 64,
    "native-part-bomb": _native_head()
    + parts_packet([(b"\3" * 32, 10)])
    + header(b"BLOB", len(_BOMB))
    + _BOMB,
}


def _talk(daemon: Daemon, data: bytes) -> bytes:
    with daemon.connect() as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # the stream ends here: truncated on purpose
        except OSError:
            return b""
        parts = []
        try:
            while chunk := sock.recv(1 << 16):
                parts.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(parts)


def test_malformed_streams(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(*ALLOW)
    problems = []
    for n, (name, data) in enumerate(STREAMS.items(), 1):
        answer = _talk(daemon, data)
        if name.endswith("truncated"):  # the client is gone: nobody to tell
            if answer and not answer.startswith(b"ERRR"):
                problems.append(f"{name}: answer is not ERRR: {answer[:40]!r}")
        elif name.startswith("native"):
            # (a refused part comes after the daemon's NEED for it)
            if not answer.startswith(b"ERRR") and not (
                answer.startswith(b"NEED") and b"ERRR" in answer
            ):
                problems.append(f"{name}: native refusal is not an ERRR: {answer[:40]!r}")
        elif answer != b"":
            problems.append(f"{name}: got a reply {answer[:40]!r}")
        daemon.wait_log("client: ", n)
        assert daemon.alive(), f"{name} took the daemon down"
    daemon.wait_idle_but_store()
    with daemon.connect() as sock:  # the next client is served
        sock.sendall(request_v12(1, GOOD_ARGV, SOURCE))
        assert read_reply(Reader(sock.makefile("rb")), 1).status == 0
    assert problems == [], "\n".join(problems)
    assert "Traceback" not in daemon.log()


def test_native_refusals_are_explicit(start_daemon: StartDaemon) -> None:
    """A native request that cannot be served gets ``ERRR <reason>``, not a silent close."""
    daemon = start_daemon(*ALLOW)
    for data in (
        _native_head() + header(NFIL, 1) + string_packet(NAME, "/a/../../x"),
        _dist(NATIVE) + string_packet(CDIR, "/src") + argv_packets(["/bin/sh", "-c", "a.c"]),
    ):
        with daemon.connect() as sock:
            sock.sendall(data + header(NFIL, 0))
            reader = Reader(sock.makefile("rb"))
            token, length = reader.read_header()
            assert token == b"ERRR"
            assert reader.read_string_body(token, length)


def test_a_stored_part_named_with_another_size_is_refused(start_daemon: StartDaemon) -> None:
    """A part the daemon holds must have the size announced: else one stored file named
    thousands of times with size 0 would make the daemon build gigabytes."""
    from hashlib import blake2b

    daemon = start_daemon(*ALLOW)
    junk = b"x" * 100_000
    digest = blake2b(junk, digest_size=32).digest()
    with daemon.connect() as sock:  # stores the part (then refuses it: not entries)
        sock.sendall(_native_head() + parts_packet([(digest, len(junk))]))
        reader = Reader(sock.makefile("rb"))
        assert reader.expect(b"NEED") == 1
        reader.read_string(b"DGST")
        packed = zlib.compress(junk)
        sock.sendall(header(b"BLOB", len(packed)) + packed)
        token, length = reader.read_header()
        assert token == b"ERRR", token
    with daemon.connect() as sock:
        sock.sendall(_native_head() + parts_packet([(digest, 0)] * 4000))
        reader = Reader(sock.makefile("rb"))
        assert reader.expect(b"NEED") == 0
        token, length = reader.read_header()
        assert token == b"ERRR"
        assert "is not 0 bytes" in reader.read_string_body(token, length)
    daemon.wait_log("client: ", 2)
    assert daemon.alive()


def test_declared_length_is_not_allocated_by_the_reader() -> None:
    stream = io.BytesIO(header(DOTI, MB256) + b"x" * 100)
    tracemalloc.start()
    try:
        with pytest.raises(TruncatedError):
            Reader(stream, DAEMON_LIMITS).read_bulk(DOTI, False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # what was sent (and a chunk), not the 256 MiB declared


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


HELD = 40


def test_connections_declaring_256_mib_each_cost_nothing(start_daemon: StartDaemon) -> None:
    """40 clients each declare a 256 MiB source, send 6 bytes of it and wait: the
    daemon's resident size stays flat (10 GiB declared in total)."""
    daemon = start_daemon(*ALLOW, "--jobs", "2")
    before = _rss_kib(daemon.pid)
    socks = []
    try:
        for _ in range(HELD):
            sock = daemon.connect()
            sock.sendall(_dist(1) + argv_packets(GOOD_ARGV) + header(DOTI, MB256) + b"int x;")
            socks.append(sock)
        daemon.wait_log("connection from", HELD)
        grown = _rss_kib(daemon.pid) - before
        print(f"\n{HELD} connections x 256 MiB declared: daemon RSS +{grown} KiB")
        assert grown < 64 * 1024, f"daemon grew by {grown} KiB"
    finally:
        for sock in socks:
            sock.close()
    daemon.wait_log("client: ", HELD)
    daemon.wait_idle()


def test_idle_clients_are_dropped_and_the_next_one_served(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(*ALLOW, env={"DISTCC_IO_TIMEOUT": "1"})
    idle = [daemon.connect() for _ in range(3)]
    for sock in idle:
        sock.sendall(_dist(1))  # then silence, mid-request
    for sock in idle:
        assert sock.recv(1) == b""  # closed by the daemon after DISTCC_IO_TIMEOUT
        sock.close()
    assert len(daemon.wait_log("client: ", 3)) == 3
    with daemon.connect() as sock:
        sock.sendall(request_v12(1, GOOD_ARGV, SOURCE))
        assert read_reply(Reader(sock.makefile("rb")), 1).status == 0
    wait_for(lambda: not any(daemon.tmp_dir.iterdir()), "an empty TMPDIR")


def _closed(sock: socket.socket) -> bool:
    sock.setblocking(False)  # with a timeout set, recv would wait for it first
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_silent_connections_cannot_starve_the_daemon(start_daemon: StartDaemon) -> None:
    # --jobs 2: 64 connection places (and a job slot for the real client below, whose
    # compiler starts on its head).  DISTCC_IO_TIMEOUT 8: silent ones are evicted after
    # 4 s, when a newcomer needs a place; before that a newcomer is refused.
    daemon = start_daemon(*ALLOW, "--jobs", "2", env={"DISTCC_IO_TIMEOUT": "8"})
    idle = [daemon.connect() for _ in range(64)]
    try:
        # The first is a real client: its request head sent, it waits for its cpp (the
        # longest silence of all, but the most bytes: not the one evicted).
        idle[0].sendall(_dist(1) + argv_packets(GOOD_ARGV))
        daemon.wait_log("connection from", 1)
        for sock in idle[1:]:
            sock.sendall(_dist(1))  # then silence, mid-request
        daemon.wait_log("connection from", 64)
        with daemon.connect() as sock:  # every place taken, nobody silent long enough
            sock.sendall(request_v12(1, GOOD_ARGV, SOURCE))
            wait_for(lambda: _closed(sock), "the refused connection closed")
        daemon.wait_log("too many connections", 1)
        assert daemon.log_lines("silent for") == []
        time.sleep(4.2)
        with daemon.connect() as sock:
            sock.sendall(request_v12(1, GOOD_ARGV, SOURCE))
            assert read_reply(Reader(sock.makefile("rb")), 1).status == 0
        evicted = daemon.log_lines("silent for")
        assert len(evicted) == 1, evicted
        assert sum(_closed(sock) for sock in idle) == 1  # the other 63 are still held
        assert not _closed(idle[0])
        idle[0].setblocking(True)
        idle[0].sendall(header(DOTI, len(SOURCE)) + SOURCE)  # its cpp is done
        assert read_reply(Reader(idle[0].makefile("rb")), 1).status == 0
    finally:
        for sock in idle:
            sock.close()
    daemon.wait_log("client: ", 65)
    wait_for(lambda: not any(daemon.tmp_dir.iterdir()), "an empty TMPDIR")
