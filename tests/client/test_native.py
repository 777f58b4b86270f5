"""The client's half of the native protocol: closure entries from a real include server."""

from __future__ import annotations

import io
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.native import (
    Entry,
    NativeRefused,
    digest_of,
    entry_bytes,
    parse_entry,
    request_head,
    run,
    split_parts,
)
from client.pumpmode import NotCovered
from common.protocol import (
    BLOB,
    DGST,
    DONE,
    NATIVE_VERSION,
    NEED,
    PRTS,
    STAT,
    ProtocolError,
    Reader,
    header,
    parse_parts,
    string_packet,
)


@pytest.fixture
def include_server(tool_bin: Path, tmp_path: Path) -> Iterator[str]:
    sock = tmp_path / "is.sock"
    pid_file = tmp_path / "is.pid"
    subprocess.run(
        [
            str(tool_bin / "include-server"),
            "start",
            "--port",
            str(sock),
            "--pid_file",
            str(pid_file),
        ],
        check=True,
        timeout=60,
    )
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield str(sock)
    subprocess.run(
        [str(tool_bin / "include-server"), "stop", "--port", str(sock)], check=False, timeout=30
    )


def test_closure_entries_carry_digests(include_server: str, tmp_path: Path) -> None:
    from client.native import ask_closure

    src = tmp_path / "src"
    (src / "inc").mkdir(parents=True)
    (src / "inc" / "h.h").write_text("#define X 1\n")
    (src / "a.c").write_text('#include <stdio.h>\n#include "inc/h.h"\nint x = X;\n')
    entries = ask_closure(include_server, str(src), ("gcc", "-c", "a.c", "-o", "a.o"))
    by_path = {e.path: e for e in entries}
    a = by_path[str(src / "a.c")]
    h = by_path[str(src / "inc" / "h.h")]
    assert a.kind == h.kind == "F"
    assert h.digest == digest_of((src / "inc" / "h.h").read_bytes())
    assert h.size == len("#define X 1\n")
    assert any(e.kind == "S" and e.path.endswith("/stdio.h") for e in entries)


def test_not_covered_without_a_server(tmp_path: Path) -> None:
    from client.native import ask_closure

    with pytest.raises(NotCovered):
        ask_closure(str(tmp_path / "none.sock"), "/", ("gcc", "-c", "a.c"))


@pytest.mark.parametrize(
    ("line", "entry"),
    [
        ("F\tblake2b:ab\t12\t/x/a.h", Entry("F", "/x/a.h", "blake2b:ab", 12)),
        ("S\tblake2b:cd\t3\t/usr/include/s.h", Entry("S", "/usr/include/s.h", "blake2b:cd", 3)),
        ("L\t/x/l\t../y", Entry("L", "/x/l", target="../y")),
        ("D\t/x/d", Entry("D", "/x/d")),
    ],
)
def test_parse_entry(line: str, entry: Entry) -> None:
    assert parse_entry(line) == entry


@pytest.mark.parametrize("line", ["F\tx\t1", "Q\t/x", "L\t/x", "D", "F\td\tnotanumber\t/x"])
def test_parse_entry_rejects(line: str) -> None:
    with pytest.raises((ProtocolError, ValueError)):
        parse_entry(line)


def test_request_head_encodes_each_kind() -> None:
    head = request_head(
        "/w",
        ["gcc", "-c", "a.c"],
        [
            Entry("F", "/w/a.c", "blake2b:00", 5),
            Entry("L", "/w/l", target="t"),
            Entry("D", "/w/d"),
            Entry("S", "/usr/include/s.h", "blake2b:11", 2),
        ],
    )
    assert head.startswith(b"DIST50590003CDIR00000002/wARGC00000003")
    assert b"NFIL00000004" in head
    assert b"FDIG0000000cblake2b:00:5" in head
    assert b"LINK00000001t" in head and b"MDIR00000000" in head
    assert b"SDIG0000000cblake2b:11:2" in head


# ------------------------------------------------------------------ parts (PRTS)
def _closure(n: int, system: int = 0) -> list[Entry]:
    out = [Entry("F", f"/p/src/f{i:03}.h", digest_of(b"%d" % i), 1) for i in range(n)]
    out += [Entry("S", f"/usr/include/s{i:03}.h", digest_of(b"s%d" % i), 2) for i in range(system)]
    return [*out, Entry("L", "/p/lnk", target="src"), Entry("D", "/p/dir")]


def test_parts_hold_every_entry_once_system_headers_first() -> None:
    entries = _closure(100, system=150)
    parts = split_parts(entries)
    assert len(parts) > 4  # cut: ~16 entries a part
    joined = b"".join(parts)
    assert sorted(joined.split(b"NAME")[1:]) == sorted(
        entry_bytes(e).split(b"NAME")[1] for e in entries
    )
    first_project = joined.index(b"/p/")
    assert joined.rindex(b"/usr/include/") < first_project
    # No part mixes system headers with the rest.
    assert all(not (b"/usr/include/" in p and b"/p/" in p) for p in parts)


