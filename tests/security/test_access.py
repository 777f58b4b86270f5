"""Who may connect, where the daemon listens, and whom it runs as.

- ``--allow`` with IPv4, IPv6 and IPv4-mapped addresses, on real loopback sockets: a
  client on 127.0.0.2 is refused (closed without a byte, logged) when only 127.0.0.1 is
  allowed, and served when it is;
- with no ``--listen`` the daemon binds 127.0.0.1 only (checked in /proc/net/tcp and by
  connecting to 127.0.0.2);
- started as root without ``--user``, the daemon drops to an unprivileged account before
  serving: its uids and gids in /proc, and the uid its compilers run under.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.protocol import Reader, read_reply, request_v12
from tests.daemon.helpers import Daemon, free_port, wait_for
from tests.security.conftest import SOURCE

StartDaemon = Callable[..., Daemon]
ARGV = ["gcc", "-c", "hello.c", "-o", "hello.o"]
ALLOW = ("--allow-compiler", "gcc")


def _served(daemon: Daemon, source: str | None, family: int = socket.AF_INET) -> bool:
    """True if the daemon compiles for a client bound to ``source``; False if it closes."""
    with socket.socket(family) as sock:
        if source:
            sock.bind((source, 0))
        sock.settimeout(20)
        sock.connect((daemon.host, daemon.port))
        sock.sendall(request_v12(1, ARGV, SOURCE))
        try:
            head = sock.recv(12)
        except ConnectionResetError:
            return False
        if not head:
            return False
        assert head.startswith(b"DONE")
        return True


def test_client_on_127_0_0_2_refused_when_only_127_0_0_1_allowed(
    start_daemon: StartDaemon,
) -> None:
    daemon = start_daemon(*ALLOW, "--allow", "127.0.0.1")
    assert not _served(daemon, "127.0.0.2")
    assert daemon.wait_log("connection from client '127.0.0.2:")
    assert "denied by access list" in daemon.wait_log("127.0.0.2")[0]
    assert _served(daemon, "127.0.0.1")
    daemon.wait_idle()


def test_subnet_allows_the_whole_range(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(*ALLOW, "--allow", "127.0.0.0/30")
    assert _served(daemon, "127.0.0.2")
    assert _served(daemon, "127.0.0.3")
    assert not _served(daemon, "127.0.0.4")


def test_ipv6_loopback(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(*ALLOW, "--allow", "::1", host="::1")
    assert _served(daemon, None, socket.AF_INET6)
    refusing = start_daemon(*ALLOW, "--allow", "fe80::/10", host="::1")
    assert not _served(refusing, None, socket.AF_INET6)


def test_mapped_addresses_on_a_dual_stack_socket(start_daemon: StartDaemon) -> None:
    """IPv4 clients of a ``::`` socket appear as ``::ffff:a.b.c.d``: matched as IPv4, and
    so are mapped ``--allow`` entries."""
    daemon = start_daemon(*ALLOW, "--allow", "127.0.0.1", "--allow", "::ffff:127.0.0.3", host="::")
    daemon.host = "127.0.0.1"  # reach the dual-stack socket over IPv4
    assert _served(daemon, "127.0.0.1")
    assert not _served(daemon, "127.0.0.2")
    assert _served(daemon, "127.0.0.3")
    assert daemon.wait_log("denied by access list")[0].count("127.0.0.2") == 1


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp{,6} shows them) listening on ``port``."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # TCP_LISTEN
                out.append(address)
    return out


def test_loopback_only_by_default(tool_bin: Path, tmp_path: Path) -> None:
    port = free_port()
    pid_file = tmp_path / "pid"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
    env["TMPDIR"] = str(tmp_path)
    cmd = [str(tool_bin / "distccd"), "--daemon", "--port", str(port), "--pid-file",
           str(pid_file), "--log-file", str(tmp_path / "log"), *ALLOW]  # fmt: skip
    if os.geteuid() == 0:
        cmd += ["--user", "root"]
    subprocess.run(cmd, env=env, check=True, timeout=30)
    pid = int(pid_file.read_text())
    try:
        assert _listening(port) == ["0100007F"]  # 127.0.0.1, nothing else
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(("127.0.0.2", port))
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(request_v12(1, ARGV, SOURCE))
            assert read_reply(Reader(sock.makefile("rb")), 1).status == 0
    finally:
        os.kill(pid, 15)
        wait_for(lambda: not pid_file.exists(), "the daemon to exit")


@pytest.fixture
def shared_work() -> Iterator[Path]:
    """A directory an unprivileged daemon can use (pytest's are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="distccd-sec-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _ids(pid: int) -> tuple[list[int], list[int], list[int]]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    get = {line.split(":")[0]: line.split(":")[1].split() for line in status}
    return (
        [int(x) for x in get["Uid"]],
        [int(x) for x in get["Gid"]],
        [int(x) for x in get["Groups"]],
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_drops_to_an_unprivileged_user_before_serving(
    tool_bin: Path, shared_work: Path
) -> None:
    """No ``--user``: distccd picks distcc, distccd or nobody, never stays root."""
    script = shared_work / "whoami-cc"
    script.write_text("#!/bin/sh\nid -u\nid -G\n")
    script.chmod(0o755)
    port = free_port()
    pid_file, log = shared_work / "pid", shared_work / "log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
    env["TMPDIR"] = str(shared_work)
    cmd = [str(tool_bin / "distccd"), "--daemon", "--port", str(port), "--pid-file",
           str(pid_file), "--log-file", str(log), "--log-level", "info",
           "--allow-compiler", str(script)]  # fmt: skip
    started = subprocess.run(cmd, env=env, check=True, timeout=30, capture_output=True, text=True)
    pid = int(pid_file.read_text())
    try:
        uids, gids, groups = _ids(pid)
        assert 0 not in uids and 0 not in gids and 0 not in groups, (uids, gids, groups)
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(request_v12(1, [str(script), "-c", "a.c", "-o", "a.o"], SOURCE))
            reply = read_reply(Reader(sock.makefile("rb")), 1)
        uid_line, groups_line = reply.stdout.decode().split("\n")[:2]
        assert int(uid_line) == uids[0] != 0
        assert "0" not in groups_line.split()
        assert "discarded root privileges" in started.stderr  # before the log file opens
    finally:
        os.kill(pid, 15)
        wait_for(lambda: not pid_file.exists(), "the daemon to exit")
