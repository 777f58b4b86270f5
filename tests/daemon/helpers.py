"""Start our distccd on loopback and talk to it with ``common.protocol``.

``Daemon.start`` runs the launcher with ``--daemon`` (detaching): when it returns, the
socket is bound and the pid file written, so no test waits on a timer.  ``stop`` sends
SIGTERM and waits for the pid file to go (the daemon removes it last).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common.protocol import Reader, Reply, read_reply, request_v12

DEADLINE = 20.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    delay = 0.005
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def user_args() -> list[str]:
    """Tests often run as root; keep root then (distccd would switch to nobody)."""
    return ["--user", "root"] if os.geteuid() == 0 else []


@dataclass
class Daemon:
    bin_dir: Path
    work: Path
    host: str = "127.0.0.1"
    args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    stats_port: int = 0
    pid: int = 0

    @property
    def pid_file(self) -> Path:
        return self.work / "distccd.pid"

    @property
    def log_file(self) -> Path:
        return self.work / "distccd.log"

    @property
    def tmp_dir(self) -> Path:
        return self.work / "tmp"

    def start(self) -> Daemon:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
        env["TMPDIR"] = str(self.tmp_dir)
        env.update(self.env)
        for _attempt in range(5):
            self.port = free_port(self.host)
            extra = []
            if "--stats" in self.args:
                self.stats_port = free_port(self.host)
                extra = ["--stats-port", str(self.stats_port)]
            cmd = [
                str(self.bin_dir / "distccd"),
                "--daemon",
                "--listen",
                self.host,
                "--port",
                str(self.port),
                "--pid-file",
                str(self.pid_file),
                "--log-file",
                str(self.log_file),
                "--log-level",
                "info",
                *user_args(),
                *extra,
                *self.args,
            ]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
            if done.returncode != 102:  # port taken meanwhile: try another
                break
        assert done.returncode == 0, f"distccd failed ({done.returncode}): {done.stderr}"
        self.pid = int(self.pid_file.read_text())
        return self

    def stop(self) -> None:
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        wait_for(lambda: not self.pid_file.exists(), "the daemon to remove its pid file")
        self.pid = 0

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def connect(self, source: str | None = None) -> socket.socket:
        sock = socket.socket()
        if source:
            sock.bind((source, 0))
        sock.settimeout(DEADLINE)
        sock.connect((self.host, self.port))
        return sock

    def exchange(self, data: bytes, source: str | None = None) -> bytes:
        """Send raw bytes, half-close, return everything the daemon answers."""
        with self.connect(source) as sock:
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            except OSError:  # closed already (reset, broken pipe, not connected)
                pass
            try:
                return _read_all(sock)
            except ConnectionResetError:
                return b""

    def compile(
        self, version: int, argv: Sequence[str], source: bytes, client: str | None = None
    ) -> Reply:
        with self.connect(client) as sock:
            sock.sendall(request_v12(version, argv, source))
            return read_reply(Reader(sock.makefile("rb")), version)

    def log_lines(self, pattern: str) -> list[str]:
        return [line for line in self.log().splitlines() if pattern in line]

    def wait_log(self, pattern: str, count: int = 1) -> list[str]:
        """The log lines holding ``pattern``, once there are ``count`` of them.

        The daemon logs a job's summary just after sending the reply, so tests wait.
        """
        wait_for(lambda: len(self.log_lines(pattern)) >= count, f"{pattern!r} in the log")
        return self.log_lines(pattern)

    def wait_idle(self) -> None:
        """Until every job directory in TMPDIR is gone."""
        wait_for(lambda: not any(self.tmp_dir.iterdir()), "job directories to be removed")

    def wait_idle_but_store(self) -> None:
        """Until TMPDIR holds nothing but the content store (and the result cache)."""
        kept = {"distccd-store", "distccd-results"}
        try:
            wait_for(
                lambda: all(p.name in kept for p in self.tmp_dir.iterdir()),
                "job directories to be removed",
            )
        except AssertionError:
            left = sorted(p.name for p in self.tmp_dir.iterdir())
            raise AssertionError(
                f"job directories not removed: {left}\n--- daemon log ---\n{self.log()[-3000:]}"
            ) from None


def _read_all(sock: socket.socket) -> bytes:
    parts: list[bytes] = []
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def preprocess(source: Path, compiler: str = "gcc") -> bytes:
    return subprocess.run(
        [compiler, "-E", source.name], cwd=source.parent, capture_output=True, check=True
    ).stdout


def local_object(preprocessed: Path, args: Sequence[str], compiler: str = "gcc") -> bytes:
    out = preprocessed.with_suffix(".local.o")
    subprocess.run(
        [compiler, *args, "-c", preprocessed.name, "-o", out.name],
        cwd=preprocessed.parent,
        check=True,
    )
    return out.read_bytes()
