"""Socket protocol: stock request/reply framing and the XINC/XJSN extension."""

from __future__ import annotations

import io

import pytest

from common.protocol import ProtocolError
from include_server.protocol import (
    encode_json,
    encode_paths,
    encode_request,
    encode_status_request,
    read_json,
    read_paths,
    read_request,
)


def test_stock_request_bytes() -> None:
    raw = encode_request("/src", ["gcc", "-c", "a.c"])
    assert raw == (b"CDIR00000004/srcARGC00000003ARGV00000003gccARGV00000002-cARGV00000003a.c")
    req = read_request(io.BytesIO(raw))
    assert (req.cwd, req.argv, req.extended) == ("/src", ("gcc", "-c", "a.c"), False)


def test_extended_and_status_requests() -> None:
    req = read_request(io.BytesIO(encode_request("/x", ["cc", "b.c"], extended=True)))
    assert req.extended and req.argv == ("cc", "b.c")
    assert read_request(io.BytesIO(encode_status_request())).status


def test_replies_round_trip() -> None:
    assert encode_paths([]) == b"ARGC00000000"
    assert read_paths(io.BytesIO(encode_paths(["/r/a.lzo", "/r/b"]))) == ["/r/a.lzo", "/r/b"]
    assert read_json(io.BytesIO(encode_json({"covered": True}))) == {"covered": True}


@pytest.mark.parametrize(
    "raw",
    [b"", b"CDIR0000", b"ARGC00000001", b"CDIR00000002/xARGC0000zzzz", b"XINC00000007"],
)
def test_malformed_requests(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        read_request(io.BytesIO(raw))


def test_oversized_argc_is_refused_before_reading() -> None:
    raw = b"CDIR00000001/ARGCffffffff"
    with pytest.raises(ProtocolError, match="exceeds"):
        read_request(io.BytesIO(raw))
