"""Start and stop real compile servers on loopback for end-to-end tests.

``Daemon`` runs either our ``distccd`` (from the test launchers) or Debian's stock
``/usr/bin/distccd`` in the foreground (``--no-detach``), on a free port of a chosen
127.0.0.x address, and waits until the port accepts connections (never on a process
disappearing: see the machine quirk in the README).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

STOCK_DISTCCD = "/usr/bin/distccd"
STOCK_DISTCC = "/usr/bin/distcc"


def world_dir(prefix: str = "distcc-py-test-") -> Path:
    """A fresh directory any user can reach (for daemons that drop root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o1777)
    return path


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def wait_for_port(address: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {address}:{port}") from None
            time.sleep(0.02)


class Daemon:
    def __init__(
        self,
        binary: str,
        workdir: Path,
        address: str = "127.0.0.1",
        jobs: int = 2,
        extra: tuple[str, ...] = (),
        stock: bool = False,
    ) -> None:
        self.binary = binary
        self.address = address
        self.port = free_port(address)
        self.workdir = workdir
        self.log = workdir / f"distccd-{address}-{self.port}.log"
        self.tmp = workdir / f"distccd-tmp-{address}-{self.port}"
        self.tmp.mkdir(parents=True, exist_ok=True)
        # Run as root, a distccd drops to an unprivileged user: its log and TMPDIR must be
        # reachable by that user (pytest's tmp_path is not).
        for d in (workdir, self.tmp):
            d.chmod(0o1777)
        self.stock = stock
        args = [
            binary,
            "--no-detach",
            "--daemon",
            "--listen",
            address,
            "--port",
            str(self.port),
            "--allow",
            "127.0.0.0/8",
            "--jobs",
            str(jobs),
            "--log-file",
            str(self.log),
            "--enable-tcp-insecure",
            *extra,
        ]
        if stock:
            args += ["--verbose"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
        env["TMPDIR"] = str(self.tmp)
        self.proc = subprocess.Popen(
            args, env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )
        try:
            wait_for_port(address, self.port)
        except TimeoutError:
            self.stop()
            raise

    @property
    def hostspec(self) -> str:
        return f"{self.address}:{self.port}"

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def compile_ok(self, expected: int, timeout: float = 5.0) -> int:
        """The number of COMPILE_OK job lines, waiting (bounded) for ``expected`` of them:
        a daemon logs a job's summary after sending its reply."""
        deadline = time.monotonic() + timeout
        while True:
            n = self.log_text().count("COMPILE_OK")
            if n >= expected or time.monotonic() > deadline:
                return n
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


@contextlib.contextmanager
def running(*daemons: Daemon) -> Iterator[tuple[Daemon, ...]]:
    try:
        yield daemons
    finally:
        for d in daemons:
            d.stop()
