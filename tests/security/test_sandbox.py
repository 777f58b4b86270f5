"""``distccd --sandbox`` with real namespaces and real gcc/clang.

- plain (protocol 1) and pump (protocol 3) objects are byte-identical with and without
  the sandbox (``-g``, so paths are in the debug info);
- a secret outside the job is read by an unsandboxed compile and *not* by a sandboxed
  one: ``.incbin`` in plain mode, an ``#include`` climbing out of the mirror root in pump
  mode (a header the client did not ship);
- nothing is reachable over the network from inside (a compiler that connects to the
  daemon's own port fails), a crashing compiler still reports SIGSEGV;
- without namespace support (``DISTCCD_UNSHARE=/bin/false`` stands for a kernel that
  refuses) the daemon says so at start and exits 100, unless ``--sandbox-optional``.

Skipped where the kernel does not allow user namespaces (checked with ``unshare``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from common.protocol import Reader, read_reply, request_v12
from daemon.runner import CompilerMissing
from daemon.sandbox import Sandbox
from tests.daemon.helpers import Daemon, free_port, wait_for
from tests.daemon.pumphelpers import Entry, v3_request
from tests.security.test_hostile_options import talk

StartDaemon = Callable[..., Daemon]
ALLOW = ("--allow-compiler", "gcc", "--allow-compiler", "clang")


def _namespaces_work() -> bool:
    try:
        done = subprocess.run(["unshare", "-Urmn", "true"], capture_output=True, timeout=30)
    except OSError:
        return False
    return done.returncode == 0


pytestmark = pytest.mark.skipif(not _namespaces_work(), reason="no user namespaces here")


def _plain(daemon: Daemon, argv: list[str], source: bytes):  # type: ignore[no-untyped-def]
    with daemon.connect() as sock:
        sock.sendall(request_v12(1, argv, source))
        return read_reply(Reader(sock.makefile("rb")), 1)


def _v3(daemon: Daemon, cwd: str, argv: list[str], entries: list):  # type: ignore[no-untyped-def,type-arg]
    import io

    raw = talk(daemon, v3_request(cwd, argv, entries))
    return read_reply(Reader(io.BytesIO(raw)), 3) if raw else None


def _wait_idle(daemon: Daemon) -> None:
    # the content store, the result cache, the mount point
    left = {"distccd-store", "distccd-results", "distccd-sandbox"}
    wait_for(lambda: {p.name for p in daemon.tmp_dir.iterdir()} <= left, "an idle TMPDIR")


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.h"
    path.parent.mkdir()
    path.write_text("int secret_value = 0x5ec7e7;\n")
    return path


def test_wrap_finds_the_compiler_and_keeps_the_job_path() -> None:
    box = Sandbox("/srv/tmp", search_path=os.environ.get("PATH", "/usr/bin"))
    argv = box.wrap(["gcc", "-c", "x.i"], "/srv/tmp/distccd_ab/root/home/u")
    assert argv[-4:] == ["--", shutil.which("gcc"), "-c", "x.i"]
    assert "/srv/tmp/distccd_ab" in argv and "/srv/tmp/distccd-sandbox" in argv
    assert "--net" in argv and "--user" in argv
    with pytest.raises(Exception, match="not inside"):
        box.wrap(["gcc"], "/etc")
    with pytest.raises(CompilerMissing):  # status 110, as unsandboxed (not env's 127)
        box.wrap(["zz-no-such-cc"], "/srv/tmp/distccd_ab")


def test_plain_objects_identical_and_incbin_cannot_read_the_server(
    start_daemon: StartDaemon, secret: Path, tmp_path: Path
) -> None:
    plain = start_daemon(*ALLOW)
    boxed = start_daemon(*ALLOW, "--sandbox")
    # As gcc -E -g sends it: the second linemarker names the client's cwd (DW_AT_comp_dir).
    source = b'# 1 "/home/u/hello.c"\n# 1 "/home/u//"\nint answer(void) { return 42; }\n'
    # clang takes DW_AT_comp_dir from its own cwd (distcc issue #181): no -g for it here.
    for argv in (
        ["gcc", "-g", "-O2", "-c", "hello.c", "-o", "hello.o"],
        ["clang", "-O2", "-c", "hello.c", "-o", "hello.o"],
    ):
        a, b = _plain(plain, argv, source), _plain(boxed, argv, source)
        assert a.status == b.status == 0, b.stderr
        assert a.obj == b.obj
    steal = (
        b'# 1 "x.c"\n__asm__(".section .rodata\\n.incbin \\"' + str(secret).encode() + b'\\"");\n'
    )
    argv = ["gcc", "-c", "x.c", "-o", "x.o"]
    leaked = _plain(plain, argv, steal)
    assert leaked.status == 0 and b"secret_value" in leaked.obj  # the hole without it
    refused = _plain(boxed, argv, steal)
    assert refused.status != 0 and b"secret_value" not in refused.obj
    assert str(secret).encode() in refused.stderr
    _wait_idle(boxed)


def test_pump_objects_identical_and_unshipped_headers_unreadable(
    start_daemon: StartDaemon, secret: Path, tmp_path: Path
) -> None:
    plain = start_daemon(*ALLOW)
    boxed = start_daemon(*ALLOW, "--sandbox")
    src = '#include <stdio.h>\n#include "h.h"\nint main(void) { printf("%d\\n", H); return 0; }\n'
    entries: list[Entry] = [
        ("file", "/home/u/p/m.c", src.encode()),
        ("file", "/home/u/p/h.h", b"#define H 3\n"),
    ]
    # The stock include server's links to the server's own default directories.
    gcc_include = subprocess.run(
        ["gcc", "-print-file-name=include"], capture_output=True, text=True, check=True
    ).stdout.strip()
    for d in ("/usr/include", os.path.realpath(gcc_include)):
        entries.append(("link", d, "../" * 25 + d.lstrip("/")))
    argv = ["gcc", "-g", "-O2", "-MD", "-c", "m.c", "-o", "m.o"]
    a, b = _v3(plain, "/home/u/p", argv, entries), _v3(boxed, "/home/u/p", argv, entries)
    assert a is not None and b is not None
    assert a.status == b.status == 0, b.stderr
    assert (a.obj, a.dotd) == (b.obj, b.dotd)
    climb = "../" * 30 + str(secret).lstrip("/")
    steal = [
        (
            "file",
            "/home/u/p/s.c",
            f'#include "{climb}"\nint f(void) {{ return secret_value; }}\n'.encode(),
        )
    ]
    argv = ["gcc", "-c", "s.c", "-o", "s.o"]
    leaked = _v3(plain, "/home/u/p", argv, steal)
    assert leaked is not None and leaked.status == 0  # the hole without the sandbox
    kept = _v3(boxed, "/home/u/p", argv, steal)
    assert kept is not None and kept.status != 0
    assert b"No such file" in kept.stderr
    _wait_idle(boxed)


def test_no_network_and_signals_pass_through(start_daemon: StartDaemon, tmp_path: Path) -> None:
    probe = tmp_path / "tools" / "net-cc"
    probe.parent.mkdir()
    probe.write_text(
        "#!/bin/bash\nif exec 3<>/dev/tcp/127.0.0.1/$PORT; then echo connected; exit 0; fi\n"
        "echo no-network; exit 3\n"
    )
    probe.chmod(0o755)
    crash = tmp_path / "tools" / "segv-cc"
    crash.write_text("#!/bin/sh\nkill -SEGV $$\n")
    crash.chmod(0o755)
    args = ("--allow-compiler", str(probe), "--allow-compiler", str(crash))
    with socket.socket() as listener:  # something to reach on the host's loopback
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = {"PORT": str(listener.getsockname()[1])}
        plain = start_daemon(*args, env=port)
        daemon = start_daemon(*args, "--sandbox", env=port)
        source = b"int x;\n"
        reached = _plain(plain, [str(probe), "-c", "a.c", "-o", "a.o"], source)
        assert reached.status == 0 and b"connected" in reached.stdout
        boxed_net = _plain(daemon, [str(probe), "-c", "a.c", "-o", "a.o"], source)
        assert boxed_net.status == 3 << 8 and b"no-network" in boxed_net.stdout
    crashed = _plain(daemon, [str(crash), "-c", "a.c", "-o", "a.o"], source)
    assert os.WIFSIGNALED(crashed.status) and os.WTERMSIG(crashed.status) == signal.SIGSEGV


def test_without_namespaces_it_says_so(tool_bin: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
    env.update(TMPDIR=str(tmp_path), DISTCCD_UNSHARE="/bin/false")
    base = [str(tool_bin / "distccd"), "--daemon", "--no-detach", "--lifetime", "1",
            "--port", str(free_port()), "--allow-compiler", "gcc", "--sandbox",
            "--log-stderr"]  # fmt: skip
    if os.geteuid() == 0:
        base += ["--user", "root"]
    refused = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 100
    assert "user and mount namespaces" in refused.stderr
    assert "--sandbox-optional" in refused.stderr
    anyway = subprocess.run(
        [*base, "--sandbox-optional"], env=env, capture_output=True, text=True, timeout=60
    )
    assert anyway.returncode == 0, anyway.stderr
    assert "UNSANDBOXED" in anyway.stderr
