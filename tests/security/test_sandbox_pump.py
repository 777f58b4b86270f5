"""Pump-mode jobs under ``distccd --sandbox`` (daemon/chroot.py), real namespaces, gcc/clang.

- the stock distcc 3.4 pump client with our include server, and the native protocol:
  objects (``-g``, so paths are in the debug info) and ``.d`` files equal to a local
  compile's, with gcc and with clang;
- what the compiler sees: the client's cwd and tree at the client's paths, the
  toolchain, and no ``/usr/include`` nor other header directory of the server;
- a header the client did not ship is not found: ``zlib.h`` in ``/usr/include`` (found
  unsandboxed), ``jni.h`` in an ``-I`` directory inside the ``/usr/lib`` bind;
- a client file that would stand in for a toolchain program or library, or a
  ``--prefix=`` (gcc's ``-B``, which the daemon refuses anyway) that would make gcc read
  a client's ``specs`` file, is refused (protocol 3: connection closed and a log line;
  native: ``ERRR``);
- a compiler that does not exist gives distcc's status 110 with and without the sandbox.

Skipped where the kernel does not allow user namespaces.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from common.protocol import Reader, Reply, read_reply, request_v12
from daemon.store import STORE_NAME, digest_of
from daemon.sysdirs import parse_verbose
from tests.daemon.helpers import Daemon, wait_for
from tests.daemon.pumphelpers import (
    STOCK_DISTCC,
    Entry,
    make_project,
    stock_pump_compile,
    v3_request,
)
from tests.daemon.test_native import NEntry, closure, native_compile
from tests.security.test_hostile_options import talk
from tests.security.test_sandbox import _namespaces_work

StartDaemon = Callable[..., Daemon]
INSECURE = "--enable-tcp-insecure"
BOX = (INSECURE, "--sandbox")
JNI_DIR = "/usr/lib/jvm/java-17-openjdk-amd64/include"

pytestmark = pytest.mark.skipif(not _namespaces_work(), reason="no user namespaces here")


def _v3(daemon: Daemon, cwd: str, argv: list[str], entries: list[Entry]) -> Reply | None:
    raw = talk(daemon, v3_request(cwd, argv, entries))
    return read_reply(Reader(io.BytesIO(raw)), 3) if raw else None


def _idle(daemon: Daemon) -> None:
    # the content store, the result cache, the mount point
    left = {"distccd-store", "distccd-results", "distccd-sandbox"}
    wait_for(lambda: {p.name for p in daemon.tmp_dir.iterdir()} <= left, "an idle TMPDIR")


def _needs(compiler: str) -> None:
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")


def _default_dirs(compiler: str) -> tuple[str, ...]:
    done = subprocess.run(
        [compiler, "-xc", "-E", "-v", "/dev/null", "-o", "/dev/null"],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_verbose(done.stderr).include_dirs


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


@pytest.mark.skipif(not os.path.exists(STOCK_DISTCC), reason="Debian's distcc is not installed")
@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_stock_pump_client_objects_equal_local(
    start_daemon: StartDaemon,
    tool_bin: Path,
    tmp_path: Path,
    project: Path,
    clean_env: dict[str, str],
    compiler: str,
) -> None:
    _needs(compiler)
    daemon = start_daemon(*BOX)
    argv = [compiler, "-g", "-O2", "-MD", f"-I{project.parent / 'inc'}", "-c", "hello.c"]
    stock_pump_compile(tool_bin, tmp_path, clean_env, daemon.port, argv, project)
    assert len(daemon.wait_log("COMPILE_OK")) == 1
    assert len(daemon.log_lines("pump job: ")) == 1
    remote_o, remote_d = (project / "hello.o").read_bytes(), (project / "hello.d").read_bytes()
    (project / "hello.o").unlink()
    subprocess.run(argv, cwd=project, check=True)
    assert remote_o == (project / "hello.o").read_bytes()
    assert remote_d == (project / "hello.d").read_bytes()
    assert str(project).encode() in remote_o  # DW_AT_comp_dir: the client's cwd
    assert str(daemon.tmp_dir).encode() not in remote_o
    _idle(daemon)


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_native_objects_equal_local(
    start_daemon: StartDaemon, project: Path, compiler: str
) -> None:
    """System headers matched by digest are taken from the server (through the store)."""
    _needs(compiler)
    daemon = start_daemon(*BOX)
    inc = f"-I{project.parent}/inc"
    argv = [compiler, "-g", "-O2", inc, "-c", "hello.c", "-o", "hello.o", "-MD"]
    entries = closure(project, [compiler, "-O2", inc, "hello.c"])
    first = native_compile(daemon, str(project), argv, entries)
    assert first.error is None and first.status == 0, first.stderr
    assert len(first.needed) == 3  # hello.c, hello.h, inc.h: system headers are the server's
    second = native_compile(daemon, str(project), argv, entries)
    assert second.needed == [] and second.status == 0
    subprocess.run(argv, cwd=project, check=True)
    assert first.obj == second.obj == (project / "hello.o").read_bytes()
    assert first.dotd == (project / "hello.d").read_bytes()
    assert str(project).encode() in first.obj  # DW_AT_comp_dir: the client's cwd
    daemon.wait_log("native job", 2)
    _idle(daemon)


@pytest.mark.parametrize("compiler", ["g++", "clang++"])
def test_native_cxx_objects_equal_local(
    start_daemon: StartDaemon, tmp_path: Path, compiler: str
) -> None:
    """libstdc++'s headers (and clang's search for them next to the GCC it finds)."""
    _needs(compiler)
    daemon = start_daemon(*BOX)
    project = tmp_path / "cxx"
    project.mkdir()
    (project / "v.cc").write_text(
        "#include <vector>\n#include <string>\n#include <cstdio>\n"
        "int main() { std::vector<std::string> v{__FILE__};\n"
        '  std::printf("%s\\n", v[0].c_str()); return 0; }\n'
    )
    argv = [compiler, "-g", "-O2", "-c", str(project / "v.cc"), "-o", "v.o", "-MD"]
    reply = native_compile(daemon, str(project), argv, closure(project, [compiler, "-O2", "v.cc"]))
    assert reply.error is None and reply.status == 0, reply.stderr
    subprocess.run(argv, cwd=project, check=True)
    assert reply.obj == (project / "v.o").read_bytes()
    assert reply.dotd == (project / "v.d").read_bytes()
    assert str(project / "v.cc").encode() in reply.obj  # __FILE__, an absolute source
    _idle(daemon)


def test_native_split_dwarf(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(*BOX)
    inc = f"-I{project.parent}/inc"
    argv = ["gcc", "-g", "-O2", "-gsplit-dwarf", inc, "-c", "hello.c", "-o", "out/hello.o"]
    (project / "out").mkdir()
    reply = native_compile(
        daemon, str(project), argv, closure(project, ["gcc", "-O2", inc, "hello.c"])
    )
    assert reply.status == 0, reply.stderr
    subprocess.run(argv, cwd=project, check=True)
    assert reply.obj == (project / "out" / "hello.o").read_bytes()
    assert reply.dwo == (project / "out" / "hello.dwo").read_bytes()
    _idle(daemon)


def test_protocol_3_with_the_stock_links(start_daemon: StartDaemon, project: Path) -> None:
    """As the stock include server ships it: the files, and for each default directory
    a link climbing to the server's own (the client delegates those to the server)."""
    daemon = start_daemon(*BOX)
    base = project.parent
    entries: list[Entry] = [
        ("file", str(p), p.read_bytes())
        for p in (project / "hello.c", project / "hello.h", base / "inc" / "inc.h")
    ]
    dirs = _default_dirs("gcc")
    for d in dirs:
        if not any(d.startswith(t + "/") for t in dirs):
            entries.append(("link", d, "../" * 30 + d.lstrip("/")))
    argv = ["gcc", "-g", "-O2", "-MD", f"-I{base}/inc", "-c", "hello.c", "-o", "hello.o"]
    reply = _v3(daemon, str(project), argv, entries)
    assert reply is not None and reply.status == 0, reply
    subprocess.run(argv, cwd=project, check=True)
    assert reply.obj == (project / "hello.o").read_bytes()
    assert reply.dotd == (project / "hello.d").read_bytes()
    _idle(daemon)


