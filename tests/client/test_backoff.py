"""Backoff files: naming, timing against an injected clock, and interop with stock distcc."""

from __future__ import annotations

import os
import select
import socket
import subprocess
from pathlib import Path

import pytest

from client.backoff import backoff_path, enjoyed, in_backoff, mark, usable_hosts
from client.hosts import Host, Mode, local_host, parse_hosts
from client.locks import lock_dir

NEEDS_DISTCC = pytest.mark.skipif(
    not os.path.exists("/usr/bin/distcc"), reason="needs Debian's distcc"
)


def tcp(name: str, port: int = 3632) -> Host:
    return Host(Mode.TCP, name, port=port)


def test_file_names(tmp_path: Path) -> None:
    d = str(tmp_path)
    hosts = parse_hosts("localhost box:4000 u@sshbox", "x", 1).hosts
    assert [os.path.basename(backoff_path(d, h)) for h in hosts] == [
        "backoff_localhost_0",
        "backoff_tcp_box_4000_0",
        "backoff_ssh_sshbox_0",
    ]


def test_mark_writes_one_byte_and_sets_mtime(tmp_path: Path) -> None:
    d = str(tmp_path)
    host = tcp("box")
    path = backoff_path(d, host)
    mark(d, host)
    mark(d, host)  # again: still one byte, rewritten at offset 0
    assert Path(path).read_bytes() == b"x"
    os.utime(path, (1000, 1000))
    mark(d, host)
    assert os.stat(path).st_mtime > 1000


def test_backoff_period_against_injected_clock(tmp_path: Path) -> None:
    d = str(tmp_path)
    host = tcp("box")
    assert not in_backoff(d, host, 60, now=5000.0)  # no file
    mark(d, host)
    os.utime(backoff_path(d, host), (4000, 4000))
    assert in_backoff(d, host, 60, now=4000.0)
    assert in_backoff(d, host, 60, now=4059.9)
    assert not in_backoff(d, host, 60, now=4060.0)
    assert in_backoff(d, host, 120, now=4060.0)
    assert not in_backoff(d, host, 0, now=4000.0)  # period 0: backoff is off


def test_enjoyed_removes_the_mark(tmp_path: Path) -> None:
    d = str(tmp_path)
    host = tcp("box")
    mark(d, host)
    enjoyed(d, host)
    assert not os.path.exists(backoff_path(d, host))
    enjoyed(d, host)  # nothing to remove: fine


def test_period_zero_touches_no_files(tmp_path: Path) -> None:
    d = str(tmp_path)
    host = tcp("box")
    mark(d, host, period=0)
    assert not os.path.exists(backoff_path(d, host))
    mark(d, host)
    enjoyed(d, host, period=0)
    assert os.path.exists(backoff_path(d, host))


def test_usable_hosts_keeps_order(tmp_path: Path) -> None:
    d = str(tmp_path)
    a, b, c = tcp("a"), tcp("b"), local_host(2)
    mark(d, b)
    now = os.stat(backoff_path(d, b)).st_mtime
    assert usable_hosts(d, [a, b, c], 60, now) == (a, c)
    assert usable_hosts(d, [a, b, c], 60, now + 60) == (a, b, c)
    assert usable_hosts(d, [a, b, c], 0, now) == (a, b, c)


# --------------------------------------------------------------------------- stock distcc


def run_distcc(tmp_path: Path, hosts: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    (tmp_path / "hello.c").write_text("int main(void) { return 0; }\n")
    return subprocess.Popen(
        ["/usr/bin/distcc", "gcc", "-c", "hello.c", "-o", "hello.o"],
        cwd=tmp_path,
        env=dict(env, DISTCC_HOSTS=hosts, DISTCC_IO_TIMEOUT="60"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.interop
@NEEDS_DISTCC
def test_we_see_stock_distccs_backoff(tmp_path: Path, clean_env: dict[str, str]) -> None:
    d = lock_dir(clean_env["DISTCC_DIR"], user_set=True)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    port = closed.getsockname()[1]
    try:
        proc = run_distcc(tmp_path, f"127.0.0.1:{port}", clean_env)
        assert proc.wait(timeout=60) == 0  # failed to distribute, compiled locally
    finally:
        closed.close()
    host = parse_hosts(f"127.0.0.1:{port}", "x", 1).hosts[0]
    path = backoff_path(d, host)
    assert os.path.exists(path)
    assert in_backoff(d, host, 60, now=os.stat(path).st_mtime + 1)


@pytest.mark.interop
@NEEDS_DISTCC
def test_stock_distcc_honours_our_backoff(tmp_path: Path, clean_env: dict[str, str]) -> None:
    d = lock_dir(clean_env["DISTCC_DIR"], user_set=True)
    first, second = socket.socket(), socket.socket()
    for s in (first, second):
        s.bind(("127.0.0.1", 0))
        s.listen(4)
    spec = f"127.0.0.1:{first.getsockname()[1]} 127.0.0.1:{second.getsockname()[1]}"
    mark(d, parse_hosts(spec, "x", 1).hosts[0])
    proc = run_distcc(tmp_path, spec, clean_env)
    try:
        ready, _, _ = select.select([first, second], [], [], 30)
        assert ready == [second]  # the first host is in backoff: distcc skipped it
    finally:
        proc.kill()
        proc.wait(timeout=30)
        first.close()
        second.close()
