"""One connection: read a protocol 1 or 2 request, run the compiler, send the reply.

The flow follows distcc's ``dcc_run_job`` (reference §5.1), with every check moved in
front of the expensive part: ``DIST``, ``ARGC``/``ARGV`` (bounded), command and compiler
checks, *then* ``DOTI`` into a private job directory, then a compile slot, the compiler,
the reply (§1.5: ``DONE STAT SERR SOUT DOTO``, the object only on success).

Failure policy (stock wire behaviour): anything wrong before the compiler runs (protocol
error, refused compiler or option) closes the connection without a reply; the reason is
logged.  A compiler that cannot be started is a *result*: status 110<<8 with distcc's
"failed to exec" line in SERR.  A client that disconnects while its compiler runs gets
that compiler's process group SIGTERMed (SIGKILL after a grace period); ``--job-lifetime``
does the same and replies with status 118<<8 (EXIT_TIMEOUT).

The compiler runs in the job directory (so relative side outputs stay inside it and are
removed with it), in a session of its own, stdin from /dev/null, stdout and stderr to
memory files (see daemon/runner.py).

Invariants: at most ``slots`` compilers run at once (the slot is taken only around the
compiler, so reading requests never waits for compiles; a protocol 1-2 compiler started
before its source arrived takes its slot once the source is here, before it is fed, and
at most ``slots`` of those wait at once); the job directory is removed
whatever happened (unless DISTCC_SAVE_TEMPS=1); exactly one summary line is logged per
connection, at NOTICE::

    client: 127.0.0.1:40000 COMPILE_OK exit:0 sig:0 core:0 ret:0 time:12ms gcc hello.c

Log records of WARNING and above emitted by the job's thread are also returned to the
client in SERR, as distcc does ("failed to exec ...").

``_run`` dispatches on the version: protocols 1 and 2 here (``_serve_plain``), protocol 3
(pump mode: a mirror root, daemon/pumpjob.py) in ``_serve_pump``, and the native protocol
(files by digest, daemon/native.py).
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from common.exitcodes import ExitCode
from common.protocol import (
    ARGC,
    ARGV,
    CDIR,
    DIST,
    DOTI,
    NATIVE_VERSION,
    Limits,
    ProtocolError,
    Reader,
    Reply,
    TruncatedError,
    compresses,
    reply_packets,
)
from daemon import chroot, native, pumpjob, results, runner
from daemon.allowlist import CompilerPolicy, Refusal
from daemon.command import Refused, ServerCommand, prepare
from daemon.names import BadName
from daemon.options import NOTICE
from daemon.results import DEFAULT_MAX_BYTES as DEFAULT_RESULTS_BYTES
from daemon.results import RESULTS_NAME, ResultCache, TimeMacros
from daemon.sandbox import Sandbox
from daemon.stats import Result, Stats
from daemon.store import DEFAULT_MAX_BYTES, STORE_NAME, OwnFiles, Store
from daemon.sysdirs import Prober
from daemon.transport import WATCH_EVENTS, Connection

log = logging.getLogger(__name__)

# Linux's MAX_ARG_STRLEN and a share of ARG_MAX: exec would refuse more anyway.  256 MiB
# for one preprocessed source, compressed or inflated, is ~10x the largest real ones.
DAEMON_LIMITS = Limits(
    max_string=1 << 17, max_argc=1 << 14, max_files=1 << 16, max_bulk=1 << 28, max_version=3
)
SERVED_VERSIONS = (1, 2, 3)
MAX_ARGV_BYTES = 1 << 21


@dataclass
class JobContext:
    """What every job shares; built once by the server."""

    policy: CompilerPolicy
    stats: Stats
    slots: threading.BoundedSemaphore
    tmp_dir: str
    env: dict[str, str]
    clock: Callable[[], float]
    job_lifetime: float = 0.0
    save_temps: bool = False  # DISTCC_SAVE_TEMPS=1: keep job directories (debugging)
    limits: Limits = DAEMON_LIMITS
    registry: runner.ProcessRegistry = field(default_factory=runner.ProcessRegistry)
    stopping: threading.Event = field(default_factory=threading.Event)
    prober: Prober | None = None  # compilers' default include dirs (pump mode)
    sandbox: Sandbox | None = None  # --sandbox: pump jobs run chrooted in their root
    store_max_bytes: int = DEFAULT_MAX_BYTES
    own_files: OwnFiles = field(default_factory=OwnFiles)  # digests of system headers
    result_cache_max_bytes: int = DEFAULT_RESULTS_BYTES
    time_macros: TimeMacros = field(default_factory=TimeMacros)
    # Compilers started before their source arrived, waiting for it (protocols 1-2).
    early: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(2))
    _store: Store | None = None
    _results: ResultCache | None = None
    _store_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.prober is None:
            self.prober = Prober(self.env)

    def result_cache(self) -> ResultCache | None:
        """Replies of finished native jobs (daemon/results.py); None when disabled."""
        if self.result_cache_max_bytes <= 0:
            return None
        with self._store_lock:
            if self._results is None:
                self._results = ResultCache(
                    os.path.join(self.tmp_dir, RESULTS_NAME), self.result_cache_max_bytes
                )
            return self._results

    def content_store(self) -> Store:
        """The content store under TMPDIR, made on first use (native protocol)."""
        with self._store_lock:
            if self._store is None:
                self._store = Store(os.path.join(self.tmp_dir, STORE_NAME), self.store_max_bytes)
            return self._store


class _Capture(threading.local):
    lines: list[str] | None = None


_capture = _Capture()


class JobLogCapture(logging.Handler):
    """Copies WARNING+ records of the current job's thread into that job's SERR."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        lines = _capture.lines
        if lines is not None:
            lines.append(self.format(record))