def test_what_the_compiler_sees(start_daemon: StartDaemon, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    look = tools / "look-cc"
    look.write_text(
        "#!/bin/sh\n"
        'out=; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done\n'
        'echo "cwd=$(pwd)"; echo "root="$(ls /); echo "usr="$(ls /usr); echo "etc="$(ls /etc)\n'
        'cat h.h; echo made > "$out"\n'
    )
    look.chmod(0o755)
    daemon = start_daemon("--allow-compiler", str(look), "--sandbox", "--sandbox-bind", str(tools))
    entries: list[Entry] = [
        ("file", "/home/u/p/m.c", b"int m;\n"),
        ("file", "/home/u/p/h.h", b"the client's h.h\n"),
    ]
    reply = _v3(daemon, "/home/u/p", [str(look), "-c", "m.c", "-o", "m.o"], entries)
    assert reply is not None and reply.status == 0, reply
    seen = dict(line.split("=", 1) for line in reply.stdout.decode().splitlines() if "=" in line)
    assert seen["cwd"] == "/home/u/p"
    assert {"home", "usr", "etc", "dev"} <= set(seen["root"].split())
    assert set(seen["usr"].split()) <= {"bin", "lib", "lib32", "lib64", "libx32", "libexec"}
    assert "include" not in seen["usr"].split()
    assert set(seen["etc"].split()) == {"alternatives", "ld.so.cache"}
    assert b"the client's h.h" in reply.stdout
    assert reply.obj == b"made\n"


def test_compiler_cannot_change_the_content_store(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    # In its user namespace the compiler owns the root's files: were they hard links to
    # the store, it could chmod and rewrite what later jobs of other clients compile.
    tools = tmp_path / "tools"
    tools.mkdir()
    meddle = tools / "meddle-cc"
    meddle.write_text(
        "#!/bin/sh\n"
        'out=; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done\n'
        "chmod 644 h.h && echo '#define V 666' >> h.h\n"
        'cat h.h > "$out"\n'
    )
    meddle.chmod(0o755)
    daemon = start_daemon(
        "--allow-compiler", str(meddle), "--sandbox", "--sandbox-bind", str(tools)
    )
    header = b"#define V 1\n"
    entries = [NEntry("F", "/home/u/m.c", b"int m;\n"), NEntry("F", "/home/u/h.h", header)]
    argv = [str(meddle), "-c", "m.c", "-o", "m.o"]
    first = native_compile(daemon, "/home/u", argv, entries)
    assert first.status == 0 and first.obj == header + b"#define V 666\n", first
    stored = daemon.tmp_dir / STORE_NAME / digest_of(header)[8:10] / digest_of(header)[8:]
    assert stored.read_bytes() == header
    assert stored.stat().st_mode & 0o777 == 0o444
    # Another client's job with the same header gets it as sent, from the store.
    theirs = [NEntry("F", "/home/v/m.c", b"int m;\n"), NEntry("F", "/home/v/h.h", header)]
    other = native_compile(daemon, "/home/v", argv, theirs)
    assert other.status == 0 and other.needed == []  # both files are in the store
    assert other.obj == header + b"#define V 666\n"  # its own copy, meddled with again
    _idle(daemon)


@pytest.mark.skipif(not os.path.exists("/usr/include/zlib.h"), reason="no zlib.h here")
def test_unshipped_server_header_is_not_found(start_daemon: StartDaemon) -> None:
    plain, boxed = start_daemon(INSECURE), start_daemon(*BOX)
    source = b"#include <zlib.h>\nconst char *v = ZLIB_VERSION;\n"
    argv = ["gcc", "-c", "z.c", "-o", "z.o"]
    v3: list[Entry] = [("file", "/home/u/z.c", source)]
    found = _v3(plain, "/home/u", argv, v3)
    assert found is not None and found.status == 0  # the server's own /usr/include
    kept = _v3(boxed, "/home/u", argv, v3)
    assert kept is not None and kept.status == 1 << 8
    assert b"zlib.h: No such file" in kept.stderr and kept.obj == b""
    native = [NEntry("F", "/home/u/z.c", source)]
    assert native_compile(plain, "/home/u", argv, native).status == 0
    refused = native_compile(boxed, "/home/u", argv, native)
    assert refused.status == 1 << 8 and b"zlib.h: No such file" in refused.stderr


@pytest.mark.skipif(not os.path.isfile(f"{JNI_DIR}/jni.h"), reason="no JDK headers here")
def test_include_dir_inside_the_toolchain_shows_only_shipped_files(
    start_daemon: StartDaemon,
) -> None:
    """``-I/usr/lib/jvm/.../include`` lies inside the ``/usr/lib`` bind: the mirror's copy
    covers it, so the server's ``jni.h`` is hidden and the client's is used.  (Unsandboxed,
    the ``-I`` is re-rooted: the server's is not read either.)"""
    boxed = start_daemon(*BOX)
    source = b'#include "jni.h"\nint v = JNI_VERSION_1_1;\n'
    argv = ["gcc", f"-I{JNI_DIR}", "-c", "j.c", "-o", "j.o"]
    entries = [NEntry("F", "/home/u/j.c", source)]
    hidden = native_compile(boxed, "/home/u", argv, entries)
    assert hidden.status == 1 << 8 and b"jni.h: No such file" in hidden.stderr
    mine = [*entries, NEntry("F", f"{JNI_DIR}/jni.h", b"#define JNI_VERSION_1_1 0x42\n")]
    used = native_compile(boxed, "/home/u", argv, mine)
    assert used.status == 0, used.stderr
    boxed.wait_log("client: ", 2)
    _idle(boxed)


def test_shadowing_the_toolchain_is_refused(start_daemon: StartDaemon) -> None:
    cc1 = subprocess.run(
        ["gcc", "-print-prog-name=cc1"], capture_output=True, text=True, check=True
    ).stdout.strip()
    triple = subprocess.run(
        ["gcc", "-dumpmachine"], capture_output=True, text=True, check=True
    ).stdout.strip()
    daemon = start_daemon(*BOX)
    source = NEntry("F", "/home/u/a.c", b"int a;\n")
    argv = ["gcc", "-c", "a.c", "-o", "a.o"]
    evil = b"#!/bin/sh\necho owned\n"
    for extra, more in (
        (NEntry("F", cc1, evil), []),
        (NEntry("F", f"/usr/lib/{triple}/libzz.so.1", evil), []),
        (NEntry("F", cc1, evil), [f"-I{os.path.dirname(cc1)}"]),
        (NEntry("F", "/dev/null", evil), []),
        (NEntry("F", "/home/u/specs", b"*invoke_as:\nsh -c owned\n\n"), ["--prefix=/home/u/"]),
        (NEntry("L", "/usr/lib", target="/home/u"), []),
        (NEntry("F", "/etc/ld.so.preload", b"/home/u/evil.so\n"), []),  # loaded into cc1
    ):
        reply = native_compile(daemon, "/home/u", [*argv[:1], *more, *argv[1:]], [source, extra])
        assert reply.error and any(
            why in reply.error
            for why in ("toolchain", "reserved", "client names", "server's configuration")
        ), reply
    raw = talk(
        daemon,
        v3_request("/home/u", argv, [("file", "/home/u/a.c", b"int a;\n"), ("file", cc1, evil)]),
    )
    assert raw == b""
    assert daemon.wait_log("shipped inside the toolchain directory")
    _idle(daemon)


@pytest.mark.parametrize("sandbox", [False, True])
def test_missing_compiler_is_110(start_daemon: StartDaemon, sandbox: bool) -> None:
    daemon = start_daemon("--allow-compiler", "zz-no-such-cc", *(["--sandbox"] if sandbox else []))
    argv = ["zz-no-such-cc", "-c", "a.c", "-o", "a.o"]
    with daemon.connect() as sock:
        sock.sendall(request_v12(1, argv, b"int a;\n"))
        plain = read_reply(Reader(sock.makefile("rb")), 1)
    assert plain.status == 110 << 8
    assert b"failed to exec zz-no-such-cc" in plain.stderr
    pump = _v3(daemon, "/home/u", argv, [("file", "/home/u/a.c", b"int a;\n")])
    assert pump is not None and pump.status == 110 << 8
    assert b"failed to exec zz-no-such-cc" in pump.stderr
    _idle(daemon)
