"""Prefix matching: path boundaries, first match wins, no chaining, words in strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from objrewrite.prefixmap import PrefixMap, find_matches, rewrite_string


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        (b"/tmp/root/home/u", b"/home/u"),
        (b"/tmp/root", b""),
        (b"/tmp/root2/home/u", b"/tmp/root2/home/u"),
        (b"/x/tmp/root/home", b"/x/tmp/root/home"),
        (b"clang -I/tmp/root/inc -c a.c", b"clang -I/inc -c a.c"),
        (b"-ffile-prefix-map=/tmp/root=", b"-ffile-prefix-map=="),
        (b"a.c", b"a.c"),
    ],
)
def test_root_strip(s: bytes, expected: bytes) -> None:
    assert rewrite_string(s, PrefixMap([("/tmp/root", "")])) == expected


def test_first_match_wins_and_maps_do_not_chain() -> None:
    pm = PrefixMap([("/a/b", "/c"), ("/a", "/z"), ("/c", "/never")])
    assert rewrite_string(b"/a/b/f", pm) == b"/c/f"
    assert rewrite_string(b"/a/x/f", pm) == b"/z/x/f"


def test_trailing_slash_in_old_is_normalised() -> None:
    assert PrefixMap([("/tmp/root/", "/new/")]).pairs == ((b"/tmp/root", b"/new"),)


def test_parse_splits_at_the_last_equals() -> None:
    assert PrefixMap.parse(["/a=b=/c"]).pairs == ((b"/a=b", b"/c"),)
    with pytest.raises(ValueError):
        PrefixMap.parse(["/a"])
    with pytest.raises(ValueError):
        PrefixMap([("", "/x")])


def test_matches_only_at_string_starts_when_asked() -> None:
    table = b"/r/x\x00foo /r/y\x00"
    pm = PrefixMap([("/r", "/s")])
    assert [m[0] for m in find_matches(table, pm)] == [0, 9]
    assert [m[0] for m in find_matches(table, pm, starts_only=True)] == [0]


@given(st.lists(st.sampled_from(["a", "b", "/", "r", "oo", "t"]), max_size=12))
def test_a_string_without_old_is_unchanged(parts: list[str]) -> None:
    s = "".join(parts).replace("/root", "").encode()
    assert rewrite_string(s, PrefixMap([("/root", "/new")])) == s or b"/root" in s
