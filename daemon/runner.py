"""Running one compiler: start it in its own session, wait for it while watching the client.

``run(argv, ...)`` starts the compiler with stdin from /dev/null and stdout/stderr into
files, in ``cwd``, then waits on two things at once with ``poll``: the compiler's pidfd
and the client connection (``watch.watch_fd``; ``watch.gone(events)`` says whether the
client left).  Whichever comes first decides:

- the compiler ends: its raw wait status (core-dump bit included; we reap it ourselves);
- the client leaves: SIGTERM to the compiler's process group, SIGKILL after
  ``KILL_GRACE`` seconds, then reap (``Ended.CLIENT_GONE``);
- ``lifetime`` seconds pass: the same, with status 118<<8 (``Ended.TIMED_OUT``);
- it cannot be started: distcc's "failed to exec NAME: why" is logged (and so reaches
  the client's SERR) and the status is 110<<8 (``Ended.MISSING``).

``ProcessRegistry`` holds the process groups of running compilers so that a daemon
shutting down can kill them all.  Nothing here reads or writes the protocol.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from common.exitcodes import ExitCode
from daemon.transport import WATCH_EVENTS

log = logging.getLogger(__name__)

KILL_GRACE = 2.0


class Watched(Protocol):
    """The client side of a job, as far as waiting is concerned."""

    watch_fd: int

    def gone(self, events: int) -> bool: ...


class Ended:
    EXITED = "exited"
    MISSING = "missing"
    CLIENT_GONE = "client-gone"
    TIMED_OUT = "timed-out"


@dataclass(frozen=True)
class Run:
    status: int  # a Unix wait status
    ended: str  # an Ended constant


class ProcessRegistry:
    """Process groups of running compilers, so that shutdown can kill them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pids: set[int] = set()

    def add(self, pid: int) -> None:
        with self._lock:
            self._pids.add(pid)

    def discard(self, pid: int) -> None:
        with self._lock:
            self._pids.discard(pid)

    def kill_all(self, sig: int = signal.SIGTERM) -> None:
        with self._lock:
            pids = list(self._pids)
        for pid in pids:
            _killpg(pid, sig)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pids)


def run(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str,
    stdout_path: str,
    stderr_path: str,
    watch: Watched,
    registry: ProcessRegistry,
    lifetime: float,
    clock: Callable[[], float],
) -> Run:
    """Run ``argv`` to completion (or until the client leaves or time is up)."""
    pid = _start(argv, env, cwd, stdout_path, stderr_path)
    if pid is None:
        return Run(ExitCode.COMPILER_MISSING << 8, Ended.MISSING)
    registry.add(pid)
    try:
        return _wait(pid, watch, lifetime, clock)
    finally:
        registry.discard(pid)


def _spawn(argv: list[str], env: dict[str, str], cwd: str, out_fd: int, err_fd: int) -> int:
    """Start the compiler in its own session (so its whole group can be killed)."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=out_fd,
        stderr=err_fd,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    # We reap the child ourselves (pidfd + waitpid, to keep the core-dump bit); tell the
    # Popen object so that it never waits for that pid again.
    proc.returncode = 0
    return proc.pid


def _start(
    argv: list[str], env: dict[str, str], cwd: str, stdout_path: str, stderr_path: str
) -> int | None:
    """Start the compiler; on failure log distcc's "failed to exec" line, return None."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    out_fd = os.open(stdout_path, flags, 0o600)
    try:
        err_fd = os.open(stderr_path, flags, 0o600)
    except OSError:
        os.close(out_fd)
        raise
    try:
        try:
            return _spawn(argv, env, cwd, out_fd, err_fd)
        except OSError as exc:
            first = exc
        base = argv[0].rsplit("/", 1)[-1]
        if "/" in argv[0] and first.errno == errno.ENOENT and base:
            try:  # distcc's dcc_execvp: an absolute compiler missing here, try PATH
                return _spawn([base, *argv[1:]], env, cwd, out_fd, err_fd)
            except OSError:
                pass
        log.error("failed to exec %s: %s", argv[0], first.strerror)
        return None
    finally:
        os.close(out_fd)
        os.close(err_fd)


def _wait(pid: int, watch: Watched, lifetime: float, clock: Callable[[], float]) -> Run:
    pidfd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.register(watch.watch_fd, WATCH_EVENTS)
        deadline = clock() + lifetime if lifetime > 0 else None
        while True:
            timeout = None if deadline is None else max(0.0, deadline - clock()) * 1000
            events = poller.poll(timeout)
            if not events:
                log.error("compilation takes too long, timeout: killing %s", pid)
                _stop(pid, pidfd)
                return Run(ExitCode.TIMEOUT << 8, Ended.TIMED_OUT)
            for fd, _ in events:
                if fd == pidfd:
                    return Run(os.waitpid(pid, 0)[1], Ended.EXITED)
            for fd, mask in events:
                if fd == watch.watch_fd and watch.gone(mask):
                    log.error("client fd disconnected, killing job")
                    _stop(pid, pidfd)
                    return Run(0, Ended.CLIENT_GONE)
    finally:
        os.close(pidfd)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _stop(pid: int, pidfd: int) -> None:
    """SIGTERM the compiler's process group, SIGKILL it if it lingers; reap it."""
    _killpg(pid, signal.SIGTERM)
    if not select.select([pidfd], [], [], KILL_GRACE)[0]:
        _killpg(pid, signal.SIGKILL)
        select.select([pidfd], [], [])
    # The leader is a zombie until reaped, so its pid cannot be reused yet: kill whatever
    # else is left in its group, then reap.
    _killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
