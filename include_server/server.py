"""``include-server``: the long-lived include server on an AF_UNIX socket.

Usage::

    include-server [start] --port SOCKET [--pid_file FILE] [-dN] [--idle-timeout S]
                   [--cpu-budget S] [--no-detach]      # stock pump's flags are accepted
    include-server stop   (--port SOCKET | --pid_file FILE)
    include-server status --port SOCKET

Purpose: answer stock distcc 3.4 pump clients (``protocol``, ``client_root``) and ours (the
``XINC`` extension) from memory, for as many builds as the server lives, with watchdog
keeping the memory true.

Invariants:
- Start-up follows stock ``include_server.py``: the parent forks, the child binds the
  socket, then the parent writes the *child's* pid to ``--pid_file`` and exits 0; so when
  ``pump`` sees the pid file, the socket is there.
- One event loop reads every connection without blocking and answers memoised requests
  itself; the others go to a worker pool (``loop``).  Analyses share a readers-writer lock
  with the watcher, so a slow request never holds the others.  Instead
  of SIGALRM, each request has a CPU budget (``time.thread_time``); past it the answer is
  "not covered" (empty reply) and nothing is dropped.
- A request that cannot be covered gets ``ARGC 0`` and a warning on stderr
  ("Preprocessing locally. Include server not covering: ..."); an internal error does the
  same and is logged with its traceback, but never stops the server.
- SIGTERM/SIGINT, ``stop``, or ``--idle-timeout`` seconds without a request: the client root
  and the socket are removed and the process exits 0.  At start, client roots left by dead
  include servers are removed.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence

from common.protocol import ProtocolError
from include_server.analysis_cli import closure_json
from include_server.cache import Analysis, Analyzer
from include_server.client_root import ClientRoot, default_tmp_base
from include_server.closure import BudgetExceeded, Closure
from include_server.loop import EventLoopServer
from include_server.protocol import (
    Request,
    compact_entries,
    encode_json,
    encode_paths,
    encode_status_request,
    read_json,
)
from include_server.rwlock import RWLock
from include_server.watch import Watcher

logger = logging.getLogger("include_server")

DEFAULT_CPU_BUDGET = 10.0
DEFAULT_IDLE_TIMEOUT = 3600.0


_Front = tuple[tuple[object, ...], Closure, tuple[str, int, int], bytes]


def _stamp(path: str) -> tuple[str, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return path, st.st_mtime_ns, st.st_size


def cpu_budget(seconds: float, every: int = 32) -> Callable[[], None]:
    """A check to call often: raises ``BudgetExceeded`` once this thread used ``seconds``.

    The thread's CPU clock is a system call, so it is read on every ``every``-th call only
    (a node visit costs microseconds: the overshoot is negligible).
    """
    start = time.thread_time()
    calls = 0

    def check() -> None:
        nonlocal calls
        calls += 1
        if calls % every == 0 and time.thread_time() - start > seconds:
            raise BudgetExceeded(f"more than {seconds:g} s of CPU for one request")

    if seconds <= 0:
        every = 1
    return check


class IncludeService:
    """Everything behind the socket; usable without one (tests, benchmarks)."""

    def __init__(
        self,
        client_tmp: str | None = None,
        budget_seconds: float = DEFAULT_CPU_BUDGET,
        watch: bool = True,
    ) -> None:
        self.analyzer = Analyzer()
        self.lock = RWLock()
        self.watcher = Watcher(self.analyzer, self.lock) if watch else None
        self.root = ClientRoot(client_tmp or default_tmp_base())
        self.budget_seconds = budget_seconds
        self.started = time.monotonic()
        self.last_request = time.monotonic()
        self.requests = 0
        self.answered = 0
        self.cpu = 0.0
        # (cwd, argv, extended) -> (memo key, closure, compiler stamp, reply bytes): a
        # repeated request whose closure is still memoised is answered without any work.
        self._front: dict[tuple[str, tuple[str, ...], bool, bool], _Front] = {}

    def handle(self, request: Request) -> bytes:
        self.last_request = time.monotonic()
        if request.status:
            return encode_json(self.status())
        self.requests += 1
        start = time.thread_time()
        try:
            return self._answer(request)
        except Exception:
            logger.exception("internal error for %s in %s", list(request.argv), request.cwd)
            if request.extended and not request.compact:
                return encode_json({"covered": False, "reason": "include server internal error"})
            return encode_paths([])
        finally:
            self.cpu += time.thread_time() - start

    def quick(self, request: Request) -> bytes | None:
        """The reply if it is in memory and still valid (no analysis, no I/O but a stat)."""
        if request.status:
            return None
        front_key = (request.cwd, request.argv, request.extended, request.compact)
        front = self._front.get(front_key)
        if front is None:
            return None
        key, closure, stamp, reply = front
        if self.analyzer.current(key) is closure and _stamp(stamp[0]) == stamp:
            self.last_request = time.monotonic()
            self.requests += 1
            self.answered += 1
            self.analyzer.counters["front-hit"] += 1
            return reply
        self._front.pop(front_key, None)
        return None

    def _answer(self, request: Request) -> bytes:
        return self.quick(request) or self._analyse(request)

    def _remember(self, request: Request, analysis: Analysis, reply: bytes) -> bytes:
        if analysis.key is not None and analysis.closure is not None and analysis.compiler:
            if len(self._front) > 100_000:
                self._front.clear()
            front_key = (request.cwd, request.argv, request.extended, request.compact)
            self._front[front_key] = (analysis.key, analysis.closure, analysis.compiler, reply)
        return reply

    def _analyse(self, request: Request) -> bytes:
        with self.lock.read():
            analysis = self.analyzer.analyze(
                request.argv, request.cwd, budget=cpu_budget(self.budget_seconds)
            )
        if self.watcher is not None:
            self.watcher.update()
        closure = analysis.closure
        reason = analysis.reason
        if reason is None and closure is not None and not closure.covered:
            n = closure.not_covered[0]
            reason = f"{n.file}:{n.line}: {n.reason}"
        if request.compact:
            if closure is None or reason is not None:
                logger.warning("not covering %s: %s", list(request.argv), reason)
                return encode_paths([])
            self.answered += 1
            return self._remember(request, analysis, encode_paths(compact_entries(closure)))
        if request.extended:
            if closure is None or reason is not None:
                return encode_json({"covered": False, "reason": reason})
            return self._remember(request, analysis, encode_json(closure_json(closure)))
        if closure is None or reason is not None:
            source = analysis.job.source if analysis.job else "?"
            print(
                f"WARNING: Preprocessing locally. Include server not covering: {reason} "
                f"for translation unit '{source}'",
                file=sys.stderr,
            )
            return encode_paths([])
        paths = self.root.reply(closure)
        if paths is None:
            self.analyzer.counters["changed-while-replying"] += 1
            return encode_paths([])
        self.answered += 1
        return self._remember(request, analysis, encode_paths(paths))

    def status(self) -> dict[str, object]:
        return {
            "pid": os.getpid(),
            "uptime": round(time.monotonic() - self.started, 3),
            "requests": self.requests,
            "answered": self.answered,
            "cpu_seconds": round(self.cpu, 3),
            "counters": dict(self.analyzer.counters),
            "sizes": self.analyzer.sizes(),
            "watches": self.watcher.watch_count if self.watcher else 0,
            "generation": self.watcher.generation if self.watcher else 0,
            "client_root": self.root.root,
        }

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.root.remove()


def _clean_stale_roots(base: str) -> None:
    for path in glob.glob(os.path.join(base, "*.include_server-*-*")):
        try:
            pid = int(path.rsplit("-", 2)[1])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass


def serve(
    port: str,
    service: IncludeService,
    idle_timeout: float,
    ready: Callable[[], None] = lambda: None,
) -> None:
    """Serve until SIGTERM/SIGINT or idle; always removes the socket and the client root."""
    if os.path.exists(port):
        os.unlink(port)
    server = EventLoopServer(port, service.quick, service.handle)

    def stop(*_: object) -> None:
        server.stop()

    def tick() -> None:
        if idle_timeout > 0 and time.monotonic() - service.last_request > idle_timeout:
            logger.info("idle for %.0f s, exiting", idle_timeout)
            server.stop()

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        ready()
        server.serve(tick)
    finally:
        service.close()
        for s, handler in old.items():
            signal.signal(s, handler)


def query(port: str, payload: bytes, timeout: float = 10.0) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(port)
        sock.sendall(payload)
        chunks: list[bytes] = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _status(port: str) -> int:
    import io

    try:
        doc = read_json(io.BytesIO(query(port, encode_status_request())))
    except (OSError, ProtocolError) as exc:
        print(f"include-server: not running at {port}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=1))
    return 0


def _stop(port: str | None, pid_file: str | None) -> int:
    pid: int | None = None
    if pid_file:
        try:
            with open(pid_file) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError) as exc:
            print(f"include-server: cannot read pid file {pid_file}: {exc}", file=sys.stderr)
            return 1
    elif port:
        import io

        try:
            doc = read_json(io.BytesIO(query(port, encode_status_request())))
        except (OSError, ProtocolError) as exc:
            print(f"include-server: not running at {port}: {exc}", file=sys.stderr)
            return 1
        assert isinstance(doc, dict)
        pid = int(doc["pid"])
    if pid is None:
        print("include-server: stop needs --port or --pid_file", file=sys.stderr)
        return 2
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        print(f"include-server: no process {pid}", file=sys.stderr)
        return 1
    if port:  # wait for the socket to go: the server removes it last thing
        deadline = time.monotonic() + 10
        while os.path.exists(port) and time.monotonic() < deadline:
            time.sleep(0.02)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="include-server", description="The include server.")
    p.add_argument("--port", help="AF_UNIX socket path")
    p.add_argument("--pid_file", "--pid-file", dest="pid_file")
    p.add_argument("-d", dest="debug", type=int, default=1, help="1 warnings, 2 info, 3 debug")
    p.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT)
    p.add_argument("--cpu-budget", type=float, default=DEFAULT_CPU_BUDGET)
    p.add_argument("--no-detach", action="store_true", help="serve in the foreground")
    p.add_argument("--no-watch", action="store_true", help="no file watching (one build only)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    command = "start"
    if args_in and args_in[0] in ("start", "stop", "status"):
        command = args_in.pop(0)
    args, unknown = _parser().parse_known_args(args_in)
    if unknown:
        print(f"include-server: ignoring stock options {unknown}", file=sys.stderr)
    level = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(args.debug, logging.DEBUG)
    logging.basicConfig(level=level, format="include-server[%(process)d] %(levelname)s %(message)s")
    if command == "status":
        if not args.port:
            print("include-server: status needs --port", file=sys.stderr)
            return 2
        return _status(args.port)
    if command == "stop":
        return _stop(args.port, args.pid_file)
    if not args.port:
        print("include-server: --port SOCKET is required", file=sys.stderr)
        return 2
    port = os.path.abspath(args.port)
    base = default_tmp_base()
    if args.no_detach:
        _clean_stale_roots(base)
        service = IncludeService(base, args.cpu_budget, watch=not args.no_watch)
        if args.pid_file:
            with open(args.pid_file, "w") as f:
                f.write(f"{os.getpid()}\n")
        serve(port, service, args.idle_timeout)
        return 0
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        ok = os.read(read_end, 1) == b"1"
        os.close(read_end)
        if not ok:
            print("include-server: the server failed to start", file=sys.stderr)
            return 1
        if args.pid_file:
            with open(args.pid_file, "w") as f:
                f.write(f"{pid}\n")
        return 0
    os.close(read_end)
    os.setsid()
    status = 1
    try:
        _clean_stale_roots(base)
        service = IncludeService(base, args.cpu_budget, watch=not args.no_watch)

        def ready() -> None:
            os.write(write_end, b"1")
            os.close(write_end)

        serve(port, service, args.idle_timeout, ready)
        status = 0
    except Exception:
        logger.exception("include server failed")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
