"""Slot locks in ``$DISTCC_DIR/lock/``, shared with a stock distcc on the same machine.

A *slot* is one job's right to use a host: host ``h`` with ``limit`` n has slots 0..n-1,
each a lock on a zero-byte file (distcc-internals §3.6):

    cpu_localhost_<slot>   cpu_tcp_<host>_<port>_<slot>   cpu_ssh_<host>_<slot>

API:

- ``lock_dir(distcc_dir, user_set) -> str``: the lock directory, created on demand.  A
  default ``~/.distcc`` is created too; a DISTCC_DIR the user set is not (only its
  ``lock/`` subdirectory), as in distcc.  ``state_dir`` is the same for ``state/``.
  Raises ``DistccError(IO_ERROR)`` if it cannot be made.
- ``lock_file_name(host, slot, kind="cpu")``: the file name above (``kind="backoff"`` with
  slot 0 gives the backoff file name, see client/backoff.py).
- ``try_lock(directory, host, slot) -> SlotLock | None``: one non-blocking attempt; None
  if another process holds the slot or the host is ``,down``.
- ``pick_and_lock(directory, hosts, sleep, pause_ms) -> SlotLock | None``: distcc's host
  choice.  For slot i = 0, 1, 2, ... and for each host in list order whose limit exceeds
  i, try (host, i); the first success wins, so jobs spread over slot 0 of every host,
  then slot 1, and so on.  When every slot is busy it waits and rescans; None only when
  no host can ever be locked (empty list, or every host ``,down``: distcc would spin
  forever there).  Filter out hosts in backoff first (client/backoff.py).
- ``lock_local(directory, slots, sleep, pause_ms)``: a slot of the ``--localslots`` pool
  (jobs that run here anyway); ``lock_local_cpp``: the ``--localslots_cpp`` pool (local
  preprocessing, include scanning).  Both pools use the same ``cpu_localhost_<i>`` files.
- ``SlotLock.release()`` (or ``with``): closes the descriptor, which drops the lock.

The lock: a POSIX record lock (fcntl ``F_SETLK``, ``F_WRLCK``, whole file), which is what
distcc's ``sys_lock`` takes.  BSD ``flock`` locks would not exclude distcc's on Linux.  We
call ``os.lockf(fd, F_TLOCK, 0)``: glibc's ``lockf`` is that same ``fcntl(F_SETLK)`` lock
from the file offset (0 on a fresh descriptor) to the end, i.e. the whole file, and it
saves importing ``fcntl`` (~1 ms) on every job.  A test checks exclusion both ways
against ``fcntl.lockf``.

Waiting: distcc sleeps ``DISTCC_PAUSE_TIME_MSEC`` (default 1000 ms) between scans, so a
slot freed just after a scan idles for up to a second.  We poll at ``FIRST_POLL_MS``,
doubling up to the pause time: a short wait is noticed quickly, a long one costs no more
scans than distcc's, and nothing changes on disk, so mixed clients still interoperate.

Invariants: a process holds at most two slot locks, the remote (or ``localhost``) slot
first and then a local cpp slot, releasing the local one first; this ordering is what
keeps concurrent clients deadlock-free.  POSIX locks belong to the process, so locking a
file this process already holds would "succeed" and closing either descriptor would drop
both: pass the locks already held as ``avoid`` and those files are skipped.
"""

from __future__ import annotations

import errno
import os

from client.hosts import Host, Mode, local_host
from common.exitcodes import DistccError, ExitCode
from common.values import TYPE_CHECKING, Value

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

FIRST_POLL_MS = 10
DEFAULT_PAUSE_MS = 1000

_BUSY_ERRNOS = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


