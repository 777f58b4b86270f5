"""One client connection as the job code sees it: a TCP socket, or inetd/ssh stdin+stdout.

A ``Connection`` offers a buffered binary ``rfile`` for ``common.protocol.Reader``,
``send`` for the reply, and ``gone(events)``: given ``poll`` events on ``watch_fd``,
whether the client has disconnected.  The job polls ``watch_fd`` together with the
compiler's pidfd, so a vanished client is noticed at once, not at the next write.

Invariants: reads and writes time out after ``io_timeout`` seconds (distcc's
DISTCC_IO_TIMEOUT, default 300), surfacing as ``OSError``; data a client sends after its
request is read and dropped (distcc logs it as a bug and carries on), so a chatty client
cannot make the watch loop spin.  ``SocketConnection.waiting_since`` is the clock time at
which the job started waiting for bytes that have not come yet (``None`` while it is not
waiting on the client): the accept loop uses it to evict the longest-silent connection
when every place is taken (daemon/server.py).
"""

from __future__ import annotations

import io
import os
import select
import socket
from collections.abc import Callable
from typing import BinaryIO

HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL | getattr(select, "POLLRDHUP", 0)
WATCH_EVENTS = select.POLLIN | HANGUP


class _TimedReads(io.RawIOBase):
    """The socket's receive side, noting when a read starts waiting and when it returns."""

    def __init__(self, sock: socket.socket, clock: Callable[[], float]) -> None:
        self._sock = sock
        self._clock = clock
        self.waiting_since: float | None = None
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        self.waiting_since = self._clock()
        try:
            n = self._sock.recv_into(buffer)
            self.received += n
            return n
        finally:
            self.waiting_since = None


class SocketConnection:
    def __init__(
        self,
        sock: socket.socket,
        peer: str,
        io_timeout: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.sock = sock
        self.peer = peer
        sock.settimeout(io_timeout)
        self._reads = _TimedReads(sock, clock or time.monotonic)
        self.rfile: BinaryIO = io.BufferedReader(self._reads, 1 << 16)
        self.watch_fd = sock.fileno()

    @property
    def waiting_since(self) -> float | None:
        return self._reads.waiting_since

    @property
    def bytes_received(self) -> int:
        return self._reads.received

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def gone(self, events: int) -> bool:
        if events & HANGUP:
            return True
        try:
            return self.sock.recv(1 << 16, socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    def close(self) -> None:
        try:
            self.rfile.close()
        finally:
            self.sock.close()


class PipeConnection:
    """inetd or ssh mode: the request on stdin, the reply on stdout."""

    def __init__(self, rfd: int, wfd: int, peer: str) -> None:
        self.peer = peer
        self.rfile = os.fdopen(os.dup(rfd), "rb", buffering=1 << 16)
        self._wfd = wfd
        self.watch_fd = rfd

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._wfd, view)
            view = view[written:]

    def gone(self, events: int) -> bool:
        if events & HANGUP:
            return True
        os.set_blocking(self.watch_fd, False)
        try:
            return os.read(self.watch_fd, 1 << 16) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        finally:
            os.set_blocking(self.watch_fd, True)

    def close(self) -> None:
        self.rfile.close()


def peer_name(address: object) -> str:
    """``IP:PORT`` from a socket address tuple (the job summary's form)."""
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address) or "(unknown)"


Connection = SocketConnection | PipeConnection