class _Abort(Exception):
    """End the job without a reply; ``result`` and ``ret`` go to the summary."""

    def __init__(self, result: str, ret: int, message: str) -> None:
        super().__init__(message)
        self.result = result
        self.ret = ret


@dataclass
class Outcome:
    result: str = Result.OTHER
    status: int = 0
    ret: int = 0
    compiler: str = ""
    source: str = ""
    cached: bool = False  # the reply of an identical earlier job (daemon/results.py)


def serve(conn: Connection, ctx: JobContext) -> Outcome:
    """Handle one connection completely (the caller closes it)."""
    start = ctx.clock()
    outcome = Outcome()
    _capture.lines = []
    try:
        _run(conn, ctx, outcome)
    except _Abort as exc:
        outcome.result, outcome.ret = exc.result, exc.ret
        log.error("%s: %s", conn.peer, exc)
    except TruncatedError as exc:
        outcome.result, outcome.ret = Result.OTHER, ExitCode.TRUNCATED
        log.error("%s: %s", conn.peer, exc)
    except ProtocolError as exc:
        outcome.result, outcome.ret = Result.REJ_BAD_REQ, ExitCode.PROTOCOL_ERROR
        log.error("%s: %s", conn.peer, exc)
    except OSError as exc:
        outcome.result, outcome.ret = Result.CLI_DISCONN, ExitCode.IO_ERROR
        log.error("%s: I/O error: %s", conn.peer, exc)
    except Exception:  # a bug must not take the daemon down with it
        outcome.result, outcome.ret = Result.OTHER, ExitCode.DISTCC_FAILED
        log.exception("%s: internal error", conn.peer)
    finally:
        _capture.lines = None
    elapsed = ctx.clock() - start
    ctx.stats.record(outcome.result, ctx.clock(), elapsed, outcome.compiler, outcome.source)
    log.log(NOTICE, "%s", summary(conn.peer, outcome, elapsed))
    return outcome


def summary(peer: str, outcome: Outcome, elapsed: float) -> str:
    status = outcome.status
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
    line = (
        f"client: {peer} {outcome.result} exit:{code}"
        f" sig:{os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0}"
        f" core:{int(os.WCOREDUMP(status))} ret:{outcome.ret} time:{int(elapsed * 1000)}ms"
    )
    if outcome.result in (Result.COMPILE_OK, Result.COMPILE_ERROR):
        line += f" {outcome.compiler} {outcome.source}"
    if outcome.cached:
        line += " (cached result)"
    return line


def _read_argv(reader: Reader) -> list[str]:
    argc = reader.expect(ARGC)
    if not 1 <= argc <= reader.limits.max_argc:
        raise ProtocolError(f"ARGC {argc} out of range 1..{reader.limits.max_argc}")
    argv: list[str] = []
    total = 0
    for _ in range(argc):
        word = reader.read_string(ARGV)
        total += len(word) + 1
        if total > MAX_ARGV_BYTES:
            raise ProtocolError(f"argv longer than {MAX_ARGV_BYTES} bytes")
        if "\0" in word:
            raise ProtocolError("NUL byte in an argument")
        argv.append(word)
    return argv