class SlotLock(Value):
    """A held slot lock; ``release()`` drops it (closing the descriptor)."""

    __slots__ = ("host", "slot", "path", "fd")
    host: Host
    slot: int
    path: str
    fd: int

    def __init__(self, host: Host, slot: int, path: str, fd: int) -> None:
        self._init(host=host, slot=slot, path=path, fd=fd)

    def release(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass

    def __enter__(self) -> SlotLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _subdir(distcc_dir: str | None, user_set: bool, name: str) -> str:
    if distcc_dir is None:
        raise DistccError(ExitCode.BAD_ARGUMENTS, "HOME is not set; can't find distcc directory")
    dirs = [distcc_dir + "/" + name] if user_set else [distcc_dir, distcc_dir + "/" + name]
    for path in dirs:
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            pass
        except OSError as e:
            raise DistccError(ExitCode.IO_ERROR, f"mkdir '{path}' failed: {e.strerror}") from e
    return dirs[-1]


def lock_dir(distcc_dir: str | None, user_set: bool) -> str:
    """``<distcc_dir>/lock``, made if missing (and ``distcc_dir`` too unless user-set)."""
    return _subdir(distcc_dir, user_set, "lock")


def state_dir(distcc_dir: str | None, user_set: bool) -> str:
    """``<distcc_dir>/state``, made if missing (and ``distcc_dir`` too unless user-set)."""
    return _subdir(distcc_dir, user_set, "state")


def lock_file_name(host: Host, slot: int, kind: str = "cpu") -> str:
    """distcc's ``dcc_make_lock_filename``: ``<kind>_<mode>_<host>[_<port>]_<slot>``."""
    if host.mode == Mode.LOCAL:
        return f"{kind}_localhost_{slot}"
    if host.mode == Mode.TCP:
        return f"{kind}_tcp_{host.hostname}_{host.port}_{slot}"
    return f"{kind}_ssh_{host.hostname}_{slot}"


def open_lock_file(path: str) -> int:
    """Open (creating, mode 0666 less the umask) a lock or backoff file for writing."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise DistccError(ExitCode.IO_ERROR, f"failed to create {path}: {e.strerror}") from e


def try_lock(directory: str, host: Host, slot: int) -> SlotLock | None:
    """Lock (host, slot) without waiting; None if it is busy or the host is down."""
    if not host.is_up:
        return None
    path = directory + "/" + lock_file_name(host, slot)
    fd = open_lock_file(path)
    try:
        os.lockf(fd, os.F_TLOCK, 0)
    except OSError as e:
        os.close(fd)
        if e.errno in _BUSY_ERRNOS:
            return None
        raise DistccError(ExitCode.IO_ERROR, f"lock {path} failed: {e.strerror}") from e
    return SlotLock(host, slot, path, fd)


def scan_once(
    directory: str, hosts: Sequence[Host], avoid: Iterable[SlotLock] = ()
) -> SlotLock | None:
    """One pass of distcc's choice: slot 0 of every host in order, then slot 1, ..."""
    held = {lock.path for lock in avoid}
    for slot in range(max((h.limit for h in hosts if h.is_up), default=0)):
        for host in hosts:
            if slot >= host.limit or not host.is_up:
                continue
            if held and directory + "/" + lock_file_name(host, slot) in held:
                continue
            lock = try_lock(directory, host, slot)
            if lock is not None:
                return lock
    return None


def pick_and_lock(
    directory: str,
    hosts: Sequence[Host],
    sleep: Callable[[float], object],
    pause_ms: int = DEFAULT_PAUSE_MS,
    avoid: Iterable[SlotLock] = (),
) -> SlotLock | None:
    """Wait for and lock a free slot (see the module docstring); None if none can exist."""
    avoid = tuple(avoid)
    held = {lock.path for lock in avoid}
    if not any(
        h.is_up and any(directory + "/" + lock_file_name(h, s) not in held for s in range(h.limit))
        for h in hosts
    ):
        return None
    interval = min(FIRST_POLL_MS, max(pause_ms, 0))
    while True:
        lock = scan_once(directory, hosts, avoid)
        if lock is not None:
            return lock
        sleep(interval / 1000.0)
        interval = min(interval * 2, max(pause_ms, 0))


def lock_local(
    directory: str,
    slots: int,
    sleep: Callable[[float], object],
    pause_ms: int = DEFAULT_PAUSE_MS,
    avoid: Iterable[SlotLock] = (),
) -> SlotLock:
    """A slot of the ``--localslots`` pool (waits until one is free)."""
    lock = pick_and_lock(directory, (local_host(max(1, slots)),), sleep, pause_ms, avoid)
    if lock is None:
        raise DistccError(ExitCode.BUSY, "no local slot can be locked")
    return lock


def lock_local_cpp(
    directory: str,
    slots: int,
    sleep: Callable[[float], object],
    pause_ms: int = DEFAULT_PAUSE_MS,
    avoid: Iterable[SlotLock] = (),
) -> SlotLock:
    """A slot of the ``--localslots_cpp`` pool; take it *after* any remote slot."""
    return lock_local(directory, slots, sleep, pause_ms, avoid)
