"""Plain mode end to end: our client, our daemon, real gcc, and misbehaving servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import client_env
from tests.integration.daemons import Daemon, free_port


def run(
    cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=timeout)


def local_object(src: Path, args: list[str], name: str = "local.o") -> bytes:
    subprocess.run(["gcc", *args, "-o", name], cwd=src, check=True)
    return (src / name).read_bytes()


@pytest.mark.parametrize("opts", ["", ",lzo"], ids=["protocol1", "protocol2"])
def test_compile_and_link_remotely(
    tool_bin: Path, our_daemon: Daemon, hello: Path, clean_env: dict[str, str], opts: str
) -> None:
    env = client_env(clean_env, our_daemon.hostspec + opts)
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b"", r.stderr.decode()
    assert (hello / "hello.o").read_bytes() == local_object(hello, ["-c", "hello.c"])
    assert our_daemon.compile_ok(1) == 1
    subprocess.run(["gcc", "hello.o", "-o", "hello"], cwd=hello, check=True)
    out = subprocess.run([str(hello / "hello")], capture_output=True, check=True).stdout
    assert out == b"hello from distcc-py\n"


def test_syntax_error_matches_local_and_does_not_back_off(
    tool_bin: Path, our_daemon: Daemon, hello: Path, clean_env: dict[str, str]
) -> None:
    (hello / "bad.c").write_text("int main(void) { return 0 }\n")
    env = client_env(clean_env, our_daemon.hostspec)
    local = run(["gcc", "-c", "bad.c", "-o", "bad.o"], hello, env)
    ours = run([str(tool_bin / "distcc"), "gcc", "-c", "bad.c", "-o", "bad.o"], hello, env)
    assert local.returncode != 0
    assert ours.returncode == local.returncode
    assert local.stderr in ours.stderr  # the compiler's own message, whole
    assert ours.stderr.count(b"error: expected") == 1  # written once, not twice
    assert not (hello / "bad.o").exists()
    lock_dir = Path(clean_env["DISTCC_DIR"]) / "lock"
    assert not list(lock_dir.glob("backoff*")), "a user's syntax error backed the host off"


def test_dependency_file_names_the_right_file_and_target(
    tool_bin: Path, our_daemon: Daemon, hello: Path, clean_env: dict[str, str]
) -> None:
    (hello / "obj").mkdir()
    env = client_env(clean_env, our_daemon.hostspec + ",lzo")
    args = ["-c", "hello.c", "-MD", "-o", "obj/hello.o"]
    r = run([str(tool_bin / "distcc"), "gcc", *args], hello, env)
    assert r.returncode == 0, r.stderr
    ours = (hello / "obj" / "hello.d").read_text()
    (hello / "obj" / "hello.d").unlink()
    subprocess.run(["gcc", *args], cwd=hello, check=True)
    assert ours == (hello / "obj" / "hello.d").read_text()
    assert ours.startswith("obj/hello.o:")


def test_dead_host_is_skipped_for_the_next(
    tool_bin: Path, our_daemon: Daemon, hello: Path, clean_env: dict[str, str]
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    env = client_env(clean_env, f"{dead} {our_daemon.hostspec}")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 0, r.stderr
    assert our_daemon.compile_ok(1) == 1
    backoffs = [p.name for p in (Path(clean_env["DISTCC_DIR"]) / "lock").glob("backoff*")]
    assert len(backoffs) == 1 and str(dead.split(":")[1]) in backoffs[0]


def test_all_hosts_down_falls_back_locally_with_a_warning(
    tool_bin: Path, hello: Path, clean_env: dict[str, str]
) -> None:
    env = client_env(clean_env, f"127.0.0.1:{free_port()}")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 0
    assert b"running locally" in r.stderr
    assert (hello / "hello.o").read_bytes() == local_object(hello, ["-c", "hello.c"])


def test_fallback_disabled_fails_without_output(
    tool_bin: Path, hello: Path, clean_env: dict[str, str]
) -> None:
    env = client_env(clean_env, f"127.0.0.1:{free_port()}", DISTCC_FALLBACK="0")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert 100 <= r.returncode <= 120
    assert not (hello / "hello.o").exists()


# ---------------------------------------------------------------- misbehaving servers


class FakeServer:
    """Accepts connections on loopback and answers each with ``respond(conn)``."""

    def __init__(self, respond: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.respond = respond
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                try:
                    self.respond(conn)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def read_request(conn: socket.socket) -> None:
    """Read until the client has sent its DOTI body (enough for these tests)."""
    conn.settimeout(10)
    data = b""
    while b"DOTI" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head = data.index(b"DOTI")
    while len(data) < head + 12:
        data += conn.recv(65536)
    need = int(data[head + 4 : head + 12], 16) - (len(data) - head - 12)
    while need > 0:
        chunk = conn.recv(65536)
        if not chunk:
            return
        need -= len(chunk)


@pytest.fixture
def truncating_server() -> Iterator[FakeServer]:
    def respond(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"DONE00000001STAT00000000SERR00000000SOUT00000000DOTO00001000" + b"x" * 100)

    s = FakeServer(respond)
    yield s
    s.close()


def test_truncated_reply_leaves_no_partial_object(
    tool_bin: Path, truncating_server: FakeServer, hello: Path, clean_env: dict[str, str]
) -> None:
    (hello / "hello.o").write_bytes(b"previous object")
    env = client_env(clean_env, f"127.0.0.1:{truncating_server.port}", DISTCC_FALLBACK="0")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode != 0
    assert truncating_server.connections == 1
    assert (hello / "hello.o").read_bytes() == b"previous object"
    assert sorted(p.name for p in hello.iterdir()) == ["hello.c", "hello.h", "hello.o"]
    # With fallback allowed, the local compile replaces it.
    env = client_env(clean_env, f"127.0.0.1:{truncating_server.port}", DISTCC_BACKOFF_PERIOD="0")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 0
    assert (hello / "hello.o").read_bytes() == local_object(hello, ["-c", "hello.c"])


@pytest.fixture
def silent_server() -> Iterator[FakeServer]:
    def respond(conn: socket.socket) -> None:
        read_request(conn)
        time.sleep(30)

    s = FakeServer(respond)
    yield s
    s.close()


def test_sigterm_removes_temp_files(
    tool_bin: Path, silent_server: FakeServer, hello: Path, clean_env: dict[str, str]
) -> None:
    env = client_env(clean_env, f"127.0.0.1:{silent_server.port}")
    proc = subprocess.Popen(
        [str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"],
        cwd=hello,
        env=env,
        stderr=subprocess.PIPE,
    )
    tmpdir = Path(env["TMPDIR"])
    deadline = time.monotonic() + 20
    while silent_server.connections == 0 or not list(tmpdir.iterdir()):
        assert time.monotonic() < deadline, "client never reached the server"
        time.sleep(0.02)
    time.sleep(0.2)  # let it block in the read
    proc.send_signal(signal.SIGTERM)
    # Killed by the re-raised signal: a shell reports 128+15, Popen reports -15.
    assert proc.wait(timeout=10) == -signal.SIGTERM
    assert list(tmpdir.iterdir()) == []
    assert not (hello / "hello.o").exists()


def test_show_hosts_and_j(tool_bin: Path, clean_env: dict[str, str]) -> None:
    env = client_env(clean_env, "a.example:4000/3,lzo  b.example/5 --localslots=2")
    r = subprocess.run([str(tool_bin / "distcc"), "--show-hosts"], env=env, capture_output=True)
    assert r.returncode == 0
    assert r.stdout.decode().split("\n")[:2] == ["a.example:4000/3,lzo", "b.example/5"]
    r = subprocess.run([str(tool_bin / "distcc"), "-j"], env=env, capture_output=True)
    assert r.stdout == b"8\n"


def test_bad_host_spec_exits_106(tool_bin: Path, hello: Path, clean_env: dict[str, str]) -> None:
    env = client_env(clean_env, "host,bogus-option")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 106


def test_recursion_guard(tool_bin: Path, hello: Path, clean_env: dict[str, str]) -> None:
    env = client_env(clean_env, "localhost", _DISTCC_SAFEGUARD="1")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c"], hello, env)
    assert r.returncode == 111


def test_masquerade_link(
    tool_bin: Path, our_daemon: Daemon, hello: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    masq = tmp_path / "masq"
    masq.mkdir()
    (masq / "gcc").symlink_to(tool_bin / "distcc")
    env = client_env(clean_env, our_daemon.hostspec)
    env["PATH"] = f"{masq}{os.pathsep}{env['PATH']}"
    r = run(["gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 0, r.stderr
    assert our_daemon.compile_ok(1) == 1
    assert (hello / "hello.o").read_bytes() == local_object(hello, ["-c", "hello.c"])


def test_implicit_compiler(
    tool_bin: Path, our_daemon: Daemon, hello: Path, clean_env: dict[str, str]
) -> None:
    env = client_env(clean_env, our_daemon.hostspec)
    r = run([str(tool_bin / "distcc"), "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 0, r.stderr
    assert our_daemon.compile_ok(1) == 1


def test_parallel_diagnostics_do_not_interleave(
    tool_bin: Path, our_daemon: Daemon, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    src = tmp_path / "par"
    src.mkdir()
    n = 12
    for i in range(n):
        body = "".join(f'#warning "job{i} line{k}"\n' for k in range(40))
        (src / f"w{i}.c").write_text(body + f"int f{i}(void) {{ return {i}; }}\n")
    env = client_env(clean_env, our_daemon.hostspec + "/8")
    with open(src / "stderr.txt", "ab") as out:
        procs = [
            subprocess.Popen(
                [str(tool_bin / "distcc"), "gcc", "-c", f"w{i}.c", "-o", f"w{i}.o"],
                cwd=src,
                env=env,
                stderr=out,
            )
            for i in range(n)
        ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    lines = [ln for ln in (src / "stderr.txt").read_text().splitlines() if "#warning" in ln]
    jobs = [ln.split('"job')[1].split(" ")[0] for ln in lines]
    # Each job's 40 warnings form one contiguous run.
    runs = [j for k, j in enumerate(jobs) if k == 0 or jobs[k - 1] != j]
    assert sorted(runs) == sorted(str(i) for i in range(n))


def test_ssh_host_through_distcc_ssh(
    tool_bin: Path, hello: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    """``@host`` runs ``$DISTCC_SSH [-l user] host distccd --inetd ...``: a stand-in ssh
    that checks its arguments and runs our distccd in inetd mode on this machine."""
    fake_ssh = tmp_path / "fake-ssh"
    log = tmp_path / "ssh-args"
    fake_ssh.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {log}\n'
        '[ "$1" = -l ] && [ "$2" = builder ] && [ "$3" = farm1 ] || exit 99\n'
        "shift 3\n"
        f"exec {tool_bin / 'distccd'} --inetd --enable-tcp-insecure --log-stderr "
        f"--user root 2>>{tmp_path / 'inetd.log'}\n"
    )
    fake_ssh.chmod(0o755)
    env = client_env(clean_env, "builder@farm1,lzo", DISTCC_SSH=str(fake_ssh))
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b"", r.stderr.decode()
    assert log.read_text().split() == [
        "-l",
        "builder",
        "farm1",
        "distccd",
        "--inetd",
        "--enable-tcp-insecure",
    ]
    assert "COMPILE_OK" in (tmp_path / "inetd.log").read_text()
    assert (hello / "hello.o").read_bytes() == local_object(hello, ["-c", "hello.c"])


def test_unresolvable_host_is_skipped(
    tool_bin: Path, our_daemon: Daemon, hello: Path, clean_env: dict[str, str]
) -> None:
    env = client_env(clean_env, f"no-such-host.invalid {our_daemon.hostspec}")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 0, r.stderr
    assert b"no-such-host.invalid" in r.stderr  # said once, as a warning
    assert our_daemon.compile_ok(1) == 1


@pytest.fixture
def failing_server() -> Iterator[FakeServer]:
    """A server whose compiler 'fails' with a message a local compile would not give."""

    def respond(conn: socket.socket) -> None:
        read_request(conn)
        err = b"remote: internal compiler error\n"
        conn.sendall(
            b"DONE00000001STAT00000100SERR%08x" % len(err) + err + b"SOUT00000000DOTO00000000"
        )

    s = FakeServer(respond)
    yield s
    s.close()


def test_remote_error_is_retried_locally_and_the_host_backed_off(
    tool_bin: Path, failing_server: FakeServer, hello: Path, clean_env: dict[str, str]
) -> None:
    env = client_env(clean_env, f"127.0.0.1:{failing_server.port}")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 0
    assert b"internal compiler error" not in r.stderr
    assert (hello / "hello.o").read_bytes() == local_object(hello, ["-c", "hello.c"])
    # The local result differed from the remote one: the server was at fault.
    assert list((Path(clean_env["DISTCC_DIR"]) / "lock").glob("backoff*"))


def test_skip_local_retry_makes_the_remote_error_final(
    tool_bin: Path, failing_server: FakeServer, hello: Path, clean_env: dict[str, str]
) -> None:
    env = client_env(clean_env, f"127.0.0.1:{failing_server.port}", DISTCC_SKIP_LOCAL_RETRY="1")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 1
    assert b"remote: internal compiler error" in r.stderr
    assert not (hello / "hello.o").exists()


def test_missing_distcc_dir_compiles_locally_with_a_warning(
    tool_bin: Path, our_daemon: Daemon, hello: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    """A DISTCC_DIR the user set but that does not exist is not created (as distcc): the
    job cannot take a slot lock, so it compiles here and says why."""
    env = client_env(clean_env, our_daemon.hostspec, DISTCC_DIR=str(tmp_path / "absent"))
    env["DISTCC_STATS_FILE"] = str(tmp_path / "stats")
    r = run([str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"], hello, env)
    assert r.returncode == 0, r.stderr
    assert b"running locally" in r.stderr
    assert (tmp_path / "stats").read_text().split("\t")[:3] == ["local", "-", "no-lock-dir"]
    assert (hello / "hello.o").read_bytes() == local_object(hello, ["-c", "hello.c"])


def _cpp_project(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "inc").mkdir(parents=True)
    (src / "inc" / "conf.h").write_text("#define N 3\n")
    (src / "two.c").write_text('#include "conf.h"\nint n = N;\n')
    (src / "three.c").write_text('#include "conf.h"\nint three = N * 3;\n')
    return src


def _planned(
    tool_bin: Path, daemon: Daemon, tmp_path: Path, clean_env: dict[str, str]
) -> tuple[Path, dict[str, str], list[str]]:
    """A project, a client environment and a distcc command run four times: the
    command's cpp plan is saved, so the launcher starts cc1 for the next run."""
    src = _cpp_project(tmp_path)
    env = client_env(clean_env, daemon.hostspec, DISTCC_VERBOSE="1")
    argv = [str(tool_bin / "distcc"), "gcc", "-Iinc", "-c", "two.c", "-o", "two.o"]
    for _ in range(4):
        assert run(argv, src, env).returncode == 0
    assert (Path(env["DISTCC_DIR"]) / "cpp-fast").exists()
    return src, env, argv


