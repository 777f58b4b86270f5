"""Hostile protocol 3 entry lists (hypothesis): whatever a client sends, nothing appears
outside the job's root, and every link in the root resolves inside it (or to an allowed
system directory)."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.protocol import Limits, ProtocolError, Reader, header
from daemon.mirror import MirrorRoot, is_within
from daemon.names import BadName
from daemon.pumpjob import read_v3_entries
from tests.daemon.pumphelpers import v3_request

PARTS = ["a", "b", "..", ".", "", "x.h", "/"]
name = st.lists(st.sampled_from(PARTS), min_size=1, max_size=5).map(lambda p: "/".join(p))
target = st.one_of(
    name,
    st.lists(st.sampled_from(["..", "a", "b", "etc", "sys", "x.h"]), min_size=1, max_size=40).map(
        lambda p: "/".join(p)
    ),
)
entry = st.one_of(
    st.tuples(st.just("file"), name, st.binary(max_size=8)),
    st.tuples(st.just("link"), name, target),
)


def snapshot(top: Path) -> set[str]:
    return {str(p) for p in top.rglob("*")}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entry, max_size=6))
def test_entries_never_escape(entries: list[tuple[str, str, bytes | str]]) -> None:
    top = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        allowed_dir = top / "sys"
        allowed_dir.mkdir()
        root = top / "job" / "root"
        root.mkdir(parents=True)
        before = snapshot(top)
        mirror = MirrorRoot(str(root), lambda p: os.path.realpath(p) == str(allowed_dir))
        raw = v3_request("/", ["gcc", "-c", "a.c"], entries)
        stream = io.BytesIO(raw[raw.index(header(b"NFIL", len(entries))) :])
        try:
            read_v3_entries(Reader(stream, Limits()), mirror)
            ok = True
        except (BadName, ProtocolError):
            ok = False
        new = snapshot(top) - before
        assert all(is_within(p, str(root)) for p in new), new
        if ok:
            for link in mirror.links:
                real = os.path.realpath(str(root) + link)
                assert is_within(real, str(root)) or is_within(real, str(allowed_dir))
    finally:
        shutil.rmtree(top)
