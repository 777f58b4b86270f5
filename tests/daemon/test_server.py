"""The accept loop: access control, job slots, connection handling, the stats page."""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from common.protocol import DOTI, Reader, Reply, bulk_packet, read_reply, request_head, request_v12
from tests.daemon.helpers import Daemon, preprocess, wait_for

StartDaemon = Callable[..., Daemon]
ARGV = ["gcc", "-c", "hello.c", "-o", "hello.o"]


def _fake_compiler(path: Path, marks: Path) -> Path:
    """A compiler that reads its source (stdin when it is given "-", as a compiler started
    before its source arrives is), then records overlap, waits for a release file, then
    writes its -o."""
    path.write_text(
        "#!/bin/sh\n"
        f'd="{marks}"\n'
        'for a in "$@"; do [ "$a" = "-" ] && cat > /dev/null; done\n'
        'mkdir "$d/running" 2>/dev/null || touch "$d/overlap"\n'
        'echo $$ >> "$d/started"\n'
        'while [ ! -e "$d/release" ]; do sleep 0.01; done\n'
        'out=; prev=; for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done\n'
        'echo object > "$out"\n'
        'rmdir "$d/running" 2>/dev/null || true\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _started(marks: Path) -> int:
    path = marks / "started"
    return len(path.read_text().split()) if path.exists() else 0


def _compile_in_thread(daemon: Daemon, argv: list[str], results: list[Reply]) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: results.append(daemon.compile(1, argv, b"int x;\n")), daemon=True
    )
    thread.start()
    return thread


