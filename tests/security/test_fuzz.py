"""Property-based fuzzing (hypothesis) of every protocol reader and of the argv classifier.

Bounded for CI: ``FUZZ_EXAMPLES`` cases per property (default 150).  The longer run in
docs/reliability.md sets ``SECURITY_FUZZ_EXAMPLES=20000``:

    SECURITY_FUZZ_EXAMPLES=20000 python3 -m pytest -q tests/security/test_fuzz.py

Properties:
- a reader given any bytes returns a value or raises ``ProtocolError`` (``TruncatedError``
  is one), never anything else, and never reads past a limit;
- raw LZO1X decompression of any bytes returns at most ``max_size`` bytes or raises
  ``CompressionError``;
- ``classify`` never raises on any argv; the daemon's ``prepare`` either refuses or
  returns a command whose argv names the daemon's own input and output, runs no option
  that ``server_refusal`` forbids, and keeps no word of the client's ``-o``;
- the native request's parts (``PRTS`` + ``BLOB``s, true or mangled) give entries within
  the limits or a ``ProtocolError``/``BadName``; a ``BLOB`` never inflates past its size;
- a client path that ``names.normal`` accepts has no ``.``/``..``/empty component, no NUL
  and is within the size limits; a relative link target is either inside the root or
  reported as ``Escapes``.
"""

from __future__ import annotations

import io
import os
import zlib
from hashlib import blake2b

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.compiler.classify import classify
from common.compress import CompressionError, lzo_compress, lzo_decompress
from common.protocol import (
    ARGV,
    DOTI,
    NFIL,
    PRTS,
    Limits,
    ProtocolError,
    Reader,
    header,
    parse_header,
    parts_packet,
    read_reply,
    string_packet,
)
from daemon import native
from daemon.command import Refused, prepare, server_refusal
from daemon.names import MAX_COMPONENT, MAX_PATH, BadName, Escapes, normal, resolve_relative
from daemon.store import Store

FUZZ_EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SMALL = Limits(max_string=64, max_argc=16, max_files=16, max_bulk=4096, max_version=3)

TOKENS = [b"DIST", b"ARGC", b"ARGV", b"DOTI", b"CDIR", b"NFIL", b"NAME", b"FILE", b"LINK",
          b"DONE", b"STAT", b"SERR", b"SOUT", b"DOTO", b"DOTD", b"FDIG", b"SDIG", b"MDIR",
          b"DDWO", b"ERRR", b"PRTS", b"BLOB", b"XXXX"]  # fmt: skip
packet = st.one_of(
    st.builds(header, st.sampled_from(TOKENS), st.integers(0, 0xFFFFFFFF)),
    st.builds(header, st.sampled_from(TOKENS), st.integers(0, 80)),
    st.builds(string_packet, st.sampled_from(TOKENS), st.binary(max_size=40)),
    st.binary(max_size=24),
)
streams = st.lists(packet, max_size=10).map(b"".join)


@FUZZ
@given(st.binary(min_size=12, max_size=12))
def test_parse_header(raw: bytes) -> None:
    try:
        token, value = parse_header(raw)
    except ProtocolError:
        return
    assert token == raw[:4] and 0 <= value <= 0xFFFFFFFF


@FUZZ
@given(streams, st.booleans())
def test_reader_any_bytes(data: bytes, compressed: bool) -> None:
    reader = Reader(io.BytesIO(data), SMALL)
    try:
        reader.read_version()
        argv = reader.read_argv()
        assert len(argv) <= SMALL.max_argc
        assert all(len(os.fsencode(a)) <= SMALL.max_string for a in argv)
        body = reader.read_bulk(DOTI, compressed)
        assert len(body) <= SMALL.max_bulk
    except ProtocolError:
        pass
    assert reader.bytes_read <= len(data)


@FUZZ
@given(streams, st.integers(1, 3))
def test_read_reply_any_bytes(data: bytes, version: int) -> None:
    try:
        reply = read_reply(Reader(io.BytesIO(data), SMALL), version)
    except ProtocolError:
        return
    assert len(reply.obj) <= SMALL.max_bulk


@FUZZ
@given(streams)
def test_native_entries_any_bytes(data: bytes) -> None:
    try:
        reader = Reader(io.BytesIO(data), SMALL)
        entries = native.read_entries(reader, reader.expect(NFIL))
    except (ProtocolError, BadName):
        return
    for entry in entries:
        assert entry.path.startswith("/") and ".." not in entry.path.split("/")
        assert entry.size <= SMALL.max_bulk


@st.composite
def parts_requests(draw: st.DrawFn) -> bytes:
    """``PRTS`` (true digests of arbitrary part bytes, or any bytes), then ``BLOB``s: the
    parts zlib-compressed, mangled, or anything."""
    parts = draw(st.lists(streams, max_size=4))
    if draw(st.booleans()):
        head = parts_packet([(blake2b(p, digest_size=32).digest(), len(p)) for p in parts])
    else:
        head = header(PRTS, draw(st.integers(0, 0xFFFFFFFF))) + draw(st.binary(max_size=80))
    blobs = []
    for p in parts:
        body = draw(
            st.sampled_from([zlib.compress(p), zlib.compress(p + b"x"), zlib.compress(p)[:-1]])
            | st.binary(max_size=30)
        )
        blobs.append(header(b"BLOB", len(body)) + body)
    return head + b"".join(blobs) + draw(st.binary(max_size=12))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(str(tmp_path_factory.mktemp("store")), max_bytes=1 << 20)