def _run(conn: Connection, ctx: JobContext, outcome: Outcome) -> None:
    reader = Reader(conn.rfile, ctx.limits)
    version = reader.expect(DIST)
    if version == NATIVE_VERSION:
        _serve_native(conn, ctx, reader, outcome)
        return
    if version not in SERVED_VERSIONS:
        raise ProtocolError(f"protocol {version} is not served by this daemon")
    if version == 3:
        _serve_pump(conn, ctx, reader, version, outcome)
    else:
        _serve_plain(conn, ctx, reader, version, outcome)


def _serve_pump(
    conn: Connection, ctx: JobContext, reader: Reader, version: int, outcome: Outcome
) -> None:
    """Protocol 3: ``CDIR``, ``ARGC``/``ARGV``, ``NFIL`` entries into a mirror root."""
    cwd = reader.read_string(CDIR)
    argv = _read_argv(reader)
    assert ctx.prober is not None
    try:
        request = pumpjob.check_request(cwd, argv, ctx.policy.check, ctx.prober)
    except pumpjob.JobRefused as exc:
        raise _Abort(exc.result, exc.ret, str(exc)) from None
    outcome.compiler, outcome.source = request.job.compiler, request.job.source
    space = pumpjob.Workspace(ctx.tmp_dir, request.facts)
    try:
        try:
            pumpjob.read_v3_entries(reader, space.mirror)
            log.info(
                "pump job: %d files, %d links in %s",
                space.mirror.files,
                len(space.mirror.links),
                space.root,
            )
        except BadName as exc:
            raise _Abort(Result.REJ_BAD_REQ, ExitCode.PROTOCOL_ERROR, f"refused: {exc}") from None
        if request.job.dwo is not None:
            done = pumpjob.split_dwarf_refusal()
        else:
            done = run_pump_compile(conn, ctx, request, space)
        conn.send(pumpjob.v3_reply(version, done))
        _record(outcome, done.status, done.ended)
    finally:
        space.remove(ctx.save_temps)


def _serve_native(conn: Connection, ctx: JobContext, reader: Reader, outcome: Outcome) -> None:
    """The native protocol: like protocol 3, files by digest through the content store;
    refusals are explicit (``ERRR``)."""
    try:
        cwd = reader.read_string(CDIR)
        argv = _read_argv(reader)
        assert ctx.prober is not None
        request = pumpjob.check_request(cwd, argv, ctx.policy.check, ctx.prober)
        outcome.compiler, outcome.source = request.job.compiler, request.job.source
        entries = native.read_request_entries(reader, ctx.content_store(), conn.send)
    except pumpjob.JobRefused as exc:
        _refuse(conn, str(exc))
        raise _Abort(exc.result, exc.ret, str(exc)) from None
    except BadName as exc:
        _refuse(conn, f"refused: {exc}")
        raise _Abort(Result.REJ_BAD_REQ, ExitCode.PROTOCOL_ERROR, f"refused: {exc}") from None
    except TruncatedError:
        raise
    except ProtocolError as exc:
        _refuse(conn, f"bad request: {exc}")
        raise
    store = ctx.content_store()
    cache, key = ctx.result_cache(), None
    if cache is not None:
        key = results.job_key(
            sandboxed=ctx.sandbox is not None,
            program=request.program,
            search_path=ctx.env.get("PATH", os.defpath),
            argv=argv,
            cwd=cwd,
            entries=entries,
        )
        cached = cache.get(key) if key else None
        if cached is not None:
            conn.send(native.need_packets(native.Plan()) + cached + native.origin_packet(True))
            log.info("native job: %d entries, the reply of an identical job", len(entries))
            outcome.cached = True
            _record(outcome, 0, runner.Ended.EXITED)
            return
    digests = [e.digest for e in entries if e.digest]
    with store.pinned(digests):
        plan = native.plan(entries, store, ctx.own_files, request.facts.include_dirs)
        conn.send(native.need_packets(plan))
        try:
            native.read_blobs(reader, plan, store, pumpjob.MAX_TOTAL_BYTES)
        except TruncatedError:
            raise
        except ProtocolError as exc:
            _refuse(conn, f"bad request: {exc}")
            raise
        space = pumpjob.Workspace(ctx.tmp_dir, request.facts)
        try:
            try:
                native.populate(space.mirror, entries, plan, store, ctx.sandbox is not None)
                back: list[str] = []
                if plan.system_mismatch and ctx.sandbox is None:
                    back = native.system_args(space.mirror, request.facts)
            except BadName as exc:
                _refuse(conn, f"refused: {exc}")
                raise _Abort(
                    Result.REJ_BAD_REQ, ExitCode.PROTOCOL_ERROR, f"refused: {exc}"
                ) from None
            log.info(
                "native job: %d entries, %d received, system headers %s",
                len(entries),
                len(plan.need),
                "sent by the client" if plan.system_mismatch else "the server's own",
            )
            try:
                done = run_pump_compile(conn, ctx, request, space, (), tuple(back))
            except _Abort as exc:
                _refuse(conn, str(exc))
                raise
            reply = native.reply_packets(
                done.status, done.stderr, done.stdout, done.obj, done.dotd, done.dwo
            )
            conn.send(reply + native.origin_packet(False))
            _record(outcome, done.status, done.ended)
            cacheable = not _capture.lines and not results.uses_time_macros(argv)
            if cache is not None and key and done.status == 0 and cacheable:
                shipped = plan.system_mismatch
                files = [
                    (
                        e.digest,
                        space.mirror.server_path(e.path) if e.kind == "F" or shipped else e.path,
                    )
                    for e in entries
                    if e.digest
                ]
                if not ctx.time_macros.any_in(files):
                    cache.put(key, reply)
        finally:
            space.remove(ctx.save_temps)


