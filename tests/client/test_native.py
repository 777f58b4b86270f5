"""The client's half of the native protocol: closure entries from a real include server."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.native import Entry, digest_of, parse_entry, request_head
from client.pumpmode import NotCovered
from common.protocol import ProtocolError


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
    assert head.startswith(b"DIST50590001CDIR00000002/wARGC00000003")
    assert b"NFIL00000004" in head
    assert b"FDIG0000000cblake2b:00:5" in head
    assert b"LINK00000001t" in head and b"MDIR00000000" in head
    assert b"SDIG0000000cblake2b:11:2" in head