def _leftovers(env: dict[str, str], src: Path) -> list[str]:
    """Temporary files of ours left in TMPDIR or beside the outputs."""
    tmp = [p.name for p in Path(env["TMPDIR"]).iterdir() if p.name.startswith("distcc")]
    return tmp + [p.name for p in src.iterdir() if ".distcc-" in p.name]


@pytest.mark.parametrize(
    "deps",
    [[], ["-MD"], ["-MMD", "-MF", "deps/DEP", "-MT", "TARGET"]],
    ids=["no-deps", "MD", "MMD-MF-MT"],
)
def test_client_preprocesses_without_the_driver_then_from_the_launcher(
    tool_bin: Path, our_daemon: Daemon, tmp_path: Path, clean_env: dict[str, str], deps: list[str]
) -> None:
    """client/directcpp.py and the launcher's speculation through the whole client:
    job 1 notes the shape, job 2 records the driver's translation, job 3 runs cc1 itself,
    from job 4 on the launcher starts cc1 before the client's modules are loaded.  Every
    object and .d file equals a local compile's; no temporary file is left."""
    src = _cpp_project(tmp_path)
    (src / "deps").mkdir()
    env = client_env(clean_env, our_daemon.hostspec, DISTCC_VERBOSE="1")
    for n in range(5):
        source = "two.c" if n % 2 else "three.c"
        words = [w.replace("DEP", f"{n}.d").replace("TARGET", f"t{n}.o") for w in deps]
        argv = ["gcc", "-Iinc", "-g", *words, "-c", source, "-o", f"t{n}.o"]
        out = run([str(tool_bin / "distcc"), *argv], src, env)
        assert out.returncode == 0, out.stderr.decode()
        how = [b"", b"", b"(no driver)", b"(started at launch)", b"(started at launch)"][n]
        assert (how in out.stderr) if how else b"directly" not in out.stderr, out.stderr
        local = [w.replace(f"t{n}.o", "local.o").replace(f"{n}.d", "local.d") for w in argv]
        subprocess.run(local, cwd=src, check=True)
        assert (src / f"t{n}.o").read_bytes() == (src / "local.o").read_bytes()
        if deps:
            dep = src / ("deps" if "-MF" in deps else "") / f"{'' if '-MF' in deps else 't'}{n}.d"
            local_dep = src / ("deps" if "-MF" in deps else "") / "local.d"
            assert dep.read_text() == local_dep.read_text().replace("local.o", f"t{n}.o")
        assert _leftovers(env, src) == []
    assert our_daemon.compile_ok(5) == 5


