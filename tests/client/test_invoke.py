"""Invocation forms, PATH trimming and the recursion guard (client.invoke)."""

from __future__ import annotations

import os

import pytest

from client.invoke import SAFEGUARD, looks_implicit, resolve_invocation, trim_path


def no_lookup(name: str, path: str) -> str | None:
    return None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["gcc", "-c", "x.c"], ("gcc", "-c", "x.c")),
        (["-c", "x.c"], ("cc", "-c", "x.c")),
        (["x.c", "-c"], ("cc", "x.c", "-c")),
        (["x.o", "-o", "prog"], ("cc", "x.o", "-o", "prog")),
        (["/usr/bin/gcc-12", "-c", "x.c"], ("/usr/bin/gcc-12", "-c", "x.c")),
        (["clang++", "-c", "x.cc"], ("clang++", "-c", "x.cc")),
    ],
)
def test_explicit_and_implicit(args: list[str], expected: tuple[str, ...]) -> None:
    inv = resolve_invocation("/usr/bin/distcc", args, {"PATH": "/usr/bin"}, no_lookup)
    assert inv.argv == expected
    assert not inv.masquerade
    assert inv.env[SAFEGUARD] == "1"


@pytest.mark.parametrize(
    ("word", "implicit"),
    [("-c", True), ("x.c", True), ("x.cpp", True), ("x.o", True), ("gcc", False), ("cc", False)],
)
def test_looks_implicit(word: str, implicit: bool) -> None:
    assert looks_implicit(word) is implicit


def test_masquerade_trims_path_through_the_link_dir(tmp_path: os.PathLike[str]) -> None:
    link_dir = os.path.join(str(tmp_path), "masq")
    os.makedirs(link_dir)
    path = os.pathsep.join(["/opt/a", link_dir, "/usr/local/bin", "/usr/bin"])
    inv = resolve_invocation(
        os.path.join(link_dir, "gcc"), ["-c", "x.c"], {"PATH": path}, no_lookup
    )
    assert inv.masquerade
    assert inv.argv == ("gcc", "-c", "x.c")
    assert inv.env["PATH"] == os.pathsep.join(["/usr/local/bin", "/usr/bin"])


def test_masquerade_by_name_uses_path_lookup(tmp_path: os.PathLike[str]) -> None:
    link_dir = os.path.join(str(tmp_path), "masq")
    os.makedirs(link_dir)
    path = os.pathsep.join([link_dir, "/usr/bin"])

    def lookup(name: str, p: str) -> str | None:
        return os.path.join(link_dir, name)

    inv = resolve_invocation("cc", ["-c", "x.c"], {"PATH": path}, lookup)
    assert inv.env["PATH"] == "/usr/bin"
    assert inv.argv[0] == "cc"


@pytest.mark.parametrize(("raw", "level"), [("", 0), ("1", 1), ("3", 3), ("junk", 1)])
def test_safeguard_levels(raw: str, level: int) -> None:
    env = {"PATH": "/usr/bin", SAFEGUARD: raw} if raw else {"PATH": "/usr/bin"}
    inv = resolve_invocation("distcc", ["gcc", "-c", "x.c"], env, no_lookup)
    assert inv.safeguard_level == level
    assert inv.env[SAFEGUARD] == str(level + 1)


def test_trim_path_without_the_dir_is_unchanged() -> None:
    assert trim_path("/a:/b", "/nonexistent-dir") == "/a:/b"
