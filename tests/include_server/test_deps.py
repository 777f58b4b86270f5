"""Shared dependency sets."""

from __future__ import annotations

from include_server.deps import Deps


def test_membership_and_nesting() -> None:
    shared = frozenset({"/a", "/b"})
    inner = Deps([shared, ("/c",)])
    outer = Deps([inner, frozenset({"/d"}), (), Deps([])])
    assert "/a" in outer and "/c" in outer and "/d" in outer and "/e" not in outer
    assert sorted(outer) == ["/a", "/b", "/c", "/d"]
    assert outer and not Deps([])
    seen: dict[int, object] = {}
    assert len(list(outer.leaves(seen))) == 3  # type: ignore[arg-type]
    assert list(Deps([inner]).leaves(seen)) == []  # type: ignore[arg-type]
