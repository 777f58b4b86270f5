"""Load and faults on a real daemon: many clients at once, many jobs in a row, a full
disk, compilers that crash or never end.

- 200 clients connect at once to a ``--jobs 2`` daemon: each completes with the right
  object or is refused cleanly (closed without a reply, counted as REJ_OVERLOAD); never
  more than 2 compilers run at once (a wrapper compiler records how many are running).
- 1,000 jobs (good ones, truncated requests, refused compilers, clients leaving
  mid-job): afterwards the daemon holds the same file descriptors, threads and child
  processes as before, and its TMPDIR is empty.
- A 1 MiB tmpfs, full, as the daemon's TMPDIR: the job fails with "No space left on
  device" (not a hang, not a crash), the daemon keeps serving, and our client falls back
  to a local compile with an object identical to a local one.  Needs root (mount).
- A compiler killed by SIGSEGV is reported with that signal in the wait status; one that
  outlives ``--job-lifetime`` is killed, with status 118<<8 (EXIT_TIMEOUT), and no process
  is left.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.protocol import Reader, TruncatedError, read_reply, request_v12
from tests.daemon.helpers import Daemon, wait_for

StartDaemon = Callable[..., Daemon]
# What cpp would send: the linemarker names the source, so the object equals a local one.
PREPROCESSED = b'# 1 "hello.c"\nint answer(void) { return 42; }\n'
ARGV_TAIL = ["-c", "hello.c", "-o", "hello.o"]
CLIENTS = 200
JOBS = 1000


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _request(daemon: Daemon, argv: list[str], data: bytes = PREPROCESSED) -> bytes | None:
    """The object, or None if the daemon closed without a reply."""
    with socket.create_connection((daemon.host, daemon.port), timeout=60) as sock:
        try:
            sock.sendall(request_v12(1, argv, data))
            reply = read_reply(Reader(sock.makefile("rb")), 1)
        except (TruncatedError, ConnectionResetError, BrokenPipeError):
            return None
        assert reply.status == 0, reply.stderr
        return reply.obj


@pytest.fixture
def reference_object(tmp_path: Path) -> bytes:
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "hello.i").write_bytes(PREPROCESSED)
    subprocess.run(["gcc", "-c", "hello.i", "-o", "hello.o"], cwd=tmp_path / "ref", check=True)
    return (tmp_path / "ref" / "hello.o").read_bytes()


def test_200_clients_at_once_respect_jobs(
    start_daemon: StartDaemon, tmp_path: Path, reference_object: bytes
) -> None:
    marks = tmp_path / "running"
    marks.mkdir()
    # A compiler uses CPU once it has its source: the wrapper counts the compilers alive
    # when it starts (a daemon starts one before the source arrives) and those that have
    # their source (read from stdin when given "-", as such an early compiler is).
    wrapper = _script(
        tmp_path / "counting-gcc",
        f'd={marks}\n: > "$d/alive.$$"\nls "$d" | grep -c "^alive" >> {tmp_path}/alive\n'
        'in=; for a in "$@"; do [ "$a" = "-" ] && in="$d/in.$$" && cat > "$in"; done\n'
        ': > "$d/run.$$"\nls "$d" | grep -c "^run" >> ' + f"{tmp_path}/counts\n"
        'if [ -n "$in" ]; then gcc "$@" < "$in"; else gcc "$@"; fi; s=$?\n'
        'rm -f "$d/run.$$" "$d/alive.$$" "$d/in.$$"\nexit $s\n',
    )
    daemon = start_daemon("--allow-compiler", str(wrapper), "--jobs", "2")
    results: list[bytes | None] = []
    lock = threading.Lock()
    go = threading.Barrier(CLIENTS)

    def client() -> None:
        go.wait()
        obj = _request(daemon, [str(wrapper), *ARGV_TAIL])
        with lock:
            results.append(obj)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done = [r for r in results if r is not None]
    refused = len(results) - len(done)
    assert len(results) == CLIENTS
    assert all(obj == reference_object for obj in done)
    assert len(done) >= 64  # max(64, 8 x jobs) connections are accepted at once
    counts = [int(n) for n in (tmp_path / "counts").read_text().split()]
    assert len(counts) == len(done)
    assert 1 <= max(counts) <= 2
    # ... and at most --jobs more wait for their source or their slot.
    alive = [int(n) for n in (tmp_path / "alive").read_text().split()]
    assert max(alive) <= 4
    assert len(daemon.log_lines("too many connections")) == refused
    print(f"\n200 clients, --jobs 2: {len(done)} compiled, {refused} refused, max running "
          f"{max(counts)}")  # fmt: skip
    daemon.wait_idle()


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def test_no_leaks_after_1000_jobs(start_daemon: StartDaemon) -> None:
    daemon = start_daemon("--allow-compiler", "/bin/true", "--jobs", "4")
    good = ["/bin/true", *ARGV_TAIL]

    def job(n: int) -> None:
        kind = n % 20
        if kind == 0:  # truncated request
            with socket.create_connection((daemon.host, daemon.port), timeout=60) as sock:
                sock.sendall(request_v12(1, good, PREPROCESSED)[:-7])
                sock.shutdown(socket.SHUT_WR)
                assert sock.recv(1) == b""
        elif kind == 1:  # refused compiler
            assert _request(daemon, ["/bin/sh", *ARGV_TAIL]) is None
        elif kind == 2:  # client leaves before the reply
            with socket.create_connection((daemon.host, daemon.port), timeout=60) as sock:
                sock.sendall(request_v12(1, good, PREPROCESSED))
        else:
            assert _request(daemon, good) == b""  # /bin/true writes no object

    for n in range(20):  # warm up: lazy imports, thread-local state, the first fds
        job(n)
    daemon.wait_log("client: ", 20)
    daemon.wait_idle()
    fds, children = _fds(daemon.pid), _children(daemon.pid)
    wait_for(lambda: _threads(daemon.pid) == 1, "job threads to end")

    def worker(first: int) -> None:
        for n in range(first, JOBS, 4):
            job(n)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(300)
    daemon.wait_log("client: ", 20 + JOBS)
    daemon.wait_idle()
    wait_for(lambda: _threads(daemon.pid) == 1, "job threads to end")
    wait_for(lambda: _fds(daemon.pid) == fds, f"fds back to {fds} (now {_fds(daemon.pid)})")
    assert _children(daemon.pid) == children == []
    assert list(daemon.tmp_dir.iterdir()) == []
    print(f"\n{20 + JOBS} jobs: fds {fds} -> {_fds(daemon.pid)}, threads 1 -> 1, children 0 -> 0")
    # Kinds 0-2 are 3 in 20; a client leaving after its request may still be served.
    ok = len(daemon.log_lines("COMPILE_OK"))
    assert 20 + JOBS - 3 * (20 + JOBS) // 20 <= ok <= 20 + JOBS - 2 * (20 + JOBS) // 20


@pytest.fixture
def full_tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> None:
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)


def test_full_disk_is_a_clear_error_and_the_client_falls_back(
    start_daemon: StartDaemon,
    full_tmpfs: Path,
    tool_bin: Path,
    tmp_path: Path,
    clean_env: dict[str, str],
) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", env={"TMPDIR": str(full_tmpfs)})
    _fill(full_tmpfs)
    big = b'# 1 "hello.c"\n' + b"".join(b"int v%d = %d;\n" % (i, i) for i in range(20000))
    with socket.create_connection((daemon.host, daemon.port), timeout=60) as sock:
        sock.sendall(request_v12(1, ["gcc", *ARGV_TAIL], big))
        try:
            reply = read_reply(Reader(sock.makefile("rb")), 1)
            message = reply.stderr.decode()
            assert reply.status != 0
        except TruncatedError:
            message = daemon.wait_log("client: ")[0] + daemon.log()
    assert "No space left on device" in message + daemon.log()
    assert daemon.alive()
    # Our client: the remote attempt fails, the compile falls back to local.
    project = tmp_path / "proj"
    project.mkdir()
    (project / "hello.c").write_text("int answer(void) { return 42; }\n")
    env = dict(clean_env, DISTCC_HOSTS=f"127.0.0.1:{daemon.port}", DISTCC_BACKOFF_PERIOD="0")
    r = subprocess.run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "remote.o"],
                       cwd=project, env=env, capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    subprocess.run(["gcc", "-c", "hello.c", "-o", "local.o"], cwd=project, check=True)
    assert (project / "remote.o").read_bytes() == (project / "local.o").read_bytes()
    assert len(daemon.wait_log("client: ", 2)) == 2  # the client did try the daemon
    (full_tmpfs / "filler").unlink()
    wait_for(lambda: [p.name for p in full_tmpfs.iterdir()] == [], "an empty TMPDIR")


def test_crashing_compiler_reports_the_signal(start_daemon: StartDaemon, tmp_path: Path) -> None:
    crash = _script(tmp_path / "segv-cc", "kill -SEGV $$\n")
    daemon = start_daemon("--allow-compiler", str(crash))
    with daemon.connect() as sock:
        sock.sendall(request_v12(1, [str(crash), *ARGV_TAIL], PREPROCESSED))
        reply = read_reply(Reader(sock.makefile("rb")), 1)
    assert os.WIFSIGNALED(reply.status) and os.WTERMSIG(reply.status) == signal.SIGSEGV
    assert reply.obj == b""
    assert "sig:11" in daemon.wait_log("COMPILE_ERROR")[0]
    daemon.wait_idle()


def test_compiler_outliving_job_lifetime(start_daemon: StartDaemon, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    slow = _script(tmp_path / "slow-cc", f"echo $$ >> {pids}\nsleep 60 & echo $! >> {pids}\nwait\n")
    daemon = start_daemon("--allow-compiler", str(slow), "--job-lifetime", "1")
    with daemon.connect() as sock:
        sock.sendall(request_v12(1, [str(slow), *ARGV_TAIL], PREPROCESSED))
        reply = read_reply(Reader(sock.makefile("rb")), 1)
    assert reply.status == 118 << 8
    assert "COMPILE_TIMEOUT" in daemon.wait_log("client: ")[0]
    for pid in map(int, pids.read_text().split()):  # the whole process group was killed
        wait_for(lambda p=pid: _state(p) in ("gone", "Z"), f"{pid} to die")  # type: ignore[misc]
    daemon.wait_idle()


def _state(pid: int) -> str:
    """A process's state letter from /proc, or "gone"."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
