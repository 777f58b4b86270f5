"""Real-socket tests of one job: protocol 1 and 2 compiles, failures, hostile input."""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from common.compress import lzo_compress
from common.protocol import (
    DOTI,
    Reader,
    argv_packets,
    bulk_packet,
    header,
    read_reply,
    request_head,
    request_v12,
)
from daemon.job import DAEMON_LIMITS
from tests.daemon.helpers import Daemon, local_object, preprocess, wait_for

StartDaemon = Callable[..., Daemon]
ARGV = ["gcc", "-O2", "-c", "hello.c", "-o", "hello.o"]


def _script(path: Path, text: str) -> Path:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.mark.parametrize("version", [1, 2])
def test_compile_equals_local_object(start_daemon: StartDaemon, hello: Path, version: int) -> None:
    daemon = start_daemon("--allow-compiler", "gcc")
    source = preprocess(hello)
    reply = daemon.compile(version, ARGV, source)
    assert reply.status == 0
    assert reply.stderr == b""
    ipath = hello.with_suffix(".i")
    ipath.write_bytes(source)
    assert reply.obj == local_object(ipath, ["-O2"])
    summary = daemon.wait_log("COMPILE_OK")
    assert len(summary) == 1
    assert " exit:0 sig:0 core:0 ret:0 time:" in summary[0]
    assert summary[0].endswith("gcc hello.c")
    assert "client: 127.0.0.1:" in summary[0]
    daemon.wait_idle()  # the job directory is removed