def _refuse(conn: Connection, message: str) -> None:
    """``ERRR`` (native protocol), best effort: the client may be gone already."""
    try:
        conn.send(native.error_packet(message))
    except OSError:
        pass


def run_pump_compile(
    conn: Connection,
    ctx: JobContext,
    request: pumpjob.PumpRequest,
    space: pumpjob.Workspace,
    front: tuple[str, ...] = (),
    back: tuple[str, ...] = (),
) -> pumpjob.Compiled:
    """Compile in the mirror root under a slot; the shared tail of protocol 3 and native.

    Under ``--sandbox`` the root becomes the compiler's ``/`` (daemon/chroot.py)."""
    sandbox = ctx.sandbox

    def run(argv: list[str], cwd: str) -> runner.Run:
        if sandbox is None:
            return _run_in_slot(conn, ctx, argv, cwd, space.job_dir)

        def wrap(argv: list[str], cwd: str) -> list[str]:
            assert sandbox is not None
            include, toolchain = chroot.job_dirs(request.job, request.cwd)
            layout = chroot.build(
                space.mirror,
                space.job_dir,
                request.cwd,
                sandbox.find(argv[0]),
                sandbox.pump_binds,
                (*request.facts.include_dirs, *include),
                sandbox.search_path,
                toolchain,
            )
            return sandbox.wrap_root(argv, layout)

        return _run_in_slot(conn, ctx, argv, space.job_dir, space.job_dir, wrap=wrap)

    try:
        done = pumpjob.compile_in_root(
            request, space, run, front, back, chrooted=sandbox is not None
        )
    except BadName as exc:
        raise _Abort(Result.REJ_BAD_REQ, ExitCode.PROTOCOL_ERROR, f"refused: {exc}") from None
    status = done.status
    if ctx.stopping.is_set() and (os.WIFSIGNALED(status) or done.ended == runner.Ended.CLIENT_GONE):
        raise _Abort(Result.OTHER, ExitCode.DISTCC_FAILED, "daemon shutting down")
    if done.ended == runner.Ended.CLIENT_GONE:
        raise _Abort(Result.CLI_DISCONN, ExitCode.IO_ERROR, "client disconnected, compiler killed")
    captured = _capture.lines or []
    if captured:
        done.stderr = "".join(line + "\n" for line in captured).encode() + done.stderr
    return done


def _record(outcome: Outcome, status: int, ended: str) -> None:
    outcome.status = status
    if ended == runner.Ended.TIMED_OUT:
        outcome.result = Result.COMPILE_TIMEOUT
    else:
        outcome.result = Result.COMPILE_OK if status == 0 else Result.COMPILE_ERROR


