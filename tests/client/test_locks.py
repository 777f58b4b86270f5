"""Slot locks: names, modes, distcc's choice order, and exclusion across processes.

Other processes hold locks the way distcc does (``fcntl.lockf``, i.e. fcntl F_SETLK),
and, last, Debian's own distcc client holds one while it talks to a server that never
answers.  No test sleeps: holders report readiness on a pipe or a socket.
"""

from __future__ import annotations

import os
import select
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from client.hosts import Host, Mode, local_host, parse_hosts
from client.locks import (
    SlotLock,
    lock_dir,
    lock_file_name,
    lock_local,
    lock_local_cpp,
    pick_and_lock,
    scan_once,
    state_dir,
    try_lock,
)
from common.exitcodes import DistccError

NEEDS_DISTCC = pytest.mark.skipif(
    not os.path.exists("/usr/bin/distcc"), reason="needs Debian's distcc"
)

HOLDER = """
import fcntl, sys
fds = []
for path in sys.argv[2:]:
    f = open(path, "a")
    if sys.argv[1] == "lockf":
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fds.append(f)
print("locked", flush=True)
sys.stdin.read()
"""

PROBE = """
import fcntl, sys
f = open(sys.argv[1], "a")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("got")
except OSError:
    print("busy")
"""


@contextmanager
def held_by_other_process(paths: list[str], how: str = "lockf") -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, how, *paths],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        assert proc.stdout.readline() == "locked\n"
        yield
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def never_sleep(_seconds: float) -> None:
    raise AssertionError("should not have waited")


def tcp(name: str, limit: int, port: int = 3632, up: bool = True) -> Host:
    return Host(Mode.TCP, name, port=port, limit=limit, is_up=up)


def test_lock_file_names() -> None:
    hosts = parse_hosts("localhost/2 box:4000 ted@sshbox [::1]:5000", "x", 1).hosts
    assert [lock_file_name(h, 3) for h in hosts] == [
        "cpu_localhost_3",
        "cpu_tcp_box_4000_3",
        "cpu_ssh_sshbox_3",
        "cpu_tcp_::1_5000_3",
    ]
    assert lock_file_name(hosts[1], 0, "backoff") == "backoff_tcp_box_4000_0"


def test_user_set_distcc_dir_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(DistccError) as info:
        lock_dir(str(tmp_path / "missing"), user_set=True)
    assert info.value.code == 107
    assert not (tmp_path / "missing").exists()
    # The default ~/.distcc is created, with lock/ and state/ in it.
    top = tmp_path / ".distcc"
    assert lock_dir(str(top), user_set=False) == str(top / "lock")
    assert state_dir(str(top), user_set=False) == str(top / "state")
    assert (top / "lock").is_dir() and (top / "state").is_dir()
    # A user-set one that exists gets its subdirectories.
    assert lock_dir(str(tmp_path), user_set=True) == str(tmp_path / "lock")


def test_no_home_no_dir_is_bad_arguments() -> None:
    with pytest.raises(DistccError) as info:
        lock_dir(None, user_set=False)
    assert info.value.code == 101


def test_lock_files_are_empty_and_0666_less_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        lock = try_lock(str(tmp_path), tcp("box", 1), 0)
    finally:
        os.umask(old)
    assert lock is not None
    st = os.stat(tmp_path / "cpu_tcp_box_3632_0")
    assert stat.S_IMODE(st.st_mode) == 0o666 and st.st_size == 0
    lock.release()
    assert (tmp_path / "cpu_tcp_box_3632_0").exists()  # never deleted


def test_slot_order_is_slot_major_then_list_order(tmp_path: Path) -> None:
    d = str(tmp_path)
    hosts = [tcp("a", 1), tcp("b", 3), local_host(2)]
    held: list[SlotLock] = []
    for _ in range(6):
        # POSIX locks belong to the process: without ``avoid`` we would "get" a file we
        # already hold.  That is exactly what ``avoid`` is for.
        lock = scan_once(d, hosts, avoid=held)
        assert lock is not None
        held.append(lock)
    got = [(lock.host.hostname, lock.slot) for lock in held]
    assert got == [("a", 0), ("b", 0), ("localhost", 0), ("b", 1), ("localhost", 1), ("b", 2)]
    assert scan_once(d, hosts, avoid=held) is None  # all six slots held by this test
    assert pick_and_lock(d, hosts, never_sleep, avoid=held) is None  # none can come free


def test_down_hosts_are_never_locked(tmp_path: Path) -> None:
    d = str(tmp_path)
    assert try_lock(d, tcp("a", 2, up=False), 0) is None
    assert pick_and_lock(d, [tcp("a", 2, up=False)], never_sleep) is None
    lock = pick_and_lock(d, [tcp("a", 2, up=False), tcp("b", 1)], never_sleep)
    assert lock is not None and lock.host.hostname == "b"
    assert pick_and_lock(d, [], never_sleep) is None


def test_slot_held_by_another_process_is_skipped(tmp_path: Path) -> None:
    d = str(tmp_path)
    host = tcp("box", 2)
    with held_by_other_process([f"{d}/cpu_tcp_box_3632_0"]):
        assert try_lock(d, host, 0) is None
        lock = pick_and_lock(d, [host], never_sleep)
        assert lock is not None and lock.slot == 1
        lock.release()
    # The holder has exited, so slot 0 is free again.
    with pick_and_lock(d, [host], never_sleep) as lock:  # type: ignore[union-attr]
        assert lock.slot == 0