def test_early_started_compiler_reads_a_pipe_and_matches_local_debug_object(
    start_daemon: StartDaemon, hello: Path, tmp_path: Path
) -> None:
    """The compiler is started before DOTI arrives, on ``-pipe -x cpp-output -``: the
    object still equals a local ``gcc -g -O2 -c hello.i``, debug info included."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "argv.txt"
    _script(bindir / "gcc", f'printf "%s\\n" "$@" > {record}\nexec /usr/bin/gcc "$@"\n')
    daemon = start_daemon("--allow-compiler", "gcc", env={"DISTCCD_PATH": f"{bindir}:/usr/bin"})
    args = ["-g", "-O2"]
    # Preprocessed with -g, as the client does: the .i then names the compile directory.
    source = subprocess.run(
        ["gcc", *args, "-E", hello.name], cwd=hello.parent, capture_output=True, check=True
    ).stdout
    reply = daemon.compile(1, ["gcc", *args, "-c", "hello.c", "-o", "hello.o"], source)
    assert reply.status == 0, reply.stderr.decode()
    started = record.read_text().split("\n")
    assert started[started.index("-pipe") :][:4] == ["-pipe", "-x", "cpp-output", "-"]
    ipath = hello.with_suffix(".i")
    ipath.write_bytes(source)
    assert reply.obj == local_object(ipath, args)


@pytest.mark.skipif(
    shutil.which("clang") is None or shutil.which("llvm-dwarfdump") is None,
    reason="clang and llvm-dwarfdump not installed",
)
@pytest.mark.parametrize("name", ["clang", "cc"], ids=["clang", "cc-is-clang"])
def test_clang_gets_its_source_as_a_file_so_debug_info_names_it(
    start_daemon: StartDaemon, hello: Path, tmp_path: Path, name: str
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / name).symlink_to(shutil.which("clang") or "clang")
    daemon = start_daemon("--allow-compiler", name, env={"DISTCCD_PATH": f"{bindir}:/usr/bin"})
    source = subprocess.run(
        ["clang", "-g", "-E", hello.name], cwd=hello.parent, capture_output=True, check=True
    ).stdout
    reply = daemon.compile(1, [name, "-g", "-c", "hello.c", "-o", "hello.o"], source)
    assert reply.status == 0, reply.stderr.decode()
    obj = hello.parent / "remote.o"
    obj.write_bytes(reply.obj)
    dump = subprocess.run(
        ["llvm-dwarfdump", "--debug-info", str(obj)], capture_output=True, text=True, check=True
    ).stdout
    names = re.findall(r'DW_AT_name\s*\("([^"]*)"\)', dump)
    assert names[:1] == ["hello.c"]  # the compile unit, as a local compile names it


def test_cxx_source_gets_ii_suffix(start_daemon: StartDaemon, tmp_path: Path) -> None:
    daemon = start_daemon("--allow-compiler", "g++")
    src = tmp_path / "x.cc"
    src.write_text("template <class T> T id(T x) { return x; }\nint f() { return id(3); }\n")
    pre = preprocess(src, "g++")
    reply = daemon.compile(2, ["g++", "-c", "x.cc", "-o", "x.o"], pre)
    assert reply.status == 0, reply.stderr
    ii = tmp_path / "x.ii"
    ii.write_bytes(pre)
    assert reply.obj == local_object(ii, [], "g++")


def test_syntax_error(start_daemon: StartDaemon, hello: Path) -> None:
    daemon = start_daemon("--allow-compiler", "gcc")
    hello.write_text("int broken( {\n")
    reply = daemon.compile(2, ARGV, preprocess(hello))
    assert reply.status == 1 << 8
    assert b"hello.c:1:" in reply.stderr and b"error" in reply.stderr
    assert reply.obj == b""
    assert len(daemon.wait_log("COMPILE_ERROR exit:1 sig:0")) == 1


def test_missing_compiler_is_110_with_message(start_daemon: StartDaemon) -> None:
    daemon = start_daemon("--allow-compiler", "nosuchcc")
    reply = daemon.compile(1, ["nosuchcc", "-c", "x.i", "-o", "x.o"], b"int x;\n")
    assert reply.status == 110 << 8
    assert b"failed to exec nosuchcc: No such file or directory" in reply.stderr
    assert reply.obj == b""


def test_compiler_stdout_and_empty_object(start_daemon: StartDaemon, tmp_path: Path) -> None:
    """``true`` as the compiler (BinTrue_Case): success, no object written, empty DOTO."""
    cc = _script(tmp_path / "chatty", "echo out; echo err >&2; exit 0\n")
    daemon = start_daemon("--allow-compiler", str(cc))
    reply = daemon.compile(2, [str(cc), "-c", "x.i", "-o", "x.o"], b"int x;\n")
    assert (reply.status, reply.stdout, reply.stderr, reply.obj) == (0, b"out\n", b"err\n", b"")


def test_signal_status_passes_through(start_daemon: StartDaemon, tmp_path: Path) -> None:
    cc = _script(tmp_path / "crash", "kill -SEGV $$\n")
    daemon = start_daemon("--allow-compiler", str(cc))
    reply = daemon.compile(1, [str(cc), "-c", "x.i", "-o", "x.o"], b"int x;\n")
    assert os.WIFSIGNALED(reply.status) and os.WTERMSIG(reply.status) == 11


def test_empty_source(start_daemon: StartDaemon) -> None:
    daemon = start_daemon("--allow-compiler", "gcc")
    reply = daemon.compile(2, ["gcc", "-c", "empty.i", "-o", "empty.o"], b"")
    assert reply.status == 0
    assert reply.obj.startswith(b"\x7fELF")


def _good(daemon: Daemon, hello: Path) -> None:
    reply = daemon.compile(2, ARGV, preprocess(hello))
    assert reply.status == 0 and reply.obj.startswith(b"\x7fELF")


HOSTILE = {
    "bad hex": b"DIST0000000zARGC00000001",
    "huge string": header(b"DIST", 1) + header(b"ARGC", 1) + b"ARGVffffffff" + b"x" * 100,
    "huge argc": header(b"DIST", 1) + header(b"ARGC", 0xFFFFFFFF) + b"ARGV00000003gcc",
    "zero argc": header(b"DIST", 1) + header(b"ARGC", 0) + bulk_packet(DOTI, b"x", False),
    "huge doti": request_head(1, ARGV) + b"DOTIffffffff" + b"x" * 1000,
    "truncated header": b"DIST000",
    "truncated argv": header(b"DIST", 1) + header(b"ARGC", 2) + b"ARGV00000010gc",
    "truncated doti": request_head(1, ARGV) + b"DOTI00001000int x;",
    "wrong token": header(b"DIST", 1) + header(b"ARGV", 1),
    "wrong first token": b"GET / HTTP/1.0\r\n\r\n",
    "version 0": header(b"DIST", 0) + argv_packets(ARGV),
    "version 9": header(b"DIST", 9) + argv_packets(ARGV),
    "version 3 not yet": header(b"DIST", 3) + request_head(3, ARGV, "/tmp")[12:],
    "bad lzo": request_head(2, ARGV) + header(DOTI, 8) + b"\xff" * 8,
    "sh": request_v12(1, ["/bin/sh", "-c", "x.c", "-o", "x.o"], b"x"),
    "sh by name": request_v12(1, ["sh", "-c", "touch /tmp/pwned", "-c", "x.c"], b"x"),
    "dotdot gcc": request_v12(1, ["../gcc", "-c", "x.c", "-o", "x.o"], b"x"),
    "abs gcc": request_v12(1, ["/usr/local/bin/gcc", "-c", "x.c", "-o", "x.o"], b"x"),
    "plugin": request_v12(1, ["gcc", "-fplugin=/tmp/evil.so", "-c", "x.c", "-o", "x.o"], b"x"),
    "specs": request_v12(1, ["gcc", "-specs=/tmp/evil", "-c", "x.c", "-o", "x.o"], b"x"),
    "link": request_v12(1, ["gcc", "x.c", "-o", "x"], b"int main(){}"),
    "nul in argv": request_v12(1, ["gcc", "-c", "x\0.c", "-o", "x.o"], b"x"),
}


def _lzo_bomb() -> bytes:
    """A DOTI that inflates past the daemon's 256 MiB limit (built only when used)."""
    body = lzo_compress(bytes(DAEMON_LIMITS.max_bulk + 4096))
    return request_head(2, ARGV) + header(DOTI, len(body)) + body


