"""The client's slots: host choice, locks and backoff in ``$DISTCC_DIR/lock``.

``FileSlots`` implements the ``client.compile.Slots`` interface on top of ``client.where``,
``client.locks`` and ``client.backoff`` (the files are distcc's, so a stock client sharing
the same DISTCC_DIR sees our slots and backoff marks and we see theirs).

Invariants: at most one remote slot and one local slot are held at a time; the local cpp
slot is always taken after the remote slot and released before it.

Affinity (pump jobs): a translation unit should go back to the daemon that compiled it
last, whose content store holds its files and whose result cache may hold its reply
(daemon/results.py).  ``$DISTCC_DIR/affinity/<16 hex>`` (a digest of the source's path)
names that host; it is written after a remote success on another host than the one it
named.  A remembered host that is still in the list and not backed off is waited for, a
little (``AFFINITY_WAIT``); without a memory, rendezvous hashing of the path picks the
preferred host, taken only if a slot is free at once.  Either way distcc's order follows.
"""

from __future__ import annotations

import os
import time

from client import log
from client.backoff import enjoyed, mark, usable_hosts
from client.hosts import load_host_list, read_text_file
from client.locks import lock_dir, lock_local, lock_local_cpp, scan_once
from client.where import pick_host
from common.exitcodes import DistccError
from common.values import TYPE_CHECKING

NO_LOCK_DIR = "no-lock-dir"  # $DISTCC_DIR/lock cannot be created: nothing can be locked
AFFINITY_DIR = "affinity"
AFFINITY_WAIT = 1.0  # seconds a job waits for the host that compiled it last

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from client.config import Config
    from client.hosts import Host, HostList
    from client.locks import SlotLock


def load_hosts(env: Mapping[str, str]) -> HostList:
    """The host list from the environment or files (HostSpecError -> exit 106)."""
    return load_host_list(env, read_text_file, os.cpu_count() or 1, seed=os.getpid())


def _rendezvous(key: str, spec: str) -> bytes:
    from _blake2 import blake2b

    return blake2b(f"{key}\0{spec}".encode(), digest_size=8).digest()


def _read_memory(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(4096).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _write_memory(path: str, spec: str) -> None:
    """Best effort: a lost memory only costs a job its preferred host."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, spec.encode() + b"\n")
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


class _Held:
    """Context manager around a SlotLock that is taken lazily."""

    def __init__(self, take: Callable[[], SlotLock | None]) -> None:
        self._take = take
        self._lock: SlotLock | None = None

    def __enter__(self) -> None:
        # None when there is no lock directory: then nothing is locked.
        self._lock = self._take()

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class FileSlots:
    def __init__(self, cfg: Config, env: Mapping[str, str]) -> None:
        self.cfg = cfg
        self.env = env
        self._hosts: HostList | None = None
        self._dir: str | None = None
        self.remote: SlotLock | None = None
        self.failure = ""  # why acquire_remote found no host, when not just "no hosts"
        self._memory = ("", "")  # (affinity file, the host spec it named) of this job

    @property
    def hosts(self) -> HostList:
        if self._hosts is None:
            self._hosts = load_hosts(self.env)
            for warning in self._hosts.warnings:
                log.warning(warning)
        return self._hosts

    @property
    def directory(self) -> str:
        """The lock directory; "" if it cannot be made (then nothing is locked, and
        distributable jobs compile locally, as distcc does)."""
        if self._dir is None:
            try:
                self._dir = lock_dir(self.cfg.distcc_dir, self.cfg.distcc_dir_user_set)
            except DistccError as exc:
                log.warning(f"{exc}: running locally instead")
                self._dir = ""
        return self._dir

    def acquire_remote(self, exclude: set[str] | None = None, affinity: str = "") -> Host | None:
        """Lock a remote slot in distcc's order.  With ``affinity`` (pump jobs: the
        source's path), the host that compiled it last (waited for a little) or else the
        one rendezvous hashing gives that key (if free at once) is tried first; see the
        module docstring."""
        hosts = self.hosts.hosts
        if exclude:
            hosts = tuple(h for h in hosts if h.spec not in exclude)
        if not hosts:
            return None
        if not self.directory:
            self.failure = NO_LOCK_DIR
            return None
        if affinity and len(hosts) > 1:
            lock = self._preferred(hosts, affinity)
            if lock is not None:
                self.remote = lock
                return lock.host
        lock = pick_host(
            self.directory,
            hosts,
            backoff_period=self.cfg.backoff_period,
            now=time.time(),
            sleep=time.sleep,
            pause_ms=self.cfg.pause_time_ms,
        )
        self.remote = lock
        return None if lock is None else lock.host

    def _preferred(self, hosts: tuple[Host, ...], affinity: str) -> SlotLock | None:
        from _blake2 import blake2b

        usable = usable_hosts(self.directory, hosts, self.cfg.backoff_period, time.time())
        if not usable:
            return None
        name = blake2b(affinity.encode(), digest_size=8).hexdigest()
        path = os.path.join(os.path.dirname(self.directory), AFFINITY_DIR, name)
        spec = _read_memory(path)
        self._memory = (path, spec)
        remembered = [h for h in usable if h.spec == spec]
        if not remembered:
            preferred = max(usable, key=lambda h: _rendezvous(affinity, h.spec))
            return scan_once(self.directory, (preferred,))
        end = time.monotonic() + AFFINITY_WAIT
        pause = 0.005
        while True:
            lock = scan_once(self.directory, remembered)
            if lock is not None or time.monotonic() >= end:
                return lock
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def release_remote(self) -> None:
        if self.remote is not None:
            self.remote.release()
            self.remote = None

    def local(self) -> _Held:
        return _Held(
            lambda: (
                None
                if not self.directory
                else lock_local(
                    self.directory,
                    self.hosts.local_slots,
                    time.sleep,
                    self.cfg.pause_time_ms,
                    avoid=[self.remote] if self.remote else [],
                )
            )
        )

    def local_cpp(self) -> _Held:
        return _Held(
            lambda: (
                None
                if not self.directory
                else lock_local_cpp(
                    self.directory,
                    self.hosts.local_slots_cpp,
                    time.sleep,
                    self.cfg.pause_time_ms,
                    avoid=[self.remote] if self.remote else [],
                )
            )
        )

    def backoff(self, host: Host) -> None:
        if self.directory:
            mark(self.directory, host, self.cfg.backoff_period)

    def enjoyed(self, host: Host) -> None:
        if self.directory:
            enjoyed(self.directory, host, self.cfg.backoff_period)
        path, spec = self._memory
        if path and spec != host.spec:
            _write_memory(path, host.spec)
