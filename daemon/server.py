"""Listening, the accept loop, concurrency, lifetime, pid file and detaching.

Concurrency model: one accept loop (the main thread) that never blocks on a job; each
accepted connection gets a thread that reads the request and runs ``daemon.job.serve``.
Compilers are bounded by the job slots (``--jobs``) inside the job, so requests keep
being read while compiles queue; connections themselves are bounded by
``max_connections``.  When every place is taken, a new connection evicts one silent in the
middle of its request for ``evict_after`` seconds (fewest bytes received, then longest
silent) (a client that connects and sends nothing would otherwise hold
its place for the whole DISTCC_IO_TIMEOUT, and 64 of them would starve the daemon);
connections that are compiling or waiting for a job slot are never evicted.  With no
such connection the new one is closed at once and counted as REJ_OVERLOAD.
``--no-fork`` serves each connection in the accept loop itself.

Shutdown (SIGTERM, SIGINT, ``--lifetime`` expiry): stop accepting, close the listeners,
SIGTERM every running compiler's process group, give job threads a moment to clean their
directories, and return; the caller removes the pid file.  Signal handlers only write a
byte to a wake-up pipe the loop polls, so no I/O is interrupted mid-way.

The access list is checked right after ``accept`` for both the compile port and the stats
port; a denied client is closed without a byte and logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType

from daemon.access import AccessList
from daemon.job import JobContext, serve
from daemon.stats import HostFacts, Result, render_page
from daemon.transport import SocketConnection, peer_name

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
SHUTDOWN_GRACE = 3.0
STATS_READ_TIMEOUT = 1.0


def bind_listener(address: str | None, port: int, defer_accept: bool = True) -> socket.socket:
    """A listening TCP socket; ``None`` means loopback.  Raises ``OSError``."""
    host = address or LOOPBACK
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        if defer_accept and hasattr(socket, "TCP_DEFER_ACCEPT"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
        sock.bind((host, port))
        sock.listen(256)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Server:
    def __init__(
        self,
        listener: socket.socket,
        ctx: JobContext,
        acl: AccessList,
        *,
        io_timeout: float,
        stats_listener: socket.socket | None = None,
        lifetime: float = 0.0,
        idle_lifetime: float = 0.0,
        no_fork: bool = False,
        max_connections: int = 256,
        evict_after: float = 10.0,
        clock: Callable[[], float],
    ) -> None:
        self.listener = listener
        self.stats_listener = stats_listener
        self.ctx = ctx
        self.acl = acl
        self.io_timeout = io_timeout
        self.lifetime = lifetime
        self.idle_lifetime = idle_lifetime
        self._last_busy = clock()  # when a connection last ended (or the start)
        self.no_fork = no_fork
        self.max_connections = max_connections
        self.evict_after = evict_after
        self.clock = clock
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._stop = False
        self._signal = 0
        self._sockets: set[socket.socket] = set()  # open client connections
        self._connections: set[SocketConnection] = set()  # the same, once wrapped

    # -------------------------------------------------------------- control

    def request_stop(self) -> None:
        """Safe from a signal handler or another thread."""
        self._stop = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self._signal = signum  # logged by the loop: no logging in a signal handler
            self.request_stop()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, handler)

    # -------------------------------------------------------------- the loop

    def run(self) -> None:
        deadline = self.clock() + self.lifetime if self.lifetime > 0 else None
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, self._accept_job)
        if self.stats_listener is not None:
            sel.register(self.stats_listener, selectors.EVENT_READ, self._accept_stats)
        sel.register(self._wake_r, selectors.EVENT_READ, self._drain_wake)
        try:
            while not self._stop:
                timeout = None if deadline is None else max(0.0, deadline - self.clock())
                idle_end = self._idle_end()
                if idle_end is not None:
                    left = max(0.0, idle_end - self.clock())
                    timeout = left if timeout is None else min(timeout, left)
                for key, _ in sel.select(timeout):
                    if key.data is not None:
                        key.data()
                if deadline is not None and self.clock() >= deadline:
                    log.info("lifetime of %ss expired, exiting", self.lifetime)
                    break
                idle_end = self._idle_end()
                if idle_end is not None and self.clock() >= idle_end:
                    log.info("no connection for %ss, exiting", self.idle_lifetime)
                    break
        finally:
            if self._signal:
                log.info("got signal %d, shutting down", self._signal)
            sel.close()
            self._shutdown()

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            os.read(self._wake_r, 4096)

    def _idle_end(self) -> float | None:
        """When ``--idle-lifetime`` ends the daemon if no connection comes (None: never,
        or a connection is open now)."""
        if self.idle_lifetime <= 0:
            return None
        with self._lock:
            if self._threads:
                return None
            return self._last_busy + self.idle_lifetime

    def _shutdown(self) -> None:
        self.listener.close()
        if self.stats_listener is not None:
            self.stats_listener.close()
        self.ctx.stopping.set()
        self.ctx.registry.kill_all()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:  # a job blocked reading its request fails now and cleans up
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        end = self.clock() + SHUTDOWN_GRACE
        for thread in list(self._threads):
            thread.join(max(0.0, end - self.clock()))
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _accept(self, listener: socket.socket) -> tuple[socket.socket, str] | None:
        try:
            sock, address = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return None
        except OSError as exc:  # EMFILE and friends: keep serving the others
            log.error("accept failed: %s", exc)
            return None
        peer = peer_name(address)
        if not self.acl.allows(address[0]):
            log.error("connection from client '%s' denied by access list", peer)
            sock.close()
            return None
        return sock, peer

    def _accept_job(self) -> None:
        accepted = self._accept(self.listener)
        if accepted is None:
            return
        sock, peer = accepted
        self.ctx.stats.record(Result.TCP_ACCEPT, self.clock())
        log.info("connection from %s", peer)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.no_fork:
            self._serve(sock, peer)
            return
        with self._lock:
            busy = len(self._threads) >= self.max_connections
        if busy and not self._evict_idle(peer):
            log.error("%s: too many connections (%d), dropped", peer, self.max_connections)
            self.ctx.stats.record(Result.REJ_OVERLOAD, self.clock())
            sock.close()
            return
        thread = threading.Thread(target=self._serve, args=(sock, peer), daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _evict_idle(self, newcomer: str) -> bool:
        """Shut down one connection silent mid-request for ``evict_after`` seconds, the one
        that has sent the fewest bytes (then the longest silent); True if one was.  Its own
        thread then fails its read, cleans up and logs the job as usual.

        Fewest bytes first: a real client that has sent its request head and waits for its
        cpp before sending the ``.i`` (protocols 1-2) has sent more than a connection that
        only opened, so a crowd of those goes first."""
        now = self.clock()
        with self._lock:
            waiting = [
                (conn.bytes_received, since, conn)
                for conn in self._connections
                if (since := conn.waiting_since) is not None and now - since >= self.evict_after
            ]
            if not waiting:
                return False
            _, since, victim = min(waiting, key=lambda item: item[:2])
            if victim.waiting_since != since:  # bytes came meanwhile: not silent after all
                return False
            self._connections.discard(victim)
            with contextlib.suppress(OSError):
                victim.sock.shutdown(socket.SHUT_RDWR)
        log.error(
            "%s: silent for %.1fs with every connection taken, closed for %s",
            victim.peer,
            now - since,
            newcomer,
        )
        return True

    def _serve(self, sock: socket.socket, peer: str) -> None:
        conn: SocketConnection | None = None
        with self._lock:
            self._sockets.add(sock)
        try:
            conn = SocketConnection(sock, peer, self.io_timeout, self.clock)
            with self._lock:
                self._connections.add(conn)
            try:
                serve(conn, self.ctx)
            finally:
                conn.close()
        except Exception:  # never let one client take the daemon down
            log.exception("%s: connection handler failed", peer)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
                self._sockets.discard(sock)
                if conn is not None:
                    self._connections.discard(conn)
                self._last_busy = self.clock()
            if self.idle_lifetime > 0 and not self._stop:  # the loop recomputes its end
                with contextlib.suppress(OSError):
                    os.write(self._wake_w, b"i")

    # -------------------------------------------------------------- stats page

    def _accept_stats(self) -> None:
        assert self.stats_listener is not None
        accepted = self._accept(self.stats_listener)
        if accepted is not None:
            threading.Thread(target=self._serve_stats, args=accepted, daemon=True).start()

    def _serve_stats(self, sock: socket.socket, peer: str) -> None:
        try:
            sock.settimeout(STATS_READ_TIMEOUT)
            with contextlib.suppress(OSError):
                sock.recv(1024)  # whatever the client says; distcc reads and ignores it
            page = render_page(
                self.ctx.stats.snapshot(self.clock()), HostFacts.read(self.ctx.tmp_dir)
            )
            sock.sendall(page)
            sock.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                while sock.recv(1024):
                    pass
        except OSError as exc:
            log.info("stats request from %s: %s", peer, exc)
        finally:
            sock.close()


# ------------------------------------------------------------------ pid file and detaching


def write_pid_file(path: str, pid: int) -> None:
    """Write ``pid`` atomically (a reader never sees an empty file)."""
    tmp = f"{path}.{pid}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{pid}\n")
    os.replace(tmp, path)


def remove_pid_file(path: str, pid: int) -> None:
    """Remove the pid file if it is still ours."""
    try:
        with open(path) as f:
            if f.read().strip() != str(pid):
                return
        os.unlink(path)
    except OSError:
        pass


def detach(keep_stderr: bool, ready: Callable[[], int]) -> tuple[bool, int]:
    """Fork into the background; returns ``(in_parent, exit_code)``.

    The child starts a new session, points stdio at /dev/null, calls ``ready`` (which
    writes the pid file and returns 0 or an exit code) and reports that code to the
    parent through a pipe.  The parent waits for it, so when it exits 0 the socket is
    bound and the pid file exists.  Must run before any thread is started.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(w)
        try:
            got = os.read(r, 1)
        finally:
            os.close(r)
        return True, got[0] if got else 1
    os.close(r)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1) if keep_stderr else (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    code = 1
    try:
        code = ready()
    finally:
        os.write(w, bytes([code & 0xFF]))
        os.close(w)
    return False, code
