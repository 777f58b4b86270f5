"""The client <-> include-server socket protocol (reference §4.3), plus our extension.

Stock (distcc 3.4 clients): the client sends ``CDIR <cwd>``, ``ARGC n`` and n ``ARGV``
packets; the server answers ``ARGC m`` and m ``ARGV`` paths under its client root (``m = 0``:
"cannot help, preprocess locally"), then the client closes.  Framing is distcc's: a 4-byte
token and 8 hex digits, strings follow (``common.protocol``).

Extension (our client, and ``include-server status``): the request starts with ``XINC`` whose
value is the extension version (1), then the same ``CDIR``/``ARGC``/``ARGV`` (or nothing for
a status query, see ``Request.status``); the reply is one ``XJSN`` string packet holding a
JSON document: the closure with digests, sizes, symlinks and directories that must exist
(see ``analysis_cli.closure_json``), or ``{"covered": false, "reason": ...}``.  A stock
server would read ``XINC`` as a derailment and close, which our client treats as "no
include server".

Invariants: decoding is pure over a stream passed in, bounded by ``common.protocol.Limits``;
anything malformed raises ``ProtocolError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import BinaryIO

from common.protocol import (
    ARGC,
    ARGV,
    CDIR,
    XINC,
    XINC_COMPACT,
    XINC_JSON,
    Limits,
    ProtocolError,
    Reader,
    argv_packets,
    header,
    string_packet,
)
from include_server.closure import Closure

XJSN = b"XJSN"
XSTA = b"XSTA"  # status query (extension)
EXTENSION_VERSION = XINC_JSON
# Version 2 answers with one ARGV per entry, tab-separated, for our client (no JSON to
# import on its per-job path): "F digest size path", "S digest size path" (a system
# header), "L path target" (a symlink), "D path" (a directory that must exist); ARGC 0 =
# not covered.  See client/native.py.
COMPACT_VERSION = XINC_COMPACT

REQUEST_LIMITS = Limits(max_string=1 << 16, max_argc=1 << 14, max_bulk=0)


@dataclass(frozen=True, slots=True)
class Request:
    cwd: str
    argv: tuple[str, ...]
    extended: bool  # XINC: answer with XJSN (version 1) or the compact list (version 2)
    status: bool = False  # XSTA: answer with the server's status as XJSN
    compact: bool = False  # XINC 2: ``ARGC``/``ARGV`` of tab-separated entries


def read_request(stream: BinaryIO, limits: Limits = REQUEST_LIMITS) -> Request:
    reader = Reader(stream, limits)
    token, value = reader.read_header()
    extended = compact = False
    if token == XSTA:
        return Request("", (), True, status=True)
    if token == XINC:
        if value not in (EXTENSION_VERSION, COMPACT_VERSION):
            raise ProtocolError(f"unsupported include-server extension version {value}")
        extended = True
        compact = value == COMPACT_VERSION
        token, value = reader.read_header()
    if token != CDIR:
        raise ProtocolError(f"protocol derailment: expected b'CDIR', got {token!r}")
    cwd = reader.read_string_body(CDIR, value)
    argv = tuple(reader.read_argv())
    return Request(cwd, argv, extended, compact=compact)


def encode_request(cwd: str, argv: list[str], extended: bool = False) -> bytes:
    head = header(XINC, EXTENSION_VERSION) if extended else b""
    return head + string_packet(CDIR, cwd) + argv_packets(argv)


def encode_status_request() -> bytes:
    return header(XSTA, 0)


def compact_entries(closure: Closure) -> list[str]:
    out = [f"{'S' if f.system else 'F'}\t{f.digest}\t{f.size}\t{f.path}" for f in closure.files]
    out += [f"L\t{path}\t{target}" for path, target in closure.symlinks]
    out += [f"D\t{path}" for path in closure.must_exist]
    return out


def encode_paths(paths: list[str]) -> bytes:
    """The stock reply: ``ARGC m`` then the paths (``m = 0``: preprocess locally)."""
    return argv_packets(paths)


def encode_json(document: object) -> bytes:
    return string_packet(XJSN, json.dumps(document, separators=(",", ":")).encode())


def read_paths(stream: BinaryIO) -> list[str]:
    return Reader(stream).read_argv()


def read_json(stream: BinaryIO) -> object:
    reader = Reader(stream, Limits(max_string=1 << 30))
    return json.loads(reader.read_string(XJSN))


__all__ = [
    "ARGC",
    "ARGV",
    "Request",
    "encode_json",
    "encode_paths",
    "encode_request",
    "encode_status_request",
    "read_json",
    "read_paths",
    "read_request",
]
