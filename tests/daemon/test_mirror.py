"""The mirror root (daemon/mirror.py): entries land inside it, hostile ones are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemon.mirror import MirrorRoot
from daemon.names import BadName


def everything(top: Path) -> set[str]:
    return {str(p.relative_to(top)) for p in top.rglob("*")}


@pytest.fixture
def top(tmp_path: Path) -> Path:
    (tmp_path / "job" / "root").mkdir(parents=True)
    return tmp_path


def mirror(top: Path, allowed: tuple[str, ...] = ()) -> MirrorRoot:
    return MirrorRoot(str(top / "job" / "root"), lambda p: os.path.realpath(p) in allowed)


def test_files_links_and_dirs_land_under_the_root(top: Path) -> None:
    m = mirror(top)
    m.write_file("/home/u/a.h", b"int a;\n")
    m.write_file("/home/u/a.h", b"int b;\n")  # replaced, as distcc does
    m.add_link("/home/u/l.h", "a.h")
    m.add_link("/home/v", "/home/u")  # absolute target: re-rooted
    m.make_dir("/home/w/x")
    m.verify_links()
    root = top / "job" / "root"
    assert (root / "home/u/a.h").read_bytes() == b"int b;\n"
    assert os.readlink(root / "home/v") == f"{root}/home/u"
    assert (root / "home/v/l.h").read_bytes() == b"int b;\n"
    assert (root / "home/w/x").is_dir()


@pytest.mark.parametrize(
    ("entries", "culprit"),
    [
        ([("file", "../x")], "not absolute"),
        ([("file", "/../../etc/passwd")], ".."),
        ([("link", "/etc-link", "../../../../../../../../../../etc")], "leaves the root"),
        ([("link", "/a", "../../x")], "leaves the root"),
        # a file below a link would be written through it
        ([("link", "/sys", "/"), ("file", "/sys/x.h")], "not a directory"),
        ([("link", "/out", "../../../../../../../../tmp"), ("file", "/out/x.h")], "leaves"),
        # a link where a file is, a file where a link is
        ([("file", "/a.h"), ("link", "/a.h", "b.h")], "something else"),
        ([("link", "/a.h", "b.h"), ("file", "/a.h")], "not a regular file"),
    ],
)
def test_hostile_entries_are_refused(
    top: Path, entries: list[tuple[str, ...]], culprit: str
) -> None:
    m = mirror(top)
    before = everything(top) - {"job", "job/root"}
    with pytest.raises(BadName, match=culprit):
        for kind, name, *rest in entries:
            if kind == "file":
                m.write_file(name, b"x")
            else:
                m.add_link(name, rest[0])
        m.verify_links()
    outside = everything(top) - {"job", "job/root"} - before
    assert all(p.startswith("job/root/") for p in outside), outside


def test_link_chains_that_escape_are_caught_after_the_fact(top: Path) -> None:
    m = mirror(top)
    m.add_link("/b", "/")  # -> root/
    m.add_link("/a", "b/..")  # lexically "/", really the job directory
    with pytest.raises(BadName, match="outside the job's root"):
        m.verify_links()


def test_system_dir_links_only_to_allowed_dirs(top: Path) -> None:
    real = top / "usr" / "include"
    real.mkdir(parents=True)
    m = mirror(top, allowed=(str(real),))
    depth = str(top / "job" / "root").count("/")
    target = "../" * (depth + 20) + str(real).lstrip("/")
    m.add_link(str(real), target)  # the stock include server's form
    m.verify_links()
    with pytest.raises(BadName, match="system include"):
        m.add_link("/etc", "../" * (depth + 20) + "etc")


def test_output_dir_must_stay_inside(top: Path) -> None:
    real = top / "usr" / "include"
    real.mkdir(parents=True)
    m = mirror(top, allowed=(str(real),))
    depth = str(top / "job" / "root").count("/")
    m.add_link("/usr/include", "../" * (depth + 20) + str(real).lstrip("/"))
    m.add_link("/home/u/lnk", "/home/u/real")
    assert m.make_output_dir("/home/u/lnk/obj") == str(top / "job/root/home/u/real/obj")
    with pytest.raises(BadName, match="leaves the job's root"):
        m.make_output_dir("/usr/include/obj")
    assert not (real / "obj").exists()
