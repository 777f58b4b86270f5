"""Hypothesis: whatever bytes a client sends, ``job.serve`` ends with an outcome and a log
line, never an exception, and replies only to a well-formed request.

The job runs in-process over an in-memory connection (the transport is passed in).
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.protocol import header, request_head, string_packet
from daemon.allowlist import CompilerPolicy
from daemon.job import JobContext, serve
from daemon.stats import Result, Stats


class MemoryConnection:
    def __init__(self, data: bytes, watch_fd: int) -> None:
        self.rfile = io.BytesIO(data)
        self.sent = b""
        self.peer = "127.0.0.1:1"
        self.watch_fd = watch_fd

    def send(self, data: bytes) -> None:
        self.sent += data

    def gone(self, events: int) -> bool:
        return False

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobContext]:
    tmp = tmp_path_factory.mktemp("jobs")
    yield JobContext(
        policy=CompilerPolicy(allowed=frozenset({"true", "gcc"}), masquerade_dirs=()),
        stats=Stats(2),
        slots=threading.BoundedSemaphore(2),
        tmp_dir=str(tmp),
        env=dict(os.environ),
        clock=time.monotonic,
    )
    assert list(Path(tmp).iterdir()) == []  # every job directory was removed


@pytest.fixture(scope="module")
def idle_fd() -> Iterator[int]:
    r, w = os.pipe()  # never written, never closed while jobs run: "client still there"
    yield r
    os.close(r)
    os.close(w)


TOKENS = [b"DIST", b"ARGC", b"ARGV", b"DOTI", b"CDIR", b"NFIL", b"XXXX"]
packet = st.one_of(
    st.builds(header, st.sampled_from(TOKENS), st.integers(0, 0xFFFFFFFF)),
    st.builds(string_packet, st.just(b"ARGV"), st.binary(max_size=40)),
    st.binary(max_size=24),
)


def _serve(ctx: JobContext, fd: int, data: bytes) -> tuple[str, bytes]:
    conn = MemoryConnection(data, fd)
    outcome = serve(conn, ctx)  # type: ignore[arg-type]
    return outcome.result, conn.sent


@settings(max_examples=300, deadline=None)
@given(st.lists(packet, max_size=8).map(b"".join))
def test_random_packets_never_crash(ctx: JobContext, idle_fd: int, data: bytes) -> None:
    result, sent = _serve(ctx, idle_fd, data)
    assert result in Result.ALL
    if result not in (Result.COMPILE_OK, Result.COMPILE_ERROR, Result.COMPILE_TIMEOUT):
        assert sent == b""


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_tail_after_a_good_head(ctx: JobContext, idle_fd: int, tail: bytes) -> None:
    data = request_head(2, ["true", "-c", "x.c", "-o", "x.o"]) + tail
    result, sent = _serve(ctx, idle_fd, data)
    if sent:
        assert result in (Result.COMPILE_OK, Result.COMPILE_ERROR)
        assert sent.startswith(b"DONE00000002STAT")
    else:
        assert result in (Result.REJ_BAD_REQ, Result.OTHER)


def test_good_request_in_memory(ctx: JobContext, idle_fd: int) -> None:
    data = request_head(1, ["true", "-c", "x.c", "-o", "x.o"]) + header(b"DOTI", 2) + b"x;"
    result, sent = _serve(ctx, idle_fd, data)
    assert result == Result.COMPILE_OK
    assert sent == b"DONE00000001STAT00000000SERR00000000SOUT00000000DOTO00000000"
