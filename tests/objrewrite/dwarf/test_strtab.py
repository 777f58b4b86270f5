"""String tables: splice at any length (with tail copies), or pad in place."""

from __future__ import annotations

import pytest

from objrewrite.dwarf.strtab import StrTab
from objrewrite.errors import UnsupportedError
from objrewrite.prefixmap import PrefixMap

TABLE = b"int\x00/old/src\x00char\x00/old/inc/h.h\x00"


def test_splice_longer_and_remap() -> None:
    st = StrTab(TABLE, PrefixMap([("/old", "/much/longer")]), in_place=False)
    assert st.data() == b"int\x00/much/longer/src\x00char\x00/much/longer/inc/h.h\x00"
    assert st.map.map_many([0, 4, 13, 18]) == [0, 4, 21, 26]


def test_reference_inside_a_replaced_prefix_gets_a_copy() -> None:
    st = StrTab(TABLE, PrefixMap([("/old", "/n")]), in_place=False)
    inside = st.map.map(5)  # "old/src", a tail-merged suffix of "/old/src"
    data = st.data()
    assert data[inside : data.index(b"\x00", inside)] == b"old/src"


def test_in_place_pads_with_nuls() -> None:
    st = StrTab(TABLE, PrefixMap([("/old", "/n")]), in_place=True)
    assert st.data() == b"int\x00/n/src\x00\x00\x00char\x00/n/inc/h.h\x00\x00\x00"
    assert st.map.identity
    with pytest.raises(UnsupportedError, match="grow"):
        StrTab(TABLE, PrefixMap([("/old", "/longer")]), in_place=True)


def test_no_match_is_the_same_object() -> None:
    st = StrTab(TABLE, PrefixMap([("/other", "/x")]), in_place=False)
    assert not st.changed and st.data() is TABLE


def test_inline_padding_goes_at_the_junction() -> None:
    from objrewrite.dwarf.line import pad_inline

    assert pad_inline(b"/tmp/root/home/u", b"/n/home/u", 2) == b"/n" + b"/" * 8 + b"home/u"
    # Root stripped: pad after the first component, never a leading "//".
    assert pad_inline(b"/tmp/root/home/u", b"/home/u", 0) == b"/home" + b"/" * 10 + b"u"
    with pytest.raises(UnsupportedError):
        pad_inline(b"/a/x", b"/longer/x", 7)


def test_in_place_with_two_matches_in_one_string() -> None:
    table = b"x\x00cc -I/old/a -I/old/b\x00"
    st = StrTab(table, PrefixMap([("/old", "/n")]), in_place=True)
    assert st.data() == b"x\x00cc -I/n/a -I/n/b\x00\x00\x00\x00\x00"
