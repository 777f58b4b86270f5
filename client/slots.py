"""The client's slots: host choice, locks and backoff in ``$DISTCC_DIR/lock``.

``FileSlots`` implements the ``client.compile.Slots`` interface on top of ``client.where``,
``client.locks`` and ``client.backoff`` (the files are distcc's, so a stock client sharing
the same DISTCC_DIR sees our slots and backoff marks and we see theirs).

Invariants: at most one remote slot and one local slot are held at a time; the local cpp
slot is always taken after the remote slot and released before it.
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
        source's path), a free slot on the host that rendezvous hashing gives that key is
        tried first, so a translation unit goes back to the daemon that already holds its
        closure in its content store; the usual order follows when that host is busy."""
        hosts = self.hosts.hosts
        if exclude:
            hosts = tuple(h for h in hosts if h.spec not in exclude)
        if not hosts:
            return None
        if not self.directory:
            self.failure = NO_LOCK_DIR
            return None
        if affinity and len(hosts) > 1:
            usable = usable_hosts(self.directory, hosts, self.cfg.backoff_period, time.time())
            if usable:
                preferred = max(usable, key=lambda h: _rendezvous(affinity, h.spec))
                lock = scan_once(self.directory, (preferred,))
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
