"""Corrupted objects: every failure is an ``ObjRewriteError`` (exit 3 or 4), never a crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import objrewrite
from objrewrite.errors import ObjRewriteError
from tests.objrewrite.conftest import Fx

CASES = [
    "gcc-dwarf4-g-rel",
    "clang-dwarf5-g-abs",
    "clang-dwarf4-g-rel-gz",
    "clang-i386",
    "clang-asm",
    "macho-x86_64-dwarf4",
]


@pytest.mark.parametrize("case", CASES)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_objects_fail_cleanly(fx: Fx, case: str, data: st.DataObject) -> None:
    blob = bytearray(fx.path(case, "short").read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        del blob[data.draw(st.integers(0, len(blob) - 1)) :]
    raw = bytes(blob)
    for op in (
        lambda: objrewrite.rewrite_bytes(raw, [(fx.short, fx.long)]),
        lambda: objrewrite.list_paths(raw),
        lambda: objrewrite.find_prefix(raw, fx.short),
    ):
        try:
            op()
        except ObjRewriteError:
            pass