def test_a_launcher_guess_that_does_not_fit_is_killed(
    tool_bin: Path, our_daemon: Daemon, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """Same argv, other environment (LC_ALL is one of the driver's inputs): the launcher's
    cc1 is killed, the job preprocesses the usual way, nothing is left behind."""
    src, env, argv = _planned(tool_bin, our_daemon, tmp_path, clean_env)
    out = run(argv, src, {**env, "LC_ALL": "C"})
    assert out.returncode == 0, out.stderr.decode()
    assert b"did not match the job: killed" in out.stderr
    subprocess.run(["gcc", "-Iinc", "-c", "two.c", "-o", "local.o"], cwd=src, check=True)
    assert (src / "two.o").read_bytes() == (src / "local.o").read_bytes()
    assert _leftovers(env, src) == []


def test_a_launcher_guess_for_a_job_that_ends_local_is_cleaned_up(
    tool_bin: Path, our_daemon: Daemon, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    src, env, argv = _planned(tool_bin, our_daemon, tmp_path, clean_env)
    our_daemon.stop()  # the next job finds its only host down and compiles here
    out = run(argv, src, env)
    assert out.returncode == 0, out.stderr.decode()
    assert b"failed to distribute" in out.stderr
    subprocess.run(["gcc", "-Iinc", "-c", "two.c", "-o", "local.o"], cwd=src, check=True)
    assert (src / "two.o").read_bytes() == (src / "local.o").read_bytes()
    assert _leftovers(env, src) == []


def test_a_plan_file_others_can_write_is_not_used_by_the_launcher(
    tool_bin: Path, our_daemon: Daemon, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    src = _cpp_project(tmp_path)
    env = client_env(clean_env, our_daemon.hostspec, DISTCC_VERBOSE="1")
    argv = [str(tool_bin / "distcc"), "gcc", "-Iinc", "-c", "two.c", "-o", "two.o"]
    for _ in range(3):
        assert run(argv, src, env).returncode == 0
    plans = Path(env["DISTCC_DIR"]) / "cpp-fast"
    assert plans.stat().st_mode & 0o777 == 0o600
    assert b"(started at launch)" in run(argv, src, env).stderr
    plans.chmod(0o646)
    out = run(argv, src, env)
    assert out.returncode == 0
    assert b"(started at launch)" not in out.stderr
    assert b"(no driver)" in out.stderr


def test_a_dependency_file_named_after_source_and_object_alike(
    tool_bin: Path, our_daemon: Daemon, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """``-MD -c two.c -o two.o``: two.d could come from either name; the object's it is,
    and from the fourth job on the launcher starts cc1."""
    src = _cpp_project(tmp_path)
    env = client_env(clean_env, our_daemon.hostspec, DISTCC_VERBOSE="1")
    argv = [str(tool_bin / "distcc"), "gcc", "-Iinc", "-MD", "-c", "two.c", "-o", "two.o"]
    for n in range(5):
        out = run(argv, src, env)
        assert out.returncode == 0, out.stderr.decode()
        assert (b"(started at launch)" in out.stderr) == (n >= 3), out.stderr.decode()
    subprocess.run(["gcc", "-Iinc", "-MD", "-c", "two.c", "-o", "local.o"], cwd=src, check=True)
    assert (src / "two.o").read_bytes() == (src / "local.o").read_bytes()
    assert (src / "two.d").read_text() == (src / "local.d").read_text().replace("local", "two")
    assert _leftovers(env, src) == []


def test_a_signal_at_any_moment_of_the_start_leaves_nothing(
    tool_bin: Path, our_daemon: Daemon, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """SIGTERM 0-24 ms after a start that begins with the launcher's early cc1: no
    temporary file is left and no cc1 keeps running."""
    src = _cpp_project(tmp_path)
    (src / "obj").mkdir()
    env = client_env(clean_env, our_daemon.hostspec)
    argv = [str(tool_bin / "distcc"), "gcc", "-Iinc", "-MD", "-c", "two.c", "-o", "obj/t.o"]
    for _ in range(4):
        assert run(argv, src, env).returncode == 0
    assert (Path(env["DISTCC_DIR"]) / "cpp-fast").exists()
    for delay_ms in range(0, 25, 2):
        proc = subprocess.Popen(argv, cwd=src, env=env, stderr=subprocess.DEVNULL)
        time.sleep(delay_ms / 1000)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        time.sleep(0.05)  # a cc1 left running would write its files by now
        left = _leftovers(env, src) + [
            p.name for p in (src / "obj").iterdir() if ".distcc-" in p.name
        ]
        assert left == [], f"after SIGTERM at {delay_ms} ms: {left}"
