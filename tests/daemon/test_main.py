"""The command as scripts use it: --help, --version, exit codes, pid file, detach, signals."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from common.protocol import Reader, read_reply, request_v12
from tests.daemon.helpers import Daemon, free_port, preprocess, user_args, wait_for

StartDaemon = Callable[..., Daemon]


def _run(tool_bin: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
    return subprocess.run(
        [str(tool_bin / "distccd"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=cwd,
    )


def test_help(tool_bin: Path) -> None:
    done = _run(tool_bin, "--help")
    assert done.returncode == 0
    assert "Usage:" in done.stdout
    assert "--allow-compiler" in done.stdout


def test_version(tool_bin: Path) -> None:
    done = _run(tool_bin, "--version")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["distccd", "3.4"]
    assert lines[1] == "  (protocols 1, 2 and 3) (default port 3632)"


@pytest.mark.parametrize("args", [["--bogus-option"], ["--jobs", "0"], ["--allow", "10.0.0.0/99"]])
def test_bad_arguments_exit_101(tool_bin: Path, args: list[str]) -> None:
    assert _run(tool_bin, "--no-detach", *args).returncode == 101


def test_bad_port_exits_101_without_pid_file(tool_bin: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    done = _run(tool_bin, "--daemon", "--port", "80000", "--pid-file", str(pid_file))
    assert done.returncode == 101
    assert not pid_file.exists()


def test_bind_failure_exits_102(tool_bin: Path, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        pid_file = tmp_path / "pid"
        done = _run(
            tool_bin,
            "--daemon",
            "--allow-compiler",
            "gcc",
            "--port",
            str(port),
            "--pid-file",
            str(pid_file),
            *user_args(),
        )
    assert done.returncode == 102
    assert "bind of 127.0.0.1:" in done.stderr
    assert not pid_file.exists()


def test_detach_writes_pid_file_then_sigterm_removes_it(start_daemon: StartDaemon) -> None:
    daemon = start_daemon("--allow-compiler", "gcc")
    # The launcher has exited (0) already: the pid file names the detached child.
    assert daemon.alive()
    assert os.getsid(daemon.pid) == daemon.pid  # a session of its own
    with daemon.connect():
        pass
    os.kill(daemon.pid, signal.SIGTERM)
    wait_for(lambda: not daemon.pid_file.exists(), "the pid file to be removed")
    daemon.pid = 0
    with pytest.raises(ConnectionRefusedError), socket.socket() as sock:
        sock.connect((daemon.host, daemon.port))
    assert "got signal 15" in daemon.log()


def test_relative_pid_and_log_file(tool_bin: Path, tmp_path: Path) -> None:
    port = free_port()
    done = _run(
        tool_bin,
        "--daemon",
        "--allow-compiler",
        "gcc",
        "--port",
        str(port),
        "--pid-file",
        "d.pid",
        "--log-file",
        "d.log",
        "--log-level=info",
        *user_args(),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    pid = int((tmp_path / "d.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not (tmp_path / "d.pid").exists(), "the pid file to be removed")
    assert "listening on 127.0.0.1" in (tmp_path / "d.log").read_text()


def test_no_detach_stays_in_foreground(tool_bin: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    proc = subprocess.Popen(
        [
            str(tool_bin / "distccd"),
            "--no-detach",
            "--daemon",
            "--allow-compiler",
            "gcc",
            "--port",
            str(free_port()),
            "--pid-file",
            str(pid_file),
            "--log-stderr",
            *user_args(),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(pid_file.exists, "the pid file")
    assert int(pid_file.read_text()) == proc.pid
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert not pid_file.exists()


def test_lifetime_ends_the_daemon(start_daemon: StartDaemon) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", "--lifetime", "1")
    wait_for(lambda: not daemon.pid_file.exists(), "the daemon to end", timeout=15)
    daemon.pid = 0
    assert "lifetime of 1s expired" in daemon.log()


def test_idle_lifetime_counts_from_the_last_connection(start_daemon: StartDaemon) -> None:
    import time

    daemon = start_daemon("--allow-compiler", "gcc", "--idle-lifetime", "2", "--log-level", "info")
    # Connections 1 s apart for ~3 s keep it alive past its 2 s of idleness ...
    for _ in range(3):
        time.sleep(1.0)
        assert daemon.compile(1, ["gcc", "-c", "a.c", "-o", "a.o"], b"int x;\n").status == 0
    assert daemon.pid_file.exists()
    # ... then it ends 2 s after the last one, by itself.
    wait_for(lambda: not daemon.pid_file.exists(), "the daemon to end", timeout=15)
    daemon.pid = 0
    assert "no connection for 2s, exiting" in daemon.log()


def test_log_goes_to_log_file_at_the_chosen_level(start_daemon: StartDaemon) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", "--log-level", "error")
    daemon.exchange(b"junk-junk-junk")
    daemon.wait_log("ERROR:")  # logged just after the connection is dropped
    daemon.stop()
    log = daemon.log()
    assert "listening on" not in log  # info is below "error"


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 9))  # no packet is sent for UDP connect
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_listens_on_loopback_by_default(tool_bin: Path, tmp_path: Path) -> None:
    port = free_port()
    pid_file = tmp_path / "pid"
    done = _run(
        tool_bin,
        "--daemon",
        "--allow-compiler",
        "gcc",
        "--port",
        str(port),
        "--pid-file",
        str(pid_file),
        *user_args(),
    )
    assert done.returncode == 0, done.stderr
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20):
            pass
        other = _non_loopback_address()
        if other is not None:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((other, port), timeout=20).close()
    finally:
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        wait_for(lambda: not pid_file.exists(), "the pid file to be removed")


def test_no_fork_serves(start_daemon: StartDaemon, hello: Path) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", "--no-fork")
    argv = ["gcc", "-c", "hello.c", "-o", "hello.o"]
    for _ in range(2):
        assert daemon.compile(2, argv, preprocess(hello)).status == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_is_dropped_without_user_option(tool_bin: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="distccd-root-"))
    try:
        work.chmod(0o1777)
        cc = work / "whoami-cc"
        cc.write_text("#!/bin/sh\nid -u\n")
        cc.chmod(0o755)
        pid_file = work / "pid"
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
        env["TMPDIR"] = str(work)
        done = subprocess.run(
            [
                str(tool_bin / "distccd"),
                "--daemon",
                "--port",
                str(port),
                "--allow-compiler",
                str(cc),
                "--pid-file",
                str(pid_file),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(request_v12(1, [str(cc), "-c", "x.c", "-o", "x.o"], b"x"))
            reply = read_reply(Reader(sock.makefile("rb")), 1)
        assert reply.status == 0
        assert reply.stdout.strip() not in (b"", b"0")
        assert os.stat(f"/proc/{pid_file.read_text().strip()}").st_uid != 0
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        wait_for(lambda: not pid_file.exists(), "the pid file to be removed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_unwritable_pid_file_fails_in_the_parent(tool_bin: Path, tmp_path: Path) -> None:
    done = _run(
        tool_bin,
        "--daemon",
        "--allow-compiler",
        "gcc",
        "--port",
        str(free_port()),
        "--pid-file",
        str(tmp_path / "no" / "such" / "dir" / "pid"),
        *user_args(),
    )
    assert done.returncode == 107  # the detached child reports it to the waiting parent
