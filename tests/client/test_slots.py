"""client.slots: the slot choice, including pump jobs' affinity to one daemon."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

import client.slots
from client.config import Config
from client.locks import lock_file_name
from client.slots import FileSlots

HOSTS = "10.0.0.1:3632/4,cpp,lzo 10.0.0.2:3632/4,cpp,lzo 10.0.0.3:3632/4,cpp,lzo"


def slots(tmp_path: Path) -> FileSlots:
    env = {"DISTCC_HOSTS": HOSTS, "DISTCC_DIR": str(tmp_path), "HOME": str(tmp_path)}
    return FileSlots(Config.from_env(env), env)


def test_affinity_sends_a_source_back_to_the_same_host(tmp_path: Path) -> None:
    s = slots(tmp_path)
    chosen = set()
    for _ in range(3):
        host = s.acquire_remote(affinity="/src/a.c")
        assert host is not None
        chosen.add(host.spec)
        s.release_remote()
    assert len(chosen) == 1


def test_affinity_spreads_sources_over_hosts(tmp_path: Path) -> None:
    s = slots(tmp_path)
    seen = set()
    for i in range(30):
        host = s.acquire_remote(affinity=f"/src/file{i}.c")
        assert host is not None
        seen.add(host.spec)
        s.release_remote()
    assert len(seen) == 3


def test_without_affinity_distcc_order(tmp_path: Path) -> None:
    s = slots(tmp_path)
    host = s.acquire_remote()
    assert host is not None and host.spec.startswith("10.0.0.1")
    s.release_remote()


def test_busy_preferred_host_falls_back_to_the_others(tmp_path: Path) -> None:
    s = slots(tmp_path)
    preferred = s.acquire_remote(affinity="/src/a.c")
    assert preferred is not None
    s.release_remote()
    # Another process holds every slot of the preferred host (POSIX locks are per
    # process, so it has to be another one).
    names = [lock_file_name(preferred, i) for i in range(preferred.limit)]
    holder = _hold(tmp_path / "lock", names)
    try:
        fallback = slots(tmp_path).acquire_remote(affinity="/src/a.c")
        assert fallback is not None and fallback.spec != preferred.spec
    finally:
        holder.communicate("", timeout=10)


def _hold(lock_dir: Path, names: list[str]) -> subprocess.Popen[str]:
    """Another process holding the given slot files until its stdin closes."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            "fds = [os.open(p, os.O_RDWR | os.O_CREAT) for p in sys.argv[1:]]\n"
            "[fcntl.lockf(fd, fcntl.LOCK_EX) for fd in fds]\n"
            "print('held', flush=True); sys.stdin.read()\n",
            *[str(lock_dir / n) for n in names],
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def _other_than_rendezvous(tmp_path: Path, key: str) -> tuple[str, str]:
    s = slots(tmp_path)
    first = s.acquire_remote(affinity=key)
    assert first is not None
    s.release_remote()
    other = next(h for h in s.hosts.hosts if h.spec != first.spec)
    return first.spec, other.spec


def test_a_source_goes_back_to_the_host_that_compiled_it(tmp_path: Path) -> None:
    hashed, other = _other_than_rendezvous(tmp_path, "/src/a.c")
    s = slots(tmp_path)
    s.acquire_remote(affinity="/src/a.c")
    other_host = next(h for h in s.hosts.hosts if h.spec == other)
    s.release_remote()
    s.enjoyed(other_host)  # say the job had gone to (and worked on) the other host
    memory = list((tmp_path / "affinity").iterdir())
    assert [p.read_text() for p in memory] == [other + "\n"]
    for _ in range(2):
        s = slots(tmp_path)
        host = s.acquire_remote(affinity="/src/a.c")
        assert host is not None and host.spec == other != hashed
        s.release_remote()
    # A remembered host no longer in the list: rendezvous hashing again.
    env = {"DISTCC_HOSTS": " ".join(h for h in HOSTS.split() if h != other),
           "DISTCC_DIR": str(tmp_path), "HOME": str(tmp_path)}  # fmt: skip
    s = FileSlots(Config.from_env(env), env)
    host = s.acquire_remote(affinity="/src/a.c")
    assert host is not None and host.spec != other


def test_a_busy_remembered_host_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client.slots, "AFFINITY_WAIT", 30.0)
    s = slots(tmp_path)
    host = s.acquire_remote(affinity="/src/a.c")
    assert host is not None
    s.release_remote()
    s.enjoyed(host)  # remembered (the first write: no memory before)
    holder = _hold(tmp_path / "lock", [lock_file_name(host, i) for i in range(host.limit)])
    got: list[str] = []
    waiter = threading.Thread(
        target=lambda: got.append(getattr(slots(tmp_path).acquire_remote(affinity="/src/a.c"),
                                          "spec", "")))  # fmt: skip
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # every slot of the remembered host is held: it waits
    holder.communicate("", timeout=10)
    waiter.join(30)
    assert got == [host.spec]