HOSTILE_BUILT = {"lzo bomb": _lzo_bomb}


@pytest.mark.parametrize("name", sorted([*HOSTILE, *HOSTILE_BUILT]))
def test_hostile_input_closes_connection_daemon_survives(
    start_daemon: StartDaemon, hello: Path, name: str
) -> None:
    daemon = start_daemon("--allow-compiler", "gcc")
    request = HOSTILE[name] if name in HOSTILE else HOSTILE_BUILT[name]()
    assert daemon.exchange(request) == b""
    _good(daemon, hello)
    assert daemon.alive()
    assert len(daemon.wait_log("client: 127.0.0.1:", 2)) == 2
    assert "ERROR" in daemon.log()  # the reason is logged


def test_refusal_reasons_are_logged(start_daemon: StartDaemon) -> None:
    daemon = start_daemon("--allow-compiler", "gcc")
    daemon.exchange(HOSTILE["plugin"])
    daemon.exchange(HOSTILE["sh"])
    daemon.exchange(HOSTILE["huge argc"])
    daemon.wait_log("client: ", 3)
    log = daemon.log()
    assert "-fplugin=" in log
    assert "sh not in /usr/local/lib/distcc or /usr/lib/distcc whitelist" in log
    assert "ARGC 4294967295 out of range" in log
    assert len(daemon.log_lines(" OTHER ")) == 2
    assert len(daemon.log_lines(" REJ_BAD_REQ ")) == 1


def test_client_disconnect_kills_compiler(start_daemon: StartDaemon, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    cc = _script(tmp_path / "slowcc", f"echo $$ > {marks}/pid\nexec sleep 300\n")
    daemon = start_daemon("--allow-compiler", str(cc))
    sock = daemon.connect()
    sock.sendall(request_v12(2, [str(cc), "-c", "x.i", "-o", "x.o"], b"int x;\n"))
    pid_file = marks / "pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "the compiler")
    pid = int(pid_file.read_text())
    sock.close()

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, "the compiler to be killed", timeout=10)
    daemon.wait_log("CLI_DISCONN")
    assert daemon.log_lines("client fd disconnected, killing job")
    daemon.wait_idle()


def test_job_lifetime_times_out(start_daemon: StartDaemon, tmp_path: Path) -> None:
    cc = _script(tmp_path / "slowcc", "exec sleep 300\n")
    daemon = start_daemon("--allow-compiler", str(cc), "--job-lifetime", "1")
    reply = daemon.compile(1, [str(cc), "-c", "x.i", "-o", "x.o"], b"int x;\n")
    assert reply.status == 118 << 8
    assert b"timeout" in reply.stderr
    daemon.wait_log("COMPILE_TIMEOUT")


