"""Protocol 3 (pump mode) on our daemon, end to end with real gcc.

(a) the stock distcc 3.4 client in pump mode, with our include server, against our daemon:
objects ``cmp``-equal to local builds and ``.d`` files equal byte for byte;
(b) protocol 3 requests built by hand, hostile ones included: refused (connection closed,
a log line), nothing created outside the job directory;
(c) after every kind of job the daemon's TMPDIR is empty again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from common.protocol import Reader, read_reply
from tests.daemon.helpers import Daemon
from tests.daemon.pumphelpers import (
    STOCK_DISTCC,
    Entry,
    make_project,
    stock_pump_compile,
    tree_entries,
    v3_request,
)

StartDaemon = Callable[..., Daemon]
INSECURE = "--enable-tcp-insecure"


def everything(top: Path) -> set[str]:
    return {str(p.relative_to(top)) for p in top.rglob("*")}


def compile_v3(daemon: Daemon, cwd: str, argv: list[str], entries: list[Entry]):  # type: ignore[no-untyped-def]
    with daemon.connect() as sock:
        sock.sendall(v3_request(cwd, argv, entries))
        return read_reply(Reader(sock.makefile("rb")), 3)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


@pytest.mark.skipif(not os.path.exists(STOCK_DISTCC), reason="Debian's distcc is not installed")
@pytest.mark.parametrize(
    "flags",
    [
        ["-g", "-O2", "-MD"],
        ["-g", "-O2", "-gdwarf-4", "-MMD", "-MP"],
        ["-g3", "-O2", "-Wp,-MD,deps.d"],
        ["-g", "-O2", "-MD", "-ffile-prefix-map=PROJ=/proj"],
        ["clang", "-g", "-O2", "-MD", "-MP"],
        ["-g", "-O2", "-MD", "-I../inc"],
    ],
)
def test_stock_pump_client_objects_equal_local(
    start_daemon: StartDaemon,
    tool_bin: Path,
    tmp_path: Path,
    project: Path,
    clean_env: dict[str, str],
    flags: list[str],
) -> None:
    daemon = start_daemon(INSECURE)
    flags = [f.replace("PROJ", str(project.parent)) for f in flags]
    compiler = flags.pop(0) if flags[0] == "clang" else "gcc"
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    inc = [] if "-I../inc" in flags else [f"-I{project.parent / 'inc'}"]
    argv = [compiler, *flags, *inc, "-c", "hello.c", "-o", "hello.o"]
    stock_pump_compile(tool_bin, tmp_path, clean_env, daemon.port, argv, project)
    assert len(daemon.wait_log("COMPILE_OK")) == 1  # it did run on our daemon
    assert len(daemon.log_lines("pump job: ")) == 1  # in pump mode, headers shipped
    dep = "deps.d" if "-Wp,-MD,deps.d" in flags else "hello.d"
    remote_o, remote_d = (project / "hello.o").read_bytes(), (project / dep).read_bytes()
    (project / "hello.o").unlink()
    subprocess.run(argv, cwd=project, check=True)
    assert remote_o == (project / "hello.o").read_bytes()
    assert remote_d == (project / dep).read_bytes()
    daemon.wait_idle()


def test_hand_built_request_with_absolute_paths(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    base = project.parent
    entries = tree_entries(base, ["src/hello.c", "src/hello.h", "inc/inc.h"])
    argv = ["gcc", "-g", "-O2", "-MD", f"-I{base}/inc", "-c", f"{project}/hello.c",
            "-o", f"{base}/obj/hello.o"]  # fmt: skip
    reply = compile_v3(daemon, str(project), argv, entries)
    assert reply.status == 0, reply.stderr
    (base / "obj").mkdir()
    subprocess.run(argv, cwd=project, check=True)
    assert reply.obj == (base / "obj" / "hello.o").read_bytes()
    assert reply.dotd == (base / "obj" / "hello.d").read_bytes()
    daemon.wait_idle()


def test_compile_error_reports_client_paths(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    bad = project / "bad.c"
    bad.write_text('#include "hello.h"\nint f(void) { return undeclared; }\n')
    entries = tree_entries(project, ["bad.c", "hello.h"])
    reply = compile_v3(daemon, "/elsewhere", ["gcc", "-c", str(bad)], entries)
    assert reply.status == 1 << 8
    assert f"{bad}:2:".encode() in reply.stderr
    assert daemon.tmp_dir.as_posix().encode() not in reply.stderr
    assert reply.obj == b""
    daemon.wait_idle()


HOSTILE: list[list[Entry]] = [
    [("file", "../x", b"x")],
    [("file", "/../../etc/passwd", b"x")],
    [("file", "relative/name.h", b"x")],
    [("link", "/etc-link", "../" * 30 + "etc")],  # climbs to the real /etc
    [("link", "/near", "../../x")],  # climbs into the daemon's TMPDIR
    [("link", "/cfg", "/etc"), ("file", "/cfg/passwd", b"x")],  # written through a link
    [("link", "/b", "/"), ("link", "/a", "b/../../..")],  # a chain out of the root
    [("file", "/a\0b", b"x")],
]


@pytest.mark.parametrize("entries", HOSTILE)
def test_hostile_names_are_refused(
    start_daemon: StartDaemon, project: Path, entries: list[Entry]
) -> None:
    daemon = start_daemon(INSECURE)
    tmp_parent = daemon.tmp_dir.parent
    before = everything(tmp_parent)
    good = tree_entries(project, ["hello.c", "hello.h"])
    request = v3_request(str(project), ["gcc", "-c", "hello.c"], entries + good)
    assert daemon.exchange(request) == b""  # refused: connection closed, no reply
    assert daemon.wait_log("REJ_BAD_REQ")
    assert daemon.log_lines("refused") or daemon.log_lines("NUL")
    daemon.wait_idle()
    after = everything(tmp_parent) - {"distccd.log"}
    assert after <= before | {"distccd.log"}
    assert not (project / "x").exists()


def test_bad_cdir_and_bad_option_are_refused(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    good = tree_entries(project, ["hello.c", "hello.h"])
    assert daemon.exchange(v3_request("../up", ["gcc", "-c", "hello.c"], good)) == b""
    plugin = ["gcc", "-fplugin=/x.so", "-c", "hello.c"]
    assert daemon.exchange(v3_request(str(project), plugin, good)) == b""
    assert len(daemon.wait_log("client: ", 2)) == 2
    daemon.wait_idle()


def test_system_dir_links_of_the_stock_include_server(
    start_daemon: StartDaemon, project: Path
) -> None:
    """``<root>/usr/include -> ../../…/usr/include`` reaches the server's own headers."""
    daemon = start_daemon(INSECURE)
    entries = tree_entries(project.parent, ["src/hello.c", "src/hello.h", "inc/inc.h"])
    entries.append(("link", "/usr/include", "../" * 25 + "usr/include"))
    argv = ["gcc", "-O2", "-g", f"-I{project.parent}/inc", "-I/usr/include", "-c", "hello.c"]
    reply = compile_v3(daemon, str(project), argv, entries)
    assert reply.status == 0, reply.stderr
    subprocess.run(argv, cwd=project, check=True)
    assert reply.obj == (project / "hello.o").read_bytes()
    daemon.wait_idle()


