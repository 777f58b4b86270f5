"""Host choice: backoff first, then distcc's slot order; None means compile locally."""

from __future__ import annotations

import os
from pathlib import Path

from client.backoff import backoff_path, mark
from client.hosts import parse_hosts
from client.where import pick_host, slot_owner


def never_sleep(_seconds: float) -> None:
    raise AssertionError("should not have waited")


def test_hosts_in_backoff_are_skipped(tmp_path: Path) -> None:
    d = str(tmp_path)
    a, b = parse_hosts("a b/2", "x", 1).hosts
    mark(d, a)
    now = os.stat(backoff_path(d, a)).st_mtime
    lock = pick_host(d, [a, b], backoff_period=60, now=now, sleep=never_sleep)
    assert lock is not None and lock.host == b and slot_owner(lock) == "b"
    lock.release()
    # After the period, a is first again.
    lock = pick_host(d, [a, b], backoff_period=60, now=now + 60, sleep=never_sleep)
    assert lock is not None and lock.host == a
    lock.release()


def test_no_usable_host_means_local(tmp_path: Path) -> None:
    d = str(tmp_path)
    a, down = parse_hosts("a down,down", "x", 1).hosts
    mark(d, a)
    now = os.stat(backoff_path(d, a)).st_mtime
    assert pick_host(d, [a], backoff_period=60, now=now, sleep=never_sleep) is None
    assert pick_host(d, [a, down], backoff_period=60, now=now, sleep=never_sleep) is None
    assert pick_host(d, [], backoff_period=60, now=now, sleep=never_sleep) is None
    # Backoff off: a is usable again.
    lock = pick_host(d, [a, down], backoff_period=0, now=now, sleep=never_sleep)
    assert lock is not None and lock.host == a
    lock.release()
