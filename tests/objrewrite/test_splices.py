"""Edits and their offset maps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from objrewrite.errors import UnsupportedError
from objrewrite.splices import OffsetMap, apply_edits


def test_map_shifts_after_each_edit() -> None:
    edits = [(2, 3, b"xxxxx"), (10, 4, b"")]
    m = OffsetMap(edits)
    assert apply_edits(bytes(range(16)), edits) == bytes([0, 1]) + b"xxxxx" + bytes(
        range(5, 10)
    ) + bytes(range(14, 16))
    assert [m.map(v) for v in (0, 1, 2, 5, 9, 10, 14, 15)] == [0, 1, 2, 7, 11, 12, 12, 13]
    with pytest.raises(UnsupportedError):
        m.map(3)


def test_interior_callback_and_identity() -> None:
    m = OffsetMap([(4, 4, b"ab")], interior=lambda v: 100 + v)
    assert m.map_many([0, 4, 5, 8, 9]) == [0, 4, 105, 6, 7]
    same = OffsetMap([(4, 2, b"ab")])
    assert same.identity and same.map_many([1, 5]) == [1, 5]


@given(
    st.lists(st.tuples(st.integers(1, 5), st.integers(0, 7)), max_size=6),
    st.lists(st.integers(0, 80), max_size=30),
)
def test_map_many_agrees_with_map(shape: list[tuple[int, int]], values: list[int]) -> None:
    edits, pos = [], 0
    for gap_len, new_len in shape:
        pos += gap_len
        edits.append((pos, gap_len, b"n" * new_len))
        pos += gap_len
    m = OffsetMap(edits, interior=lambda v: -v)
    assert m.map_many(list(values)) == [m.map(v) for v in values]
