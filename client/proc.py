"""Processes and temporary files of one client run: spawn, wait, clean up on signals.

- ``spawn``: ``os.posix_spawn`` (vfork-fast, no ``subprocess`` import), with stdin from
  /dev/null (or a given fd) and stdout/stderr to given fds.  The recursion guard
  ``_DISTCC_SAFEGUARD`` is set in the child's environment by the caller (``client.invoke``).
- ``TempFiles``: every temporary file the run creates is registered here and removed at
  exit and on SIGINT/SIGTERM/SIGHUP (unless DISTCC_SAVE_TEMPS=1).  After cleaning up, the
  signal is re-raised with its default action, so our exit status is 128+signal as distcc's.
- ``write_all``: one ``write`` loop per buffer, so a job's diagnostics leave in one piece.
"""

from __future__ import annotations

import _signal
import os

from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_HANDLED_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)


class held_signals:
    """SIGINT/SIGTERM/SIGHUP wait until the block ends: a temp file or child is then never
    created without being registered for the cleanup those signals run."""

    def __enter__(self) -> None:
        self._old = _signal.pthread_sigmask(_signal.SIG_BLOCK, _HANDLED_SIGNALS)

    def __exit__(self, *exc: object) -> None:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, self._old)


class TempFiles:
    """Registry of temporary paths owned by this process."""

    def __init__(self, tmpdir: str, keep: bool = False) -> None:
        self.tmpdir = tmpdir
        self.keep = keep
        self.paths: list[str] = []
        self.children: list[int] = []
        self._counter = 0

    def create(self, prefix: str, suffix: str, directory: str | None = None) -> tuple[str, int]:
        """Create a new empty file (O_EXCL, mode 0600) and return (path, fd)."""
        base = directory if directory is not None else self.tmpdir
        pid = os.getpid()
        while True:
            self._counter += 1
            token = os.urandom(4).hex()
            path = os.path.join(base, f"{prefix}{pid:x}{self._counter:x}{token}{suffix}")
            try:
                with held_signals():
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
                    fd = os.open(path, flags, 0o600)
                    self.paths.append(path)
            except FileExistsError:
                continue
            return path, fd

    def register(self, path: str) -> str:
        self.paths.append(path)
        return path

    def forget(self, path: str) -> None:
        """The file was renamed into place: it is no longer ours to remove."""
        try:
            self.paths.remove(path)
        except ValueError:
            pass

    def cleanup(self) -> None:
        if self.keep:
            return
        for path in reversed(self.paths):
            try:
                os.unlink(path)
            except OSError:
                pass
        self.paths.clear()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: object) -> None:
            for pid in self.children:
                try:
                    os.kill(pid, signum)
                except OSError:
                    pass
            self.cleanup()
            _signal.signal(signum, _signal.SIG_DFL)
            os.kill(os.getpid(), signum)

        for sig in _HANDLED_SIGNALS:
            if _signal.getsignal(sig) != _signal.SIG_IGN:
                _signal.signal(sig, handler)


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    stdout_fd: int | None = None,
    stderr_fd: int | None = None,
    stdin_fd: int | None = None,
) -> int:
    """Start ``argv`` (searched on env's PATH) and return its pid.

    Raises FileNotFoundError / PermissionError if the program cannot be executed.
    """
    actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = []
    if stdin_fd is None:
        actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
    else:
        actions.append((os.POSIX_SPAWN_DUP2, stdin_fd, 0))
    if stdout_fd is not None:
        actions.append((os.POSIX_SPAWN_DUP2, stdout_fd, 1))
    if stderr_fd is not None:
        actions.append((os.POSIX_SPAWN_DUP2, stderr_fd, 2))
    path = which(argv[0], env.get("PATH", os.defpath))
    if path is None:
        raise FileNotFoundError(2, "No such file or directory", argv[0])
    # An empty signal mask for the child: it may be started inside ``held_signals``.
    return os.posix_spawn(path, list(argv), dict(env), file_actions=actions, setsigmask=())


def which(name: str, path_var: str) -> str | None:
    """The executable ``name`` would run, searched on ``path_var`` (like execvp)."""
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    for d in path_var.split(os.pathsep):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def wait(pid: int) -> int:
    """Wait for ``pid``; return its wait status (as a Unix ``wait()`` gives it)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except InterruptedError:
            continue


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
