"""Validation of client paths and link targets (daemon/names.py): a table of good and bad."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "c d", "/", "\0"]), max_size=8))
def test_accepted_names_stay_under_the_root(parts: list[str]) -> None:
    name = "/" + "/".join(parts)
    try:
        clean = normal(name)
    except BadName:
        return
    assert posixpath.normpath(R + clean).startswith(R + "/")
    assert ".." not in clean.split("/")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "..", ".", "", "x"]), min_size=1, max_size=10))
def test_relative_targets_inside_are_really_inside(parts: list[str]) -> None:
    target = "/".join(parts)
    try:
        where = resolve_relative(R, "/a/b/l", target)
    except BadName:
        return
    landed = posixpath.normpath(posixpath.join(R, "a/b", target))
    if isinstance(where, Escapes):
        assert not landed.startswith(R + "/") and landed != R
        assert where.server_path == landed
    else:
        assert posixpath.normpath(R + where) == landed
