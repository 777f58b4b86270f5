"""Running one compiler: start it in its own session, wait for it while watching the client.

``run(argv, ...)`` starts the compiler in ``cwd`` with stdin from /dev/null (or a pipe fed
with the rest of the request, see ``feed``) and stdout and
stderr into anonymous memory files (memfd: no file system work per job), then waits on
two things at once with ``poll``: the compiler's pidfd and the client connection
(``watch.watch_fd``; ``watch.gone(events)`` says whether the client left).  Whichever
comes first decides:

- the compiler ends: its raw wait status (core-dump bit included; we reap it ourselves);
- the client leaves: SIGTERM to the compiler's process group, SIGKILL after
  ``KILL_GRACE`` seconds, then reap (``Ended.CLIENT_GONE``);
- ``lifetime`` seconds pass: the same, with status 118<<8 (``Ended.TIMED_OUT``);
- it cannot be started: distcc's "failed to exec NAME: why" is logged (and so reaches
  the client's SERR) and the status is 110<<8 (``Ended.MISSING``).

``ProcessRegistry`` holds the process groups of running compilers so that a daemon
shutting down can kill them all, and how the daemon starts compilers: its ``wrap``
(``distccd --sandbox``: daemon/sandbox.py) turns ``(argv, cwd)`` into the argv actually
started.  It rides on the registry because every job already passes that in; a job may
pass its own ``wrap`` instead (pump jobs under the sandbox).  A wrap that cannot find the
compiler raises ``CompilerMissing``: the same "failed to exec" line and status 110<<8
as an unsandboxed compiler that cannot be started.  Nothing here reads or writes the
protocol.
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


class CompilerMissing(Exception):
    """Raised by a ``wrap`` that cannot find the compiler it is to start."""

    def __init__(self, program: str, why: str = "No such file or directory") -> None:
        super().__init__(f"{program}: {why}")
        self.program = program
        self.why = why


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
    stdout: bytes = b""
    stderr: bytes = b""


class ProcessRegistry:
    """Process groups of running compilers, so that shutdown can kill them; ``wrap`` (if
    any) rewrites every compiler's argv given its working directory (the sandbox)."""

    def __init__(self, wrap: Callable[[list[str], str], list[str]] | None = None) -> None:
        self._lock = threading.Lock()
        self._pids: set[int] = set()
        self.wrap = wrap

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
    watch: Watched,
    registry: ProcessRegistry,
    lifetime: float,
    clock: Callable[[], float],
    feed: Callable[[], bytes] | None = None,
    wrap: Callable[[list[str], str], list[str]] | None = None,
) -> Run:
    """Run ``argv`` to completion (or until the client leaves or time is up).

    ``wrap`` (else ``registry.wrap``) turns ``(argv, cwd)`` into the argv started.

    With ``feed``, the compiler starts at once reading a pipe on stdin, and ``feed()`` (the
    rest of the request, still arriving from the client) is written into it: the
    compiler's start-up overlaps the wait.  If ``feed`` raises, the compiler is killed and
    the exception propagates.
    """
    wrap = registry.wrap if wrap is None else wrap
    if wrap is not None:
        try:
            argv = wrap(argv, cwd)
        except CompilerMissing as exc:
            log.error("failed to exec %s: %s", exc.program, exc.why)
            if feed is not None:
                feed()  # drain the request before the reply
            return Run(ExitCode.COMPILER_MISSING << 8, Ended.MISSING)
    out_fd = os.memfd_create("distccd-stdout", os.MFD_CLOEXEC)
    err_fd = os.memfd_create("distccd-stderr", os.MFD_CLOEXEC)
    stdin_r, stdin_w = os.pipe() if feed is not None else (None, None)
    try:
        pid = _start(argv, env, cwd, out_fd, err_fd, stdin_r)
        if stdin_r is not None:
            os.close(stdin_r)
            stdin_r = None
        if pid is None:
            if feed is not None:
                feed()  # drain the request before the reply
            return Run(ExitCode.COMPILER_MISSING << 8, Ended.MISSING)
        registry.add(pid)
        try:
            if feed is not None and stdin_w is not None:
                try:
                    data = feed()
                except BaseException:
                    _stop_pid(pid)
                    raise
                _write_all(stdin_w, data)
                os.close(stdin_w)
                stdin_w = None
            status, ended = _wait(pid, watch, lifetime, clock)
        finally:
            registry.discard(pid)
        return Run(status, ended, _contents(out_fd), _contents(err_fd))
    finally:
        for fd in (out_fd, err_fd, stdin_r, stdin_w):
            if fd is not None:
                os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Into the compiler's stdin; a compiler that exits early (EPIPE) is not our error."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:
        pass


def _stop_pid(pid: int) -> None:
    pidfd = os.pidfd_open(pid)
    try:
        _stop(pid, pidfd)
    finally:
        os.close(pidfd)


def _contents(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _spawn(
    argv: list[str], env: dict[str, str], cwd: str, out_fd: int, err_fd: int, stdin: int | None
) -> int:
    """Start the compiler in its own session (so its whole group can be killed)."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL if stdin is None else stdin,
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
    argv: list[str], env: dict[str, str], cwd: str, out_fd: int, err_fd: int, stdin: int | None
) -> int | None:
    """Start the compiler; on failure log distcc's "failed to exec" line, return None."""
    try:
        return _spawn(argv, env, cwd, out_fd, err_fd, stdin)
    except OSError as exc:
        first = exc
    base = argv[0].rsplit("/", 1)[-1]
    if "/" in argv[0] and first.errno == errno.ENOENT and base:
        try:  # distcc's dcc_execvp: an absolute compiler missing here, try PATH
            return _spawn([base, *argv[1:]], env, cwd, out_fd, err_fd, stdin)
        except OSError:
            pass
    log.error("failed to exec %s: %s", argv[0], first.strerror)
    return None


def _wait(pid: int, watch: Watched, lifetime: float, clock: Callable[[], float]) -> tuple[int, str]:
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
                return ExitCode.TIMEOUT << 8, Ended.TIMED_OUT
            for fd, _ in events:
                if fd == pidfd:
                    return os.waitpid(pid, 0)[1], Ended.EXITED
            for fd, mask in events:
                if fd == watch.watch_fd and watch.gone(mask):
                    log.error("client fd disconnected, killing job")
                    _stop(pid, pidfd)
                    return 0, Ended.CLIENT_GONE
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