def _serve_plain(
    conn: Connection, ctx: JobContext, reader: Reader, version: int, outcome: Outcome
) -> None:
    """Protocols 1 and 2: ``ARGC``/``ARGV`` then ``DOTI`` (already preprocessed)."""
    argv = _read_argv(reader)
    command = prepare(argv)
    if isinstance(command, Refused):
        raise _Abort(Result.OTHER, ExitCode.BAD_ARGUMENTS, f"refused {argv[0]}: {command.reason}")
    program = ctx.policy.check(command.compiler)
    if isinstance(program, Refusal):
        raise _Abort(Result.OTHER, ExitCode.BAD_ARGUMENTS, f"refused: {program.reason}")
    outcome.compiler, outcome.source = command.compiler, command.source
    job_dir = tempfile.mkdtemp(prefix="distccd_", dir=ctx.tmp_dir)
    try:
        _compile_and_reply(conn, ctx, reader, version, command, program, job_dir, outcome)
    finally:
        if ctx.save_temps:
            log.info("DISTCC_SAVE_TEMPS: keeping %s", job_dir)
        else:
            shutil.rmtree(job_dir, ignore_errors=True)


def _compile_and_reply(
    conn: Connection,
    ctx: JobContext,
    reader: Reader,
    version: int,
    command: ServerCommand,
    program: str,
    job_dir: str,
    outcome: Outcome,
) -> None:
    input_path = os.path.join(job_dir, "input" + command.input_suffix)
    output_path = os.path.join(job_dir, "output.o")
    language = PIPED_LANGUAGES.get(command.input_suffix)
    if language is not None and not _gcc(program, ctx.env.get("PATH", os.defpath)):
        language = None  # clang names a source read from stdin "-" in its debug info
    if language is not None and ctx.early.acquire(blocking=False):
        # Start the compiler now, on a pipe, before the preprocessed source arrives, so
        # that its start-up overlaps the client's cpp run.  It takes no compile slot while
        # it waits for its input (it uses no CPU then; holding a slot through the client's
        # cpp would idle that slot): the slot is taken once the source is here, before the
        # compiler is fed.  At most ``jobs`` compilers wait like this (for their source or
        # for their slot), so at most twice ``jobs`` are alive.
        early = [True]

        def slot_taken() -> None:  # it runs under its slot from now on
            early[0] = False
            ctx.early.release()

        argv = _piped(command.argv(program, input_path, output_path), input_path, language)
        try:
            ran = _run_in_slot(
                conn,
                ctx,
                argv,
                job_dir,
                job_dir,
                feed=lambda: _receive_source(reader, version, input_path, ctx.save_temps),
                on_slot=slot_taken,
            )
        finally:
            if early[0]:
                ctx.early.release()
    else:
        _receive_source(reader, version, input_path, keep=True)
        argv = command.argv(program, input_path, output_path)
        ran = _run_in_slot(conn, ctx, argv, job_dir, job_dir)
    status = outcome.status = ran.status
    if ctx.stopping.is_set() and (os.WIFSIGNALED(status) or ran.ended == runner.Ended.CLIENT_GONE):
        # We killed it (or cut the connection): no reply, so that the client retries
        # elsewhere instead of reporting a compiler crash.
        raise _Abort(Result.OTHER, ExitCode.DISTCC_FAILED, "daemon shutting down")
    if ran.ended == runner.Ended.CLIENT_GONE:
        raise _Abort(Result.CLI_DISCONN, ExitCode.IO_ERROR, "client disconnected, compiler killed")
    stderr = ran.stderr
    captured = _capture.lines or []
    if captured:
        stderr = "".join(line + "\n" for line in captured).encode() + stderr
    ok = status == 0
    reply = Reply(
        version,
        status,
        stderr=stderr,
        stdout=ran.stdout,
        obj=_read(output_path) if ok else b"",
    )
    conn.send(reply_packets(reply))
    if ran.ended == runner.Ended.TIMED_OUT:
        outcome.result = Result.COMPILE_TIMEOUT
    else:
        outcome.result = Result.COMPILE_OK if ok else Result.COMPILE_ERROR


