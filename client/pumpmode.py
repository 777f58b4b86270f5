"""Pump mode on the client: ask the include server, send protocol 3 (reference §3.4, §4.3).

The include server (``$INCLUDE_SERVER_PORT``, an AF_UNIX socket) answers a ``CDIR`` +
``ARGC``/``ARGV`` request with the paths of the job's closure under its *client root*
(exactly 3 path components, e.g. ``/dev/shm/tmpX.include_server-1-1``):

- ``<root><path>.lzo`` (or ``.lzo.abs``): the file, already LZO1X-compressed: its bytes
  go on the wire untouched as ``FILE``;
- ``<root><path>`` that is a symlink: sent as ``LINK`` with its target;
- ``<root><dir>/forcing_technique_271828``: a directory that must exist: ``FILE`` of
  length 0.

``ARGC 0`` (or no server) means "cannot help": the job falls back to plain mode with a
named reason.  The protocol 3 request carries the full, unstripped argv; when a ``.d`` file
is wanted and no ``-MT``/``-MQ`` was given, ``-MT <output>`` is appended so the server's
``.d`` file names the client's target, as distcc does.
"""

from __future__ import annotations

import _socket
import os

from common.protocol import (
    CDIR,
    DIST,
    FILE,
    LINK,
    NAME,
    NFIL,
    Limits,
    Reader,
    argv_packets,
    header,
    string_packet,
)
from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from common.compiler.job import CompileJob

ROOT_DEPTH = 3
FORCING_FILE = "forcing_technique_271828"
INCLUDE_SERVER_TIMEOUT = 60.0
_READ_CHUNK = 1 << 16


class NotCovered(Exception):
    """The include server cannot help with this job (reason in the message)."""


class _UnixStream:
    """Buffered reads: a reply of a few hundred packets costs a few ``recv`` calls, not
    two (header, body) per packet, each behind a ``poll`` for the timeout."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self._buf = b""
        self._pos = 0

    def read(self, n: int) -> bytes:
        if self._pos >= len(self._buf):
            self._buf = self.sock.recv(max(n, _READ_CHUNK))
            self._pos = 0
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        return out


def ask_include_server(socket_path: str, cwd: str, argv: tuple[str, ...]) -> list[str]:
    """The closure paths for ``argv`` run in ``cwd``; NotCovered if there is no answer."""
    return query_include_server(socket_path, string_packet(CDIR, cwd) + argv_packets(argv))


def query_include_server(
    socket_path: str, request: bytes, limits: Limits | None = None
) -> list[str]:
    """Send ``request`` to the include server and read its ``ARGC``/``ARGV`` answer.

    ``NotCovered`` when the server is unreachable, fails, or answers ``ARGC 0``."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(INCLUDE_SERVER_TIMEOUT)
    try:
        try:
            sock.connect(socket_path)
            sock.sendall(request)
            words = Reader(_UnixStream(sock), limits).read_argv()  # type: ignore[arg-type]
        except OSError as exc:
            raise NotCovered(f"include server unreachable: {exc}") from None
        except Exception as exc:  # ProtocolError, TruncatedError
            raise NotCovered(f"include server failed: {exc}") from None
    finally:
        sock.close()
    if not words:
        raise NotCovered("include server could not cover this job")
    return words


def wire_name(path: str) -> str:
    """The client path a root path stands for: root components and suffixes removed."""
    parts = path.split("/")
    # "/a/b/c/rest" -> ["", "a", "b", "c", "rest"...]: drop the empty head and 3 components.
    name = "/" + "/".join(parts[ROOT_DEPTH + 1 :])
    if name.endswith(".abs"):
        name = name[:-4]
    if name.endswith(".lzo"):
        name = name[:-4]
    return name


def file_entries(paths: list[str]) -> bytes:
    """``NFIL`` and the ``NAME`` + ``FILE``/``LINK`` entries for the include server's paths."""
    out = [header(NFIL, len(paths))]
    for path in paths:
        if os.path.basename(path) == FORCING_FILE:
            out.append(string_packet(NAME, wire_name(path)))
            out.append(header(FILE, 0))
            continue
        if os.path.islink(path):
            out.append(string_packet(NAME, wire_name(path)))
            out.append(string_packet(LINK, os.readlink(path)))
            continue
        with open(path, "rb") as f:
            data = f.read()
        out.append(string_packet(NAME, wire_name(path)))
        out.append(header(FILE, len(data)) + data)
    return b"".join(out)


def server_argv(job: CompileJob) -> list[str]:
    """The full argv for a protocol 3 server, with ``-MT`` added when the .d needs it."""
    argv = list(job.argv)
    if job.dep is not None and not job.dep.user_targets:
        argv += ["-MT", job.output]
    return argv


def request(job: CompileJob, cwd: str, paths: list[str]) -> bytes:
    return (
        header(DIST, 3)
        + string_packet(CDIR, cwd)
        + argv_packets(server_argv(job))
        + file_entries(paths)
    )