@FUZZ
@given(data=parts_requests())
def test_native_parts_any_bytes(store: Store, data: bytes) -> None:
    sent: list[bytes] = []
    reader = Reader(io.BytesIO(data), SMALL)
    try:
        entries = native.read_request_entries(reader, store, sent.append)
    except (ProtocolError, BadName):
        return
    assert len(entries) <= SMALL.max_files
    for entry in entries:
        assert entry.path.startswith("/") and ".." not in entry.path.split("/")
        assert entry.size <= SMALL.max_bulk


@FUZZ
@given(
    st.one_of(st.binary(max_size=300), st.binary(max_size=3000).map(zlib.compress)),
    st.integers(0, 2000),
)
def test_blob_inflate_any_bytes(body: bytes, size: int) -> None:
    try:
        data = native.inflate(body, size, "d")
    except ProtocolError:
        return
    assert len(data) <= size


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.binary(max_size=2000).map(lzo_compress)))
def test_lzo_any_bytes(data: bytes) -> None:
    try:
        out = lzo_decompress(data, 4096)
    except CompressionError:
        return
    assert len(out) <= 4096


WORDS = ["-c", "-S", "-E", "-o", "x.o", "/tmp/x.o", "../x.o", "a.c", "b.c", "a.i", "-MD",
         "-MF", "/x/d", "-MT", "t", "-B", "-B/x", "-Bx/", "-wrapper", "sh", "-fplugin=x.so",
         "-specs=s", "@/etc/passwd", "@x", "-Wa,@f", "-Wa,-a=/x", "-Wp,-MD,/x/d", "-Xclang",
         "-o", "-dependency-file", "-mllvm", "-info-output-file=/x", "-time=/x", "-time",
         "-fopt-info-all=/x", "-fdump-tree-all", "-save-temps", "-fprofile-generate",
         "-dumpdir", "/x/", "-gsplit-dwarf", "-x", "c", "-include", "h.h", "-I", "/usr",
         "-O2", "-g", "-ffile-prefix-map=/a=/b", "--sysroot=/", "-Xassembler", "-Xlinker",
         "-fcrash-diagnostics-dir=/x", "-", "--", ""]  # fmt: skip
argvs = st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=12).map(
    lambda ws: ["gcc", *ws]
)


@FUZZ
@given(argvs)
def test_classify_never_raises(argv: list[str]) -> None:
    classify(argv, {}, lambda path: b"-c a.c")


@FUZZ
@given(argvs)
def test_prepare_keeps_everything_in_the_job(argv: list[str]) -> None:
    command = prepare(argv)
    if isinstance(command, Refused):
        assert command.reason
        return
    out = command.argv("/usr/bin/gcc", "/job/input.i", "/job/output.o")
    assert out[0] == "/usr/bin/gcc"
    assert "/job/input.i" in out
    assert "/job/output.o" in out or "-o/job/output.o" in out
    assert server_refusal(out) is None
    for i, word in enumerate(out):
        if word == "-o":
            assert out[i + 1] == "/job/output.o"
        assert not word.startswith(("-B", "@", "-fplugin=", "-specs=", "-wrapper"))


path_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(["a", "..", ".", "", "b\0", "c" * 300, "/", "//"]), max_size=8).map(
        "/".join
    ),
)


@FUZZ
@given(path_text)
def test_names_normal(path: str) -> None:
    try:
        out = normal(path)
    except BadName:
        return
    parts = out.split("/")[1:]
    assert out.startswith("/") and "\0" not in out
    assert all(p not in ("", ".", "..") for p in parts)
    assert all(len(p.encode("utf-8", "surrogateescape")) <= MAX_COMPONENT for p in parts)
    assert len(out.encode("utf-8", "surrogateescape")) <= MAX_PATH


@FUZZ
@given(path_text, path_text)
def test_relative_link_targets(name: str, target: str) -> None:
    root = "/srv/tmp/distccd_x/root"
    try:
        landed = resolve_relative(root, name, target)
    except BadName:
        return
    if isinstance(landed, Escapes):
        assert not landed.server_path.startswith(root + "/")
    else:
        assert landed.startswith("/") and ".." not in landed.split("/")


def test_argv_strategy_reaches_both_outcomes() -> None:
    """The argv strategy is not vacuous: it produces accepted and refused commands."""
    assert not isinstance(prepare(["gcc", "-c", "a.c", "-o", "/tmp/x.o"]), Refused)
    assert isinstance(prepare(["gcc", "-c", "a.c", "-B/x"]), Refused)
    assert string_packet(ARGV, "x") == b"ARGV00000001x"
