"""daemon/chroot.py on a scratch "server": a toolchain directory under tmp_path stands for
``/usr/lib``, a mirror root beside it; nothing is mounted (tests/security runs it for real)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.compiler.classify import classify
from common.compiler.job import CompileJob
from daemon import chroot
from daemon.mirror import MirrorRoot
from daemon.names import BadName
from daemon.sandbox import Sandbox


def _job(argv: list[str]) -> CompileJob:
    job = classify(argv, {}, lambda p: b"")
    assert isinstance(job, CompileJob)
    return job


@pytest.fixture
def server(tmp_path: Path) -> Path:
    """``tc/bin/cc`` (a program), ``tc/lib/libx.so.1``, ``tc/inc/x.h`` (headers)."""
    tc = tmp_path / "tc"
    (tc / "bin").mkdir(parents=True)
    (tc / "bin" / "cc").write_text("#!/bin/sh\n")
    (tc / "bin" / "cc").chmod(0o755)
    (tc / "lib").mkdir()
    (tc / "lib" / "libx.so.1").write_text("")
    (tc / "inc").mkdir()
    (tc / "inc" / "x.h").write_text("server's\n")
    return tc


@pytest.fixture
def mirror(tmp_path: Path) -> MirrorRoot:
    (tmp_path / "job" / "root").mkdir(parents=True)
    return MirrorRoot(str(tmp_path / "job" / "root"), lambda p: False)


def _build(
    mirror: MirrorRoot, server: Path, search: list[str], toolchain: tuple[str, ...] = ()
) -> chroot.Layout:
    return chroot.build(
        mirror,
        os.path.dirname(mirror.root),
        "/home/u",
        str(server / "bin" / "cc"),
        (str(server),),
        search,
        f"/home/u/bin:{server}/bin:relative",
        toolchain,
    )


def test_job_dirs() -> None:
    job = _job(["gcc", "-Iinc", "-isystem", "/s", "-I=/eq", "-iprefix", "/p/",
                "-iwithprefix", "w", "-resource-dir", "rd", "-c", "a.c"])  # fmt: skip
    include, toolchain = chroot.job_dirs(job, "/home/u")
    assert include == ["/home/u/inc", "/s", "/eq", "/p/w"]
    assert toolchain == ["/home/u/rd"]


def test_layout_covers_include_dirs_with_the_clients_copy(mirror: MirrorRoot, server: Path) -> None:
    mirror.write_file(f"{server}/inc/mine.h", b"client's\n")
    mirror.write_file("/home/u/a.c", b"int a;\n")
    mirror.add_link("/home/u/abs", "/home/u/a.c")
    layout = _build(mirror, server, [f"{server}/inc"])
    job = os.path.dirname(mirror.root)
    assert layout.mounts[0] == chroot.Mount(str(server), str(server))
    assert chroot.Mount(f"{job}/overlays/0", f"{server}/inc") in layout.mounts
    assert os.listdir(f"{job}/overlays/0") == ["mine.h"]
    assert chroot.Mount("/dev/null", "/dev/null", writable=True) in layout.mounts
    assert os.readlink(mirror.root + "/home/u/abs") == "/home/u/a.c"  # the client's target
    assert layout.path == f"{server}/bin"  # only PATH entries inside the toolchain
    assert os.path.isdir(mirror.root + chroot.TMP_DIR)


def test_an_include_dir_with_nothing_shipped_is_covered_empty(
    mirror: MirrorRoot, server: Path
) -> None:
    layout = _build(mirror, server, [f"{server}/inc"])
    overlay = next(m for m in layout.mounts if m.target == f"{server}/inc")
    assert os.listdir(overlay.source) == []


@pytest.mark.parametrize(
    "shipped, search, toolchain, why",
    [
        ("bin/cc", [], [], "shipped inside the toolchain"),
        ("lib/libx.so.1", [], [], "shipped inside the toolchain"),
        ("bin/cc", ["bin"], [], "part of the toolchain"),
        ("lib/y.h", ["lib"], [], "part of the toolchain"),
        ("inc/y.h", ["."], [], "part of the toolchain"),
        (None, [], ["/home/u"], "naming the client's files"),
        (None, ["inc"], ["inc"], "naming the client's files"),
    ],
)
def test_refusals(
    mirror: MirrorRoot,
    server: Path,
    shipped: str | None,
    search: list[str],
    toolchain: list[str],
    why: str,
) -> None:
    if shipped:
        mirror.write_file(f"{server}/{shipped}", b"x")
    search = [os.path.normpath(f"{server}/{d}") for d in search]
    named = tuple(d if d.startswith("/") else f"{server}/{d}" for d in toolchain)
    with pytest.raises(BadName, match=why):
        _build(mirror, server, search, named)


def test_reserved_names_are_refused(mirror: MirrorRoot, server: Path) -> None:
    mirror.write_file("/.distccd/x", b"x")
    with pytest.raises(BadName, match="reserved"):
        _build(mirror, server, [])


def test_a_link_in_place_of_the_toolchain_is_refused(mirror: MirrorRoot, server: Path) -> None:
    mirror.add_link(str(server), "/home/u")
    with pytest.raises(BadName, match="where the toolchain is"):
        _build(mirror, server, [])


def test_wrap_root_argv(mirror: MirrorRoot, server: Path) -> None:
    layout = _build(mirror, server, [f"{server}/inc"])
    argv = Sandbox("/srv/tmp").wrap_root(["gcc", "-c", "a.c"], layout)
    assert argv[:5] == ["unshare", "--user", "--map-root-user", "--mount", "--net"]
    assert argv[-3:] == [str(server / "bin" / "cc"), "-c", "a.c"]  # the program found
    assert f"PATH={server}/bin" in argv and f"TMPDIR={chroot.TMP_DIR}" in argv
    assert ["ro", str(server), str(server)] == argv[11:14]