# cpp-output extension -> the -x language that reads it from a pipe without preprocessing.
PIPED_LANGUAGES = {
    ".i": "cpp-output",
    ".ii": "c++-cpp-output",
    ".mi": "objective-c-cpp-output",
    ".mii": "objective-c++-cpp-output",
}


def _receive_source(reader: Reader, version: int, input_path: str, keep: bool) -> bytes:
    """The preprocessed source (``DOTI``); also on disk when temp files are kept."""
    source = reader.read_bulk(DOTI, compresses(version))
    if keep:
        with open(input_path, "wb") as f:
            f.write(source)
    return source


def _gcc(program: str, search_path: str) -> bool:
    """Is ``program`` (a path, or a name on ``search_path``) gcc's own driver?  Only gcc is
    given its source on stdin: from stdin, clang names the unit "-" in debug info (from a
    file it takes the linemarkers' name, as gcc does either way), and a wrapper (ccache,
    ``cc`` pointing at clang) may be anything."""
    found = program if "/" in program else shutil.which(program, path=search_path)
    if not found:
        return False
    name = os.path.basename(os.path.realpath(found))
    return "gcc" in name or "g++" in name


def _piped(argv: list[str], input_path: str, language: str) -> list[str]:
    """``argv`` reading its source from stdin: ``-pipe -x LANG -`` in place of the temp file.

    With gcc, compiling ``-x cpp-output -`` gives the same object as compiling ``input.i``:
    the names in debug info and diagnostics come from the linemarkers, not the input's
    name (not so with clang: ``_gcc``).
    ``-pipe`` makes the driver start the assembler at once, reading the compiler's output
    from a pipe, so the assembler's start-up also happens while the source is on its way
    (1.7-1.9 ms less per small job here; the object is the same).  gcc only (``_gcc``).
    """
    i = argv.index(input_path)
    return [*argv[:i], "-pipe", "-x", language, "-", *argv[i + 1 :]]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def _run_in_slot(
    conn: Connection,
    ctx: JobContext,
    argv: list[str],
    cwd: str,
    job_dir: str,
    feed: Callable[[], bytes] | None = None,
    wrap: Callable[[list[str], str], list[str]] | None = None,
    on_slot: Callable[[], None] | None = None,
) -> runner.Run:
    """Run the compiler under one of the ``--jobs`` slots, watching the client; the slot
    is released afterwards.  ``on_slot()`` runs once the slot is held.

    Without ``feed``, the slot is waited for before the compiler starts.  With ``feed``
    (the rest of the request: the source), the compiler starts at once on a pipe
    (runner.run) and the slot is waited for once ``feed()`` has the source, before the
    compiler gets it: a compiler waiting for its input uses no CPU and holds no slot.

    The compiler's own temporary files (gcc's ``cc*.s``) go into ``job_dir`` through
    ``TMPDIR``, so that a compiler killed mid-job leaves nothing behind once the job
    directory is removed."""
    holding = False

    def wait_for_slot() -> None:
        nonlocal holding
        if not _take_slot(conn, ctx):
            if ctx.stopping.is_set():
                raise _Abort(Result.OTHER, ExitCode.DISTCC_FAILED, "daemon shutting down")
            raise _Abort(Result.CLI_DISCONN, ExitCode.IO_ERROR, "client disconnected while queued")
        holding = True
        if on_slot is not None:
            on_slot()

    fed: Callable[[], bytes] | None = None
    if feed is None:
        wait_for_slot()
    else:
        source = feed

        def fed() -> bytes:
            data = source()
            wait_for_slot()
            return data

    try:
        return runner.run(
            argv,
            env={**ctx.env, "TMPDIR": job_dir},
            cwd=cwd,
            watch=conn,
            registry=ctx.registry,
            lifetime=ctx.job_lifetime,
            clock=ctx.clock,
            feed=fed,
            wrap=wrap,
        )
    finally:
        if holding:
            ctx.slots.release()


def _take_slot(conn: Connection, ctx: JobContext) -> bool:
    """Wait for a compile slot; False if the client went away meanwhile."""
    if ctx.slots.acquire(blocking=False):
        return True
    poller = select.poll()
    poller.register(conn.watch_fd, WATCH_EVENTS)
    while not ctx.stopping.is_set():
        if ctx.slots.acquire(timeout=0.2):
            return True
        for _, events in poller.poll(0):
            if conn.gone(events):
                return False
    return False