def test_parts_do_not_depend_on_the_include_servers_order() -> None:
    entries = _closure(60, system=60)
    assert split_parts(entries) == split_parts(list(reversed(entries)))


def test_one_more_header_changes_one_part() -> None:
    """Content-defined cuts: an inserted entry changes the part it lands in, not the
    ones after it (fixed-size parts would all shift)."""
    entries = _closure(200)
    before = set(split_parts(entries))
    after = split_parts([*entries, Entry("F", "/p/src/f050x.h", digest_of(b"x"), 1)])
    assert len([p for p in after if p not in before]) == 1
    assert len(before - set(after)) == 1


class FakeDaemon:
    """A connection whose daemon's answers are scripted; what the client sends is kept."""

    def __init__(self, answers: bytes) -> None:
        self._in = io.BytesIO(answers)
        self.sent = b""
        self.bytes_sent = 0
        self.bytes_received = 0

    def cork(self, on: bool) -> None:
        pass

    def send(self, data: bytes) -> None:
        self.sent += data
        self.bytes_sent += len(data)

    def read(self, n: int) -> bytes:
        return self._in.read(n)


def _need(digests: list[str]) -> bytes:
    return header(NEED, len(digests)) + b"".join(string_packet(DGST, d) for d in digests)


_REPLY = (
    header(DONE, NATIVE_VERSION)
    + header(STAT, 0)
    + b"".join(header(t, 0) for t in (b"SERR", b"SOUT", b"DOTO", b"DOTD", b"DDWO"))
    + header(b"CHIT", 0)
)


def _sent_parts(conn: FakeDaemon) -> tuple[list[bytes], Reader]:
    """The PRTS digests the client named, and a reader positioned after them."""
    reader = Reader(io.BytesIO(conn.sent))
    reader.expect(b"DIST")
    reader.read_string(b"CDIR")
    reader.read_argv()
    body = reader.read_bulk_body(PRTS, reader.expect(PRTS), False)
    return [d for d, _ in parse_parts(body)], reader


class Outcome:
    bytes_sent = 0
    bytes_received = 0
    files_offered = 0
    files_sent = 0
    cached = False


def test_run_sends_only_the_parts_the_daemon_lacks(tmp_path: Path) -> None:
    src = tmp_path / "a.c"
    src.write_bytes(b"int a;\n")
    entries = [*_closure(40, system=40), Entry("F", str(src), digest_of(b"int a;\n"), 7)]
    parts = split_parts(entries)
    lacking = [digest_of(parts[1]), digest_of(parts[-1])]
    conn = FakeDaemon(_need(lacking) + _need([digest_of(b"int a;\n")]) + _REPLY)
    outcome = Outcome()
    reply = run(conn, "/p", ["gcc", "-c", "a.c"], entries, outcome)  # type: ignore[arg-type]
    assert reply.status == 0
    assert (outcome.files_offered, outcome.files_sent, outcome.cached) == (81, 1, False)
    named, reader = _sent_parts(conn)
    assert ["blake2b:" + d.hex() for d in named] == [digest_of(p) for p in parts]
    got = [zlib.decompress(reader.read_bulk(BLOB, False)) for _ in range(3)]
    assert got == [parts[1], parts[-1], b"int a;\n"]
    assert reader.stream.read() == b""


def test_run_sends_no_part_to_a_daemon_that_has_them_all() -> None:
    entries = _closure(30, system=30)
    conn = FakeDaemon(_need([]) + _need([]) + _REPLY[:-12] + header(b"CHIT", 1))
    outcome = Outcome()
    run(conn, "/p", ["gcc", "-c", "a.c"], entries, outcome)  # type: ignore[arg-type]
    assert (outcome.files_sent, outcome.cached) == (0, True)  # a stored reply
    named, reader = _sent_parts(conn)
    assert len(named) == len(split_parts(entries))
    assert reader.stream.read() == b""  # the request head, nothing else


@pytest.mark.parametrize(
    "answer",
    [
        _need(["blake2b:" + "0" * 64]),  # a part we did not offer
        header(NEED, 10_000),  # more parts than we offered
    ],
)
def test_run_refuses_a_daemon_asking_for_what_was_not_offered(answer: bytes) -> None:
    with pytest.raises(ProtocolError):
        run(FakeDaemon(answer), "/p", ["gcc"], _closure(5), Outcome())  # type: ignore[arg-type]


def test_run_raises_native_refused_on_errr() -> None:
    conn = FakeDaemon(string_packet(b"ERRR", "busy"))
    with pytest.raises(NativeRefused, match="busy"):
        run(conn, "/p", ["gcc"], _closure(5), Outcome())  # type: ignore[arg-type]
