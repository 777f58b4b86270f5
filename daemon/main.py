"""``distccd``: parse options, set up, then serve (standalone or inetd).

The order of start-up matters and follows distcc 3.4's ``daemon.c``, with binding moved
before the privilege drop (so ``--port`` below 1024 works) and before detaching:

1. options (bad ones: exit 101, nothing written);
2. access list, compiler policy, environment (``DISTCCD_PATH``, ``DISTCC_IO_TIMEOUT``,
   ``DISTCC_CMDLIST``), the masquerade check (exit 110 if nothing could ever be allowed);
3. bind the compile (and stats) port: failure exits 102;
4. drop root (``--user``, else distcc, distccd, nobody), switch to the real log,
   ``chdir($TMPDIR)``;
5. detach unless ``--no-detach``: the parent exits 0 only once the child has written the
   pid file, so a script may use the daemon as soon as ``distccd --daemon`` returns;
6. serve until SIGTERM or ``--lifetime``; remove the pid file.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Sequence

from common.compress import lzo_compress, lzo_decompress
from common.exitcodes import ExitCode
from daemon import logs, runner
from daemon.access import AccessError, AccessList
from daemon.allowlist import CompilerPolicy
from daemon.chroot import PUMP_BINDS
from daemon.job import JobContext, serve
from daemon.options import Config, OptionError, parse, usage_text, version_text
from daemon.privileges import PrivilegeError, discard_root
from daemon.results import DEFAULT_MAX_BYTES as RESULTS_MAX_BYTES
from daemon.sandbox import DEFAULT_BINDS, Sandbox
from daemon.server import Server, bind_listener, detach, remove_pid_file, write_pid_file
from daemon.stats import Stats
from daemon.store import DEFAULT_MAX_BYTES
from daemon.transport import PipeConnection, SocketConnection, peer_name

log = logging.getLogger(__name__)

DEFAULT_IO_TIMEOUT = 300
# A connection silent this long mid-request gives its place to a newcomer when all are
# taken (daemon/server.py); half of DISTCC_IO_TIMEOUT when that is shorter.
EVICT_AFTER = 10.0
COMPILER_ENV_DROPPED = ("DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES")


class _Exit(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    logs.setup_startup()
    try:
        config = parse(args, os.cpu_count() or 1)
    except OptionError as exc:
        print(f"distccd: {exc}", file=sys.stderr)
        return exc.code
    if config.action == "help":
        sys.stdout.write(usage_text())
        return 0
    if config.action == "version":
        sys.stdout.write(version_text())
        return 0
    logs.setup_startup(config.log_level)
    try:
        return _serve(config)
    except _Exit as exc:
        log.critical("%s", exc)
        return exc.code


def _stdin_is_socket() -> bool:
    return logs.fd_is_socket(0)


def _io_timeout(env: dict[str, str]) -> float:
    text = env.get("DISTCC_IO_TIMEOUT")
    if text is None:
        return DEFAULT_IO_TIMEOUT
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise _Exit(ExitCode.BAD_ARGUMENTS, f"Bad DISTCC_IO_TIMEOUT value: {text}")
    return value


def _size_in_mib(env: dict[str, str], name: str, default: int) -> int:
    """A size setting in MiB from the environment (``DISTCCD_STORE_SIZE``: the content
    store, default 1024; ``DISTCCD_RESULT_CACHE_SIZE``: the result cache, default 256, 0
    turns it off), in bytes; ``default`` (bytes) when unset."""
    text = env.get(name, "")
    if not text:
        return default
    if not text.isdigit():
        raise _Exit(ExitCode.BAD_ARGUMENTS, f"Bad {name} value: {text}")
    return int(text) << 20


def _tmp_dir(env: dict[str, str]) -> str:
    return os.path.abspath(env.get("TMPDIR") or "/tmp")


def _preload_pump_modules() -> None:
    """Pump mode's lazily imported modules, loaded while root can still read them: lz4
    (native protocol), objrewrite and its backends (the safety net), the hash."""
    import errno  # noqa: F401
    import hashlib  # noqa: F401
    import stat  # noqa: F401

    import lz4.frame

    import objrewrite
    import objrewrite.dwarf.paths
    import objrewrite.elf.backend
    import objrewrite.elf.compression
    import objrewrite.macho

    lz4.frame.LZ4FrameDecompressor().decompress(lz4.frame.compress(b"warm up"), max_length=64)
    for backend in objrewrite.api.BACKENDS:
        backend.scan  # noqa: B018  (imports the module behind it)


def _serve(config: Config) -> int:
    for warning in config.warnings:
        log.warning("%s", warning)
    env = dict(os.environ)
    for name in COMPILER_ENV_DROPPED:  # would make gcc write .d files wherever they say
        env.pop(name, None)
    inetd = config.inetd or (not config.daemon and _stdin_is_socket())
    allow_private = config.allow_private
    if not inetd and not config.allow and not allow_private:
        log.info("no --allow option: defaulting to --allow-private")
        allow_private = True
    try:
        acl = AccessList.build(config.allow, allow_private)
    except AccessError as exc:
        raise _Exit(ExitCode.BAD_ARGUMENTS, str(exc)) from None
    check_peer = not inetd or bool(config.allow or config.allow_private)
    try:
        policy = CompilerPolicy.build(config.enable_tcp_insecure, config.allow_compiler, env)
    except OSError as exc:
        raise _Exit(ExitCode.IO_ERROR, f"cannot read DISTCC_CMDLIST: {exc}") from None
    problem = policy.startup_problem()
    if problem:
        raise _Exit(ExitCode.COMPILER_MISSING, problem)
    io_timeout = _io_timeout(env)
    if env.get("DISTCCD_PATH") is not None:
        os.environ["PATH"] = env["PATH"] = env["DISTCCD_PATH"]
    else:
        log.info("daemon's PATH is %s", env.get("PATH", "(NULL)"))
    for directory in env.get("PATH", "").split(":"):
        if directory and os.path.realpath(directory) in policy.masquerade_dirs:
            log.warning(
                "%s is on the daemon's PATH: compilers found there are links to distcc "
                "itself (set DISTCCD_PATH)",
                directory,
            )
    tmp_dir = _tmp_dir(env)
    pid_file = os.path.abspath(config.pid_file) if config.pid_file else None
    log_file = os.path.abspath(config.log_file) if config.log_file else None
    try:
        os.nice(config.nice)
    except OSError as exc:
        log.warning("nice %d failed: %s", config.nice, exc.strerror)

    listener = stats_listener = None
    if not inetd:
        defer = env.get("DISTCC_TCP_DEFER_ACCEPT", "1") != "0"
        for port, what in [(config.port, "compile")] + (
            [(config.stats_port, "stats")] if config.stats else []
        ):
            try:
                sock = bind_listener(config.listen, port, defer and what == "compile")
            except OSError as exc:
                address = config.listen or "127.0.0.1"
                raise _Exit(
                    ExitCode.BIND_FAILED, f"bind of {address}:{port} failed: {exc.strerror}"
                ) from None
            if what == "compile":
                listener = sock
            else:
                stats_listener = sock
    # Everything imported lazily must be imported now: once root is dropped, the
    # interpreter's own library directory may not be readable (e.g. under /root).
    import lzo  # noqa: F401  (protocols 2 and 3)

    # Libraries imported lazily elsewhere must be loaded while we can still read them:
    # after dropping root, an interpreter installed under /root may be out of reach.
    lzo_decompress(lzo_compress(b"warm up"), 64)
    _preload_pump_modules()
    try:
        discard_root(config.user)
    except PrivilegeError as exc:
        raise _Exit(ExitCode.SETUID_FAILED, str(exc)) from None
    logs.setup(config.log_level, config.log_stderr, log_file)
    try:
        os.chdir(tmp_dir)
    except OSError as exc:
        raise _Exit(ExitCode.IO_ERROR, f"failed to chdir to {tmp_dir}: {exc.strerror}") from None

    sandbox = _sandbox(config, tmp_dir, env)
    registry = runner.ProcessRegistry(wrap=sandbox.wrap if sandbox else None)
    ctx = JobContext(
        sandbox=sandbox,
        policy=policy,
        registry=registry,
        stats=Stats(config.jobs),
        slots=threading.BoundedSemaphore(config.jobs),
        early=threading.BoundedSemaphore(config.jobs),
        tmp_dir=tmp_dir,
        env=env,
        clock=time.monotonic,
        job_lifetime=config.job_lifetime,
        save_temps=env.get("DISTCC_SAVE_TEMPS") == "1",
        store_max_bytes=_size_in_mib(env, "DISTCCD_STORE_SIZE", DEFAULT_MAX_BYTES),
        result_cache_max_bytes=_size_in_mib(env, "DISTCCD_RESULT_CACHE_SIZE", RESULTS_MAX_BYTES),
    )
    if inetd:
        return _serve_inetd(ctx, acl if check_peer else None, io_timeout)

    assert listener is not None

    def ready() -> int:
        if pid_file:
            try:
                write_pid_file(pid_file, os.getpid())
            except OSError as exc:
                log.critical("failed to write pid file %s: %s", pid_file, exc.strerror)
                return ExitCode.IO_ERROR
        return 0

    if config.no_detach:
        code = ready()
    else:
        in_parent, code = detach(config.log_stderr, ready)
        if in_parent:
            listener.close()
            if stats_listener is not None:
                stats_listener.close()
            return code
    if code:
        return code
    server = Server(
        listener,
        ctx,
        acl,
        io_timeout=io_timeout,
        stats_listener=stats_listener,
        lifetime=config.lifetime,
        idle_lifetime=config.idle_lifetime,
        no_fork=config.no_fork,
        max_connections=max(64, 8 * config.jobs),
        evict_after=min(EVICT_AFTER, io_timeout / 2),
        clock=time.monotonic,
    )
    server.install_signal_handlers()
    log.info(
        "listening on %s:%d (jobs %d, allowed %s)",
        config.listen or "127.0.0.1",
        config.port,
        config.jobs,
        acl,
    )
    try:
        server.run()
    finally:
        if pid_file:
            remove_pid_file(pid_file, os.getpid())
    return 0


def _sandbox(config: Config, tmp_dir: str, env: dict[str, str]) -> Sandbox | None:
    """The sandbox for ``--sandbox``, checked once here (after root is gone).

    Without namespace support: exit 100 with the reason, or, with ``--sandbox-optional``,
    a warning and no sandbox.
    """
    if not config.sandbox:
        return None
    sandbox = Sandbox(
        tmp_dir,
        DEFAULT_BINDS + config.sandbox_bind,
        env.get("DISTCCD_UNSHARE", "unshare"),
        PUMP_BINDS + config.sandbox_bind,
        env.get("PATH", "/usr/bin:/bin"),
    )
    problem = sandbox.probe()
    if problem is None:
        log.info(
            "sandbox: compilers run in namespaces; toolchain for plain jobs %s, pump jobs %s",
            " ".join(sandbox.binds),
            " ".join(sandbox.pump_binds),
        )
        return sandbox
    if config.sandbox_optional:
        log.warning("--sandbox: %s; running compilers UNSANDBOXED (--sandbox-optional)", problem)
        return None
    raise _Exit(ExitCode.DISTCC_FAILED, f"--sandbox: {problem} (--sandbox-optional to run anyway)")


def _serve_inetd(ctx: JobContext, acl: AccessList | None, io_timeout: float) -> int:
    import socket

    conn: SocketConnection | PipeConnection
    if _stdin_is_socket():
        sock = socket.socket(fileno=os.dup(0))
        try:
            peer_address = sock.getpeername()
        except OSError:
            peer_address = ("(unknown)", 0)
        peer = peer_name(peer_address)
        if acl is not None and not acl.allows(str(peer_address[0])):
            log.error("connection from client '%s' denied by access list", peer)
            sock.close()
            return ExitCode.ACCESS_DENIED
        conn = SocketConnection(sock, peer, io_timeout)
    else:
        conn = PipeConnection(0, 1, "(stdin)")
    try:
        serve(conn, ctx)
    finally:
        conn.close()
    return 0
