"""Where a distributable job runs: distcc's ``where.c`` on top of hosts, backoff and locks.

API:

- ``pick_host(directory, hosts, *, backoff_period, now, sleep, pause_ms, avoid=())
  -> SlotLock | None``: drop the hosts in backoff, then wait for and lock a slot in
  distcc's order (client/locks.py).  None means "no hosts" (``EXIT_NO_HOSTS`` in distcc):
  the list is empty, every host is in backoff, or every host is ``,down``; the caller then
  compiles locally.  The lock's ``host`` may be ``localhost``: run here, under that lock.
- ``slot_owner(lock)``: "localhost" or the host name, for the state file (``note``).

The per-job sequence the CLI follows (distcc 3.4, with DESIGN.md's two fixes):

1. ``hl = hosts.load_host_list(...)``; a ``HostSpecError`` or an empty list -> local;
2. ``d = locks.lock_dir(cfg.distcc_dir, cfg.distcc_dir_user_set)``;
3. ``lock = pick_host(d, hl.hosts, backoff_period=cfg.backoff_period, now=time.time(),
   sleep=time.sleep, pause_ms=cfg.pause_time_ms)``; ``state.note_slot(lock.slot)``;
4. pump/cpp: ``cpp = locks.lock_local_cpp(d, hl.local_slots_cpp, ..., avoid=[lock])``
   (always after the remote slot), released before the remote one;
5. on a transport failure: ``backoff.mark(d, lock.host, period)``, release, go to 3 (the
   failed host is now filtered out); on success ``backoff.enjoyed(...)``.
"""

from __future__ import annotations

from client.backoff import usable_hosts
from client.locks import DEFAULT_PAUSE_MS, SlotLock, pick_and_lock
from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from client.hosts import Host


def pick_host(
    directory: str,
    hosts: Sequence[Host],
    *,
    backoff_period: int,
    now: float,
    sleep: Callable[[float], object],
    pause_ms: int = DEFAULT_PAUSE_MS,
    avoid: Iterable[SlotLock] = (),
) -> SlotLock | None:
    """Lock a slot on the first usable host in distcc's order; None if there is none."""
    candidates = usable_hosts(directory, hosts, backoff_period, now)
    if not candidates:
        return None
    return pick_and_lock(directory, candidates, sleep, pause_ms, avoid)


def slot_owner(lock: SlotLock) -> str:
    """The host name a monitor should show for this slot."""
    return lock.host.hostname