def test_our_lock_excludes_a_distcc_style_lock(tmp_path: Path) -> None:
    d = str(tmp_path)
    path = f"{d}/cpu_localhost_0"

    def probe() -> str:
        out = subprocess.run(
            [sys.executable, "-c", PROBE, path], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    lock = try_lock(d, local_host(1), 0)
    assert lock is not None
    assert probe() == "busy"
    lock.release()
    assert probe() == "got"


def test_flock_would_not_exclude_distcc(tmp_path: Path) -> None:
    # Why lockf: a BSD flock() on the same file does not conflict with the POSIX lock
    # distcc takes, so a flock-based client would double-book slots.
    d = str(tmp_path)
    with held_by_other_process([f"{d}/cpu_localhost_0"], how="flock"):
        lock = try_lock(d, local_host(1), 0)
        assert lock is not None  # not excluded
        lock.release()


def test_waits_when_all_busy_with_growing_polls(tmp_path: Path) -> None:
    d = str(tmp_path)
    host = tcp("box", 1)
    naps: list[float] = []
    with held_by_other_process([f"{d}/cpu_tcp_box_3632_0"]):

        def fake_sleep(seconds: float) -> None:
            naps.append(seconds)
            if len(naps) == 10:
                raise TimeoutError

        with pytest.raises(TimeoutError):
            pick_and_lock(d, [host], fake_sleep, pause_ms=300)
    assert naps == [0.01, 0.02, 0.04, 0.08, 0.16, 0.3, 0.3, 0.3, 0.3, 0.3]

    naps.clear()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "lockf", f"{d}/cpu_tcp_box_3632_0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline() == "locked\n"

    def release_on_third_nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            proc.stdin.close()  # type: ignore[union-attr]
            proc.wait(timeout=30)

    lock = pick_and_lock(d, [host], release_on_third_nap, pause_ms=1000)
    assert lock is not None and lock.slot == 0 and len(naps) == 3
    lock.release()


def test_local_pools_share_files_and_avoid_what_we_hold(tmp_path: Path) -> None:
    d = str(tmp_path)
    remote = pick_and_lock(d, [local_host(4)], never_sleep)  # "localhost" from the list
    assert remote is not None and remote.path.endswith("/cpu_localhost_0")
    cpp = lock_local_cpp(d, 8, never_sleep, avoid=[remote])
    assert cpp.path.endswith("/cpu_localhost_1")  # not slot 0 again in this process
    local = lock_local(d, 4, never_sleep, avoid=[remote, cpp])
    assert local.path.endswith("/cpu_localhost_2")
    for lock in (local, cpp, remote):
        lock.release()


# --------------------------------------------------------------------------- stock distcc


@contextmanager
def silent_server() -> Iterator[tuple[socket.socket, int]]:
    """A listening TCP socket that accepts and never answers (a hung distccd)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    try:
        yield srv, srv.getsockname()[1]
    finally:
        srv.close()


def stock_distcc(tmp_path: Path, hosts: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    src = tmp_path / "hello.c"
    src.write_text("int main(void) { return 0; }\n")
    env = dict(env, DISTCC_HOSTS=hosts, DISTCC_IO_TIMEOUT="60", DISTCC_BACKOFF_PERIOD="0")
    return subprocess.Popen(
        ["/usr/bin/distcc", "gcc", "-c", "hello.c", "-o", "hello.o"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.interop
@NEEDS_DISTCC
def test_stock_distcc_lock_is_seen(tmp_path: Path, clean_env: dict[str, str]) -> None:
    d = lock_dir(clean_env["DISTCC_DIR"], user_set=True)
    with silent_server() as (srv, port):
        proc = stock_distcc(tmp_path, f"127.0.0.1:{port}/2", clean_env)
        try:
            srv.settimeout(30)
            conn, _ = srv.accept()  # distcc connects only after locking its slot
            host = parse_hosts(f"127.0.0.1:{port}/2", "x", 1).hosts[0]
            assert try_lock(d, host, 0) is None  # distcc holds slot 0
            lock = pick_and_lock(d, [host], never_sleep)
            assert lock is not None and lock.slot == 1
            lock.release()
            conn.close()
        finally:
            proc.kill()
            proc.wait(timeout=30)


@pytest.mark.interop
@NEEDS_DISTCC
def test_stock_distcc_skips_the_slot_we_hold(tmp_path: Path, clean_env: dict[str, str]) -> None:
    d = lock_dir(clean_env["DISTCC_DIR"], user_set=True)
    with silent_server() as (first, port1), silent_server() as (second, port2):
        spec = f"127.0.0.1:{port1}/1 127.0.0.1:{port2}/1"
        ours = try_lock(d, parse_hosts(spec, "x", 1).hosts[0], 0)
        assert ours is not None
        proc = stock_distcc(tmp_path, spec, clean_env)
        try:
            ready, _, _ = select.select([first, second], [], [], 30)
            assert ready == [second]  # distcc went to the second host: ours was busy
        finally:
            proc.kill()
            proc.wait(timeout=30)
            ours.release()
