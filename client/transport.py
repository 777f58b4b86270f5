"""Connections from the client to a compile server: TCP (``_socket``) or an SSH pipe.

A ``Connection`` offers ``send(bytes)``, a buffered ``read(n)`` (what
``common.protocol.Reader`` needs) and ``close()``.  Errors become ``TransportError``, which
the caller treats as "this host failed: back it off and try another".

Timeouts as distcc: connect 4 s (fixed), then DISTCC_IO_TIMEOUT (default 300 s) per read or
write.  ``_socket`` is used directly: ``import socket`` costs ~6 ms here (enum, selectors).
"""

from __future__ import annotations

import _socket
import os

from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

CONNECT_TIMEOUT = 4.0
_READ_CHUNK = 1 << 16
_SOL_TCP = 6
_TCP_CORK = 3


class TransportError(Exception):
    """Connecting, sending or receiving failed; the host is at fault, not the job."""


class Connection:
    def __init__(self) -> None:
        self._buf = b""
        self.bytes_sent = 0
        self.bytes_received = 0

    # Subclasses implement these three.
    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def _recv(self, n: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def cork(self, on: bool) -> None:
        """TCP_CORK on while sending a request (no-op on pipes)."""

    def send(self, data: bytes) -> None:
        if not data:
            return
        try:
            self._send(data)
        except OSError as exc:
            raise TransportError(f"send failed: {exc}") from None
        self.bytes_sent += len(data)

    def read(self, n: int) -> bytes:
        if not self._buf:
            try:
                self._buf = self._recv(max(n, _READ_CHUNK))
            except OSError as exc:
                raise TransportError(f"receive failed: {exc}") from None
            self.bytes_received += len(self._buf)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


class TcpConnection(Connection):
    def __init__(self, host: str, port: int, io_timeout: float, cork: bool = True) -> None:
        super().__init__()
        # A str host makes getaddrinfo import encodings.idna (re, enum: ~12 ms); ASCII
        # names and addresses can go as bytes.
        name: str | bytes = host.encode("ascii") if host.isascii() else host
        try:
            infos = _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM)
        except OSError as exc:
            raise TransportError(f"failed to look up host {host!r}: {exc}") from None
        last: OSError | None = None
        for family, socktype, proto, _canon, addr in infos:
            sock = _socket.socket(family, socktype, proto)
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect(addr)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            sock.settimeout(io_timeout)
            self.sock = sock
            self._use_cork = cork and family in (_socket.AF_INET, _socket.AF_INET6)
            return
        raise TransportError(f"failed to connect to {host} port {port}: {last}")

    def cork(self, on: bool) -> None:
        if self._use_cork:
            try:
                self.sock.setsockopt(_SOL_TCP, _TCP_CORK, 1 if on else 0)
            except OSError:
                self._use_cork = False

    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _recv(self, n: int) -> bytes:
        return bytes(self.sock.recv(n))

    def close(self) -> None:
        self.sock.close()


class PipeConnection(Connection):
    """``ssh [-l USER] HOST COMMAND --inetd --enable-tcp-insecure`` over its stdin/stdout."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        super().__init__()
        from client.proc import spawn

        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()
        try:
            self.pid = spawn(argv, env, stdout_fd=from_child_w, stdin_fd=to_child_r)
        except OSError as exc:
            for fd in (self._w, self._r):
                os.close(fd)
            raise TransportError(f"failed to start {argv[0]}: {exc}") from None
        finally:
            os.close(to_child_r)
            os.close(from_child_w)

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._w, view) :]

    def _recv(self, n: int) -> bytes:
        return os.read(self._r, n)

    def close(self) -> None:
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
