"""Validation of client paths and link targets (daemon/names.py): a table of good and bad."""

from __future__ import annotations

import pytest

from daemon.names import BadName, Escapes, components, normal, resolve_relative

GOOD = [
    ("/a/b.h", ["a", "b.h"]),
    ("//a///b.h", ["a", "b.h"]),
    ("/a b/c#$.h", ["a b", "c#$.h"]),
    ("/x/forcing_technique_271828", ["x", "forcing_technique_271828"]),
]
BAD = [
    "",
    "a/b.h",  # relative
    "../x",
    "/../../etc/passwd",
    "/a/../b",
    "/a/./b",
    "/a/..",
    "/a\0b",
    "/" + "x" * 256,  # a component over NAME_MAX
    "/a" * 2100,  # over PATH_MAX
    "/",  # the root itself is no file
]


@pytest.mark.parametrize(("name", "parts"), GOOD)
def test_good_names(name: str, parts: list[str]) -> None:
    assert components(name) == parts


@pytest.mark.parametrize("name", BAD)
def test_bad_names(name: str) -> None:
    with pytest.raises(BadName):
        components(name)


def test_root_allowed_for_cdir() -> None:
    assert normal("/", "CDIR", allow_root=True) == "/"
    assert normal("/home//u/", "CDIR") == "/home/u"


R = "/srv/tmp/distccd_X/root"


@pytest.mark.parametrize(
    ("link", "target", "expected"),
    [
        ("/a/b/l", "c.h", "/a/b/c.h"),
        ("/a/b/l", "../c.h", "/a/c.h"),
        ("/a/b/l", "../../c.h", "/c.h"),
        ("/a/l", "./x/./y", "/a/x/y"),
        # climbing out: where it lands on the server
        ("/a/l", "../../etc", Escapes("/srv/tmp/distccd_X/etc")),
        ("/usr/include", "../" * 22 + "usr/include", Escapes("/usr/include")),
        ("/l", "../../../../../../../../../../etc", Escapes("/etc")),
    ],
)
def test_relative_targets(link: str, target: str, expected: str | Escapes) -> None:
    assert resolve_relative(R, link, target) == expected


@pytest.mark.parametrize("target", ["", "/abs", "a\0b", "x" * 5000, "a/" + "y" * 256])
def test_bad_relative_targets(target: str) -> None:
    with pytest.raises(BadName):
        resolve_relative(R, "/a/l", target)
