"""The network half of a plain-mode job: send the request, read the reply.

Imported by ``client.compile`` only once cpp is running, so that its imports (sockets,
LZO, the protocol codec) cost nothing on the critical path.

- ``open_request(job, host, cfg)``: connect and send everything before ``DOTI``;
- ``exchange(conn, host, preprocessed, outcome)``: send ``DOTI``, read the reply, close.
Both raise ``RemoteFailure`` for anything that is the host's fault (transport, protocol).
"""

from __future__ import annotations

from client.compile import RemoteFailure
from client.hosts import Mode
from client.transport import Connection, PipeConnection, TcpConnection, TransportError
from common.compiler.rewrite import plain_server_argv
from common.compress import preload as preload_lzo
from common.protocol import (
    DOTI,
    ProtocolError,
    Reader,
    Reply,
    bulk_packet,
    compresses,
    read_reply,
    request_head,
)
from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from client.compile import Outcome
    from client.config import Config
    from client.hosts import Host
    from common.compiler.job import CompileJob

__all__ = ["Connection", "RemoteFailure", "connect", "exchange", "open_request", "send_whole"]


def ssh_argv(host: Host, cfg: Config) -> list[str]:
    """``ssh [-l USER] HOST COMMAND --inetd --enable-tcp-insecure`` (DISTCC_SSH may hold up
    to 12 extra words, as distcc allows)."""
    words = cfg.ssh.split()[:13] or ["ssh"]
    if host.user:
        words += ["-l", host.user]
    return [
        *words,
        host.hostname,
        host.ssh_command or "distccd",
        "--inetd",
        "--enable-tcp-insecure",
    ]


def connect(host: Host, cfg: Config, env: dict[str, str] | None = None) -> Connection:
    try:
        if host.mode == Mode.SSH:
            return PipeConnection(ssh_argv(host, cfg), env if env is not None else {})
        return TcpConnection(host.hostname, host.port, cfg.io_timeout, cfg.tcp_cork)
    except TransportError as exc:
        raise RemoteFailure(str(exc)) from None


def open_request(
    job: CompileJob, host: Host, cfg: Config, version: int, env: dict[str, str]
) -> Connection:
    """Connect to ``host`` and send a protocol 1/2 request head (everything before DOTI)."""
    if compresses(version):
        preload_lzo()  # ~0.5 ms: here it overlaps cpp instead of following it
    conn = connect(host, cfg, env)
    try:
        conn.cork(True)
        conn.send(request_head(version, plain_server_argv(job)))
    except TransportError as exc:
        conn.close()
        raise RemoteFailure(str(exc)) from None
    return conn


def exchange(
    conn: Connection,
    version: int,
    preprocessed: bytes,
    outcome: Outcome,
    while_waiting: Callable[[], None] | None = None,
) -> Reply:
    """Send the preprocessed source and read the reply (``while_waiting()`` runs in
    between, while the server compiles); always closes ``conn``."""
    payload = bulk_packet(DOTI, preprocessed, compresses(version))
    return _finish(conn, payload, version, outcome, while_waiting)


def send_whole(
    host: Host, cfg: Config, payload: bytes, version: int, outcome: Outcome, env: dict[str, str]
) -> Reply:
    """Connect, send a complete request (protocol 3), read the reply."""
    conn = connect(host, cfg, env)
    conn.cork(True)
    return _finish(conn, payload, version, outcome)


def _finish(
    conn: Connection,
    payload: bytes,
    version: int,
    outcome: Outcome,
    while_waiting: Callable[[], None] | None = None,
) -> Reply:
    try:
        conn.send(payload)
        conn.cork(False)
        if while_waiting is not None:
            while_waiting()
        return read_reply(Reader(conn), version)  # type: ignore[arg-type]
    except (TransportError, ProtocolError, OSError) as exc:
        raise RemoteFailure(str(exc) or type(exc).__name__) from None
    finally:
        outcome.bytes_sent += conn.bytes_sent
        outcome.bytes_received += conn.bytes_received
        conn.close()