def test_inetd_mode_over_pipes(tool_bin: Path, hello: Path, tmp_path: Path) -> None:
    """As over ssh: the request on stdin, kept open (EOF means the client is gone)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [str(tool_bin / "distccd"), "--inetd", "--enable-tcp-insecure", "--log-stderr"]
        + (["--user", "root"] if os.geteuid() == 0 else []),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(request_v12(2, ARGV, preprocess(hello)))
    proc.stdin.flush()
    reply = read_reply(Reader(proc.stdout), 2)  # type: ignore[arg-type]
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    assert reply.status == 0 and reply.obj.startswith(b"\x7fELF")
    assert b"COMPILE_OK" in proc.stderr.read()


def test_cmdlist_runs_the_listed_compiler(start_daemon: StartDaemon, hello: Path) -> None:
    listing = hello.parent / "cmdlist"
    listing.write_text("/usr/bin/gcc\n")
    daemon = start_daemon(env={"DISTCC_CMDLIST": str(listing)})
    reply = daemon.compile(1, ["/some/where/gcc", *ARGV[1:]], preprocess(hello))
    assert reply.status == 0
    assert daemon.exchange(request_v12(1, ["cc", *ARGV[1:]], b"int x;")) == b""
    daemon.wait_log("lookup of cc in DISTCC_CMDLIST failed")


def test_distccd_path_is_the_compilers_path(start_daemon: StartDaemon, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _script(bindir / "mycc", "echo from-mycc >&2\nexit 3\n")
    daemon = start_daemon("--allow-compiler", "mycc", env={"DISTCCD_PATH": str(bindir)})
    reply = daemon.compile(1, ["mycc", "-c", "x.c", "-o", "x.o"], b"x")
    assert (reply.status, reply.stderr) == (3 << 8, b"from-mycc\n")


def test_no_reply_to_unlisted_compiler_without_masquerade(
    start_daemon: StartDaemon, hello: Path
) -> None:
    daemon = start_daemon("--allow-compiler", "gcc")
    request = request_v12(1, ["x86_64-linux-gnu-gcc-99", *ARGV[1:]], preprocess(hello))
    assert daemon.exchange(request) == b""
    daemon.wait_log("x86_64-linux-gnu-gcc-99 not in")


def test_peer_half_close_before_doti_is_logged(start_daemon: StartDaemon) -> None:
    """A client whose cpp failed closes before DOTI: no reply, an OTHER summary."""
    daemon = start_daemon("--allow-compiler", "gcc")
    with daemon.connect() as sock:
        sock.sendall(request_head(1, ARGV))
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""
    assert daemon.wait_log(" OTHER ")[0].find("ret:108") > 0


def test_save_temps_keeps_the_job_directory(start_daemon: StartDaemon, hello: Path) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", env={"DISTCC_SAVE_TEMPS": "1"})
    assert daemon.compile(1, ARGV, preprocess(hello)).status == 0
    daemon.wait_log("COMPILE_OK")
    (job_dir,) = daemon.tmp_dir.iterdir()
    assert sorted(p.name for p in job_dir.iterdir()) == ["input.i", "output.o"]


@pytest.mark.parametrize(("client", "served"), [("127.0.0.2", True), ("127.0.0.1", False)])
def test_inetd_over_a_socket_checks_allow(
    tool_bin: Path, hello: Path, tmp_path: Path, client: str, served: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
    env["TMPDIR"] = str(tmp_path)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.socket() as sock:
            sock.bind((client, 0))
            sock.settimeout(30)
            sock.connect(listener.getsockname())
            accepted, _ = listener.accept()
            with accepted:
                proc = subprocess.Popen(
                    [str(tool_bin / "distccd"), "--inetd", "--allow", "127.0.0.2"]
                    + ["--allow-compiler", "gcc", "--log-stderr"]
                    + (["--user", "root"] if os.geteuid() == 0 else []),
                    stdin=accepted.fileno(),
                    stdout=accepted.fileno(),
                    stderr=subprocess.PIPE,
                    env=env,
                )
            sock.sendall(request_v12(2, ARGV, preprocess(hello)))
            reader = Reader(sock.makefile("rb"))
            if served:
                assert read_reply(reader, 2).obj.startswith(b"\x7fELF")
            else:
                try:
                    assert sock.recv(100) == b""
                except ConnectionResetError:  # closed with our request unread
                    pass
            assert proc.wait(timeout=60) == (0 if served else 113)
            assert proc.stderr is not None
            log = proc.stderr.read()
            assert (b"denied by access list" in log) is not served
