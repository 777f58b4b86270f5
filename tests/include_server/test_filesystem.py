"""Kernel-like walks with recorded dependencies, and forgetting."""

from __future__ import annotations

import os
from pathlib import Path

from include_server.filesystem import FileSystemView, Kind


def test_walk_through_symlinks_and_dotdot(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "real" / "sub").mkdir(parents=True)
    (root / "real" / "sub" / "x.h").write_text("x")
    (root / "empty").mkdir()
    os.symlink("real/sub", root / "link")
    fs = FileSystemView()
    w = fs.walk(f"{root}/link/../sub/x.h")
    # ".." applies to where the link led (real/), as the kernel does.
    assert (w.canonical, w.kind) == (str(root / "real" / "sub" / "x.h"), Kind.FILE)
    assert w.symlinks == ((str(root / "link"), "real/sub"),)
    assert str(root / "real" / "sub") in w.through_dirs
    assert str(root / "link") in w.deps
    w2 = fs.walk(f"{root}/empty/../real/sub/x.h")
    assert w2.through_dirs == (str(root / "empty"),)


def test_misses_are_dependencies(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    fs = FileSystemView()
    w = fs.walk(f"{root}/nodir/x.h")
    assert w.canonical is None and w.deps[-1] == str(root / "nodir")
    assert fs.walk(f"{root}").kind == Kind.DIR


def test_directory_named_like_a_file_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "x.h").mkdir()
    assert FileSystemView().walk(f"{tmp_path.resolve()}/x.h").kind == Kind.DIR


def test_forget(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "d").mkdir()
    (root / "d" / "a.h").write_text("#include <b.h>\n")
    fs = FileSystemView()
    assert fs.read(str(root / "d" / "a.h")).scan.includes[0].text == "b.h"
    assert not fs.forget(str(root / "unrelated.o"))  # never looked at: nothing to do
    (root / "d" / "a.h").write_text("#include <c.h>\n")
    assert fs.forget(str(root / "d"))  # a directory: everything below goes
    assert fs.read(str(root / "d" / "a.h")).scan.includes[0].text == "c.h"
    assert fs.read(str(root / "d" / "a.h")).stable


def test_file_changing_while_read_is_not_cached() -> None:
    # /proc files report size 0 but read non-empty: exactly a stat/contents mismatch.
    fs = FileSystemView()
    data = fs.read("/proc/self/status")
    assert not data.stable and fs.stats["unstable"] == 1
    fs.read("/proc/self/status")
    assert fs.stats["read"] == 2  # read again: nothing was remembered
