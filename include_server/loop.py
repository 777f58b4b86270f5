"""The socket side of the include server: one event loop, a pool for slow requests.

Purpose: accept and read every connection without blocking on any client, answer requests
that are already in memory on the loop itself (cheaper than any thread hand-off), and give
the others to a worker pool so one slow analysis never holds the rest.

Invariants:
- The loop never blocks: sockets are non-blocking while a request is read; a request is
  parsed from the bytes received so far (incomplete: wait for more; malformed: close).
- A connection that has not sent a whole request within ``READ_TIMEOUT`` is closed, and a
  request larger than ``MAX_REQUEST`` is refused.
- ``quick(request)`` returns the reply if it can be given from memory, else None; then
  ``slow(request)`` runs on a worker.  The loop writes a quick reply without blocking and
  leaves any rest to a worker; workers write in blocking mode with a timeout.
- ``stop()`` may be called from a signal handler: it only sets a flag and wakes the loop.

Vocabulary: *quick path*: a memoised answer; *slow path*: anything needing analysis.
"""

from __future__ import annotations

import io
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from common.protocol import ProtocolError, TruncatedError
from include_server.protocol import Request, read_request

logger = logging.getLogger(__name__)

READ_TIMEOUT = 60.0
WRITE_TIMEOUT = 60.0
MAX_REQUEST = 1 << 20
BACKLOG = 4096


class _Conn:
    __slots__ = ("buffer", "since", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.since = time.monotonic()


class EventLoopServer:
    def __init__(
        self,
        path: str,
        quick: Callable[[Request], bytes | None],
        slow: Callable[[Request], bytes],
        workers: int = 16,
    ) -> None:
        self.path = path
        self.quick = quick
        self.slow = slow
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(BACKLOG)
        self.listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._conns: dict[int, _Conn] = {}
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="include-server")
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def serve(self, tick: Callable[[], None] = lambda: None) -> None:
        """Run until ``stop()``; ``tick`` is called about once a second (idle checks)."""
        last_sweep = time.monotonic()
        try:
            while not self._stopping.is_set():
                for key, _mask in self._selector.select(timeout=1.0):
                    sock = key.fileobj
                    if sock is self.listener:
                        self._accept()
                    elif sock is self._wake_r:
                        try:
                            self._wake_r.recv(4096)
                        except OSError:
                            pass
                    else:
                        assert isinstance(sock, socket.socket)
                        self._read(sock)
                now = time.monotonic()
                if now - last_sweep >= 1.0:
                    last_sweep = now
                    self._sweep(now)
                    tick()
        finally:
            self._close_all()

    # -- connections --------------------------------------------------------------------
    def _accept(self) -> None:
        for _ in range(256):
            try:
                sock, _addr = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.warning("accept failed: %s", exc)
                return
            sock.setblocking(False)
            conn = _Conn(sock)
            self._conns[sock.fileno()] = conn
            # Clients write their request right after connecting: it is often already
            # here, and then the connection never needs registering with the selector.
            if not self._consume(conn):
                self._selector.register(sock, selectors.EVENT_READ, None)

    def _read(self, sock: socket.socket) -> None:
        conn = self._conns.get(sock.fileno())
        if conn is not None:
            self._consume(conn)

    def _consume(self, conn: _Conn) -> bool:
        """Read what is there; True once the connection is answered, handed off or closed."""
        sock = conn.sock
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return True
        conn.buffer += data
        if len(conn.buffer) > MAX_REQUEST:
            logger.warning("request over %d bytes refused", MAX_REQUEST)
            self._drop(conn)
            return True
        try:
            request = read_request(io.BytesIO(conn.buffer))
        except TruncatedError:
            return False  # not all there yet
        except ProtocolError as exc:
            logger.warning("bad request: %s", exc)
            self._drop(conn)
            return True
        self._detach(conn)
        try:
            reply = self.quick(request)
        except Exception:
            logger.exception("quick path failed; answering on a worker")
            reply = None
        if reply is None:
            self._pool.submit(self._answer_slowly, sock, request)
            return True
        # Never block the loop on a slow reader: what does not fit in the socket buffer
        # is finished on a worker.
        try:
            sent = sock.send(reply)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sock.close()
            return True
        if sent < len(reply):
            self._pool.submit(self._reply, sock, reply[sent:])
        else:
            sock.close()
        return True

    def _answer_slowly(self, sock: socket.socket, request: Request) -> None:
        try:
            reply = self.slow(request)
        except Exception:
            logger.exception("internal error")
            sock.close()
            return
        self._reply(sock, reply)

    @staticmethod
    def _reply(sock: socket.socket, reply: bytes) -> None:
        try:
            sock.setblocking(True)
            sock.settimeout(WRITE_TIMEOUT)
            sock.sendall(reply)
        except OSError as exc:
            logger.info("client went away: %s", exc)
        finally:
            sock.close()

    def _detach(self, conn: _Conn) -> None:
        self._conns.pop(conn.sock.fileno(), None)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass

    def _drop(self, conn: _Conn) -> None:
        self._detach(conn)
        conn.sock.close()

    def _sweep(self, now: float) -> None:
        for conn in [c for c in self._conns.values() if now - c.since > READ_TIMEOUT]:
            logger.info("closing a connection that sent no whole request in %.0f s", READ_TIMEOUT)
            self._drop(conn)

    def _close_all(self) -> None:
        for conn in list(self._conns.values()):
            self._drop(conn)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._selector.close()
        self.listener.close()
        self._wake_r.close()
        self._wake_w.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