def test_tmpdir_is_empty_after_every_kind_of_job(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    good = tree_entries(project, ["hello.c", "hello.h"])
    argv = ["gcc", "-c", "hello.c", f"-I{project.parent}/inc"]
    good += tree_entries(project.parent, ["inc/inc.h"])
    assert compile_v3(daemon, str(project), argv, good).status == 0
    broken = [("file", str(project / "hello.c"), b"syntax error here\n")]
    assert compile_v3(daemon, str(project), ["gcc", "-c", "hello.c"], broken).status != 0
    assert daemon.exchange(v3_request(str(project), argv, [("file", "../x", b"")])) == b""
    truncated = v3_request(str(project), argv, good)[:-10]
    assert daemon.exchange(truncated) == b""
    daemon.wait_log("client: ", 4)
    daemon.wait_idle()
    assert list(daemon.tmp_dir.iterdir()) == []


def test_output_to_a_system_dir_link_is_refused(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    entries = tree_entries(project, ["hello.c", "hello.h"])
    entries.append(("link", "/usr/include", "../" * 25 + "usr/include"))
    argv = ["gcc", "-c", "hello.c", "-o", "/usr/include/evil.o"]
    assert daemon.exchange(v3_request(str(project), argv, entries)) == b""
    assert daemon.wait_log("leaves the job's root")
    assert not os.path.exists("/usr/include/evil.o")
    daemon.wait_idle()


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
def test_clang_in_the_mirror_root(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    base = project.parent
    entries = tree_entries(base, ["src/hello.c", "src/hello.h", "inc/inc.h"])
    argv = ["clang", "-g", "-O2", "-MD", "-MP", f"-I{base}/inc", "-c", "hello.c", "-o", "h.o"]
    reply = compile_v3(daemon, str(project), argv, entries)
    assert reply.status == 0, reply.stderr
    subprocess.run(argv, cwd=project, check=True)
    assert reply.obj == (project / "h.o").read_bytes()
    assert reply.dotd == (project / "h.d").read_bytes()
    daemon.wait_idle()


def test_dwarf4_absolute_source_is_the_documented_exception(
    start_daemon: StartDaemon, project: Path
) -> None:
    """gcc <= DWARF 4 names an absolute source twice in the line table when a prefix map
    applies (reference/objrewrite.md §5): the object is not byte-identical, but names no
    server path and its .debug_info equals the local one."""
    daemon = start_daemon(INSECURE)
    base = project.parent
    entries = tree_entries(base, ["src/hello.c", "src/hello.h", "inc/inc.h"])
    argv = ["gcc", "-O2", "-gdwarf-4", f"-I{base}/inc", "-c", f"{project}/hello.c", "-o", "h.o"]
    reply = compile_v3(daemon, str(project), argv, entries)
    assert reply.status == 0, reply.stderr
    assert str(daemon.tmp_dir).encode() not in reply.obj
    subprocess.run(argv, cwd=project, check=True)
    (project / "remote.o").write_bytes(reply.obj)

    def info(name: str) -> str:
        dump = subprocess.run(
            ["llvm-dwarfdump", "--debug-info", name], cwd=project, capture_output=True, text=True
        ).stdout
        return dump.split("\n", 1)[1]

    if shutil.which("llvm-dwarfdump") is None:
        pytest.skip("llvm-dwarfdump not installed")
    assert info("remote.o") == info("h.o")


def test_split_dwarf_fails_over_protocol_3(start_daemon: StartDaemon, project: Path) -> None:
    """No packet carries the .dwo in protocol 3: the job fails so the client builds locally."""
    daemon = start_daemon(INSECURE)
    entries = tree_entries(project, ["hello.c", "hello.h"])
    argv = ["gcc", "-g", "-gsplit-dwarf", f"-I{project.parent}/inc", "-c", "hello.c"]
    entries += tree_entries(project.parent, ["inc/inc.h"])
    reply = compile_v3(daemon, str(project), argv, entries)
    assert reply.status == 100 << 8
    assert b"-gsplit-dwarf" in reply.stderr and reply.obj == b""
    daemon.wait_idle()