def test_jobs_limit_queues_without_blocking_accept(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    cc = _fake_compiler(tmp_path / "fake-gcc", marks)
    daemon = start_daemon("--allow-compiler", str(cc), "--jobs", "1")
    argv = [str(cc), "-c", "x.c", "-o", "x.o"]
    results: list[Reply] = []
    threads = [_compile_in_thread(daemon, argv, results) for _ in range(3)]
    wait_for(lambda: _started(marks) == 1, "the first compile")
    # The only slot is taken: the accept loop still answers, and bad requests are read.
    assert daemon.exchange(b"DIST00000001ARGCzzzzzzzz") == b""
    daemon.wait_log("REJ_BAD_REQ")
    assert _started(marks) == 1
    (marks / "release").touch()
    for thread in threads:
        thread.join(30)
    assert [r.status for r in results] == [0, 0, 0]
    assert all(r.obj == b"object\n" for r in results)
    assert _started(marks) == 3
    assert not (marks / "overlap").exists()


def test_a_compiler_waiting_for_its_source_holds_no_slot(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """Client A sends its command and is still preprocessing: its compiler is started, on
    a pipe, but the only slot stays free, so client B's whole request compiles meanwhile."""
    marks = tmp_path / "marks"
    marks.mkdir()
    (marks / "release").touch()
    cc = _fake_compiler(tmp_path / "fake-gcc", marks)
    daemon = start_daemon("--allow-compiler", str(cc), "--jobs", "1")
    argv = [str(cc), "-c", "x.c", "-o", "x.o"]
    slow = daemon.connect()
    try:
        slow.sendall(request_head(1, argv))  # ... its cpp still running
        daemon.wait_log("connection from")
        reply = daemon.compile(1, argv, b"int y;\n")
        assert (reply.status, reply.obj) == (0, b"object\n")
        assert _started(marks) == 1
        slow.sendall(bulk_packet(DOTI, b"int x;\n", False))
        late = read_reply(Reader(slow.makefile("rb")), 1)
        assert (late.status, late.obj) == (0, b"object\n")
    finally:
        slow.close()
    assert _started(marks) == 2
    assert not (marks / "overlap").exists()


def test_two_jobs_run_at_once(start_daemon: StartDaemon, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    cc = _fake_compiler(tmp_path / "fake-gcc", marks)
    daemon = start_daemon("--allow-compiler", str(cc), "--jobs", "2")
    argv = [str(cc), "-c", "x.c", "-o", "x.o"]
    results: list[Reply] = []
    threads = [_compile_in_thread(daemon, argv, results) for _ in range(2)]
    wait_for(lambda: _started(marks) == 2, "two compiles at once")
    assert (marks / "overlap").exists()
    (marks / "release").touch()
    for thread in threads:
        thread.join(30)
    assert [r.status for r in results] == [0, 0]


def test_queued_client_that_leaves_never_runs(start_daemon: StartDaemon, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    cc = _fake_compiler(tmp_path / "fake-gcc", marks)
    daemon = start_daemon("--allow-compiler", str(cc), "--jobs", "1")
    argv = [str(cc), "-c", "x.c", "-o", "x.o"]
    results: list[Reply] = []
    first = _compile_in_thread(daemon, argv, results)
    wait_for(lambda: _started(marks) == 1, "the first compile")
    queued = daemon.connect()
    queued.sendall(request_v12(1, argv, b"int y;\n"))
    daemon.wait_log("connection from", 2)
    queued.close()
    daemon.wait_log("client disconnected while queued")
    (marks / "release").touch()
    first.join(30)
    assert [r.status for r in results] == [0]
    assert _started(marks) == 1


def test_allow_refuses_other_addresses(start_daemon: StartDaemon, hello: Path) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", "--allow", "127.0.0.2")
    request = request_v12(1, ARGV, preprocess(hello))
    assert daemon.exchange(request, source="127.0.0.1") == b""
    daemon.wait_log("denied by access list")
    assert daemon.compile(1, ARGV, preprocess(hello), client="127.0.0.2").status == 0


def test_allow_with_mask(start_daemon: StartDaemon, hello: Path) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", "--allow", "127.0.0.0/30")
    assert daemon.compile(2, ARGV, preprocess(hello), client="127.0.0.3").status == 0
    assert daemon.exchange(request_v12(2, ARGV, b"int x;"), source="127.0.0.4") == b""
    assert "client '127.0.0.4:" in daemon.wait_log("denied by access list")[0]


def test_ipv6_listen_and_allow(start_daemon: StartDaemon, hello: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1 here")
    daemon = start_daemon("--allow-compiler", "gcc", "--allow", "::1", host="::1")
    with socket.create_connection(("::1", daemon.port), timeout=20) as sock:
        sock.sendall(request_v12(1, ARGV, preprocess(hello)))
        assert sock.recv(4)[:4] == b"DONE"


def test_stats_page(start_daemon: StartDaemon, hello: Path) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", "--stats", "--jobs", "3")
    assert daemon.compile(1, ARGV, preprocess(hello)).status == 0
    daemon.exchange(b"DIST0000000zjunk")
    daemon.wait_log("REJ_BAD_REQ")
    daemon.wait_log("COMPILE_OK")  # counted before the summary is logged
    with socket.create_connection((daemon.host, daemon.stats_port), timeout=20) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        page = b""
        while chunk := sock.recv(4096):
            page += chunk
    text = page.decode()
    assert text.startswith("HTTP/1.0 200 OK\nContent-Type: text/plain\nConnection: close\n\n")
    assert "argv /distccd\n<distccstats>\n" in text
    assert text.endswith("</distccstats>\n")
    values = dict(line.split(" ", 1) for line in text.split("<distccstats>\n")[1].splitlines()[:-1])
    assert values["dcc_tcp_accept"] == "2"
    assert values["dcc_compile_ok"] == "1"
    assert values["dcc_rej_bad_req"] == "1"
    assert values["dcc_longest_job"] == "hello.c"
    assert values["dcc_longest_job_compiler"] == "gcc"
    assert values["dcc_max_kids"] == "3"
    assert values["dcc_num_compiles1"] == "1"
    assert values["dcc_free_space"].endswith(" MB")


def test_stats_port_obeys_access_list(start_daemon: StartDaemon) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", "--stats", "--allow", "127.0.0.2")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(20)
        sock.connect((daemon.host, daemon.stats_port))
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass
    daemon.wait_log("denied by access list")


def test_many_clients_at_once(start_daemon: StartDaemon, hello: Path) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", "--jobs", "2")
    source = preprocess(hello)
    results: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        status = daemon.compile(2, ARGV, source).status
        with lock:
            results.append(status)

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [0] * 12
    daemon.wait_idle()
    assert len(daemon.wait_log("COMPILE_OK", 12)) == 12


def test_sigterm_kills_running_compilers(start_daemon: StartDaemon, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    cc = _fake_compiler(tmp_path / "fake-gcc", marks)
    daemon = start_daemon("--allow-compiler", str(cc))
    sock = daemon.connect()
    sock.sendall(request_v12(1, [str(cc), "-c", "x.c", "-o", "x.o"], b"int x;\n"))
    wait_for(lambda: _started(marks) == 1, "the compile")
    pid = int((marks / "started").read_text())
    daemon.stop()

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, "the compiler to be killed")
    # No reply: the client must see a failed host (and retry), not a crashed compiler.
    try:
        assert sock.recv(100) == b""
    except ConnectionResetError:
        pass
    sock.close()
    assert "daemon shutting down" in daemon.log()


def test_sigterm_with_a_half_sent_request_cleans_up(start_daemon: StartDaemon) -> None:
    daemon = start_daemon("--allow-compiler", "gcc")
    sock = daemon.connect()
    sock.sendall(request_v12(1, ARGV, b"int x;\n")[:-4])  # DOTI incomplete: job dir exists
    wait_for(lambda: any(daemon.tmp_dir.iterdir()), "the job directory")
    daemon.stop()
    assert list(daemon.tmp_dir.iterdir()) == []
    sock.close()


def test_too_many_connections_are_dropped(start_daemon: StartDaemon, hello: Path) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", "--jobs", "1")  # 64 connections at most
    idle = []
    try:
        for _ in range(64):
            sock = daemon.connect()
            sock.sendall(b"DIST00000001")  # then silence: the connection stays open
            idle.append(sock)
        daemon.wait_log("connection from", 64)
        assert daemon.exchange(request_v12(1, ARGV, preprocess(hello))) == b""
        daemon.wait_log("too many connections")
    finally:
        for sock in idle:
            sock.close()
    # Once they are gone, clients are served again.
    daemon.wait_log(" OTHER ", 64)
    assert daemon.compile(1, ARGV, preprocess(hello)).status == 0
