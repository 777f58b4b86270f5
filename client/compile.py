"""One compile, start to finish: where it runs, the remote attempt, and every fallback.

The ladder, for a command that ``classify`` accepted:

1. Preprocess locally once (plain mode), into a temp ``.i``; the ``.d`` file, when one is
   wanted, is written by this cpp run under ``-MF <temp beside the real .d> -MT <target>``,
   so it names the right file and target (distcc names them after the source).
   A cpp failure is the user's error: the command is run locally as written, so the user
   sees exactly the diagnostics of a local compile, and no host is blamed.
2. Pick a host slot (list order, slot 0 everywhere first, hosts in backoff skipped).
   ``localhost`` means compile here under that slot.
3. Send the request (protocol 1 or 2 by host).  A transport or protocol failure backs the
   host off and the same ``.i`` goes to the next host; with no host left, compile locally
   (reason ``no-hosts`` / ``all-hosts-failed``), or fail under ``DISTCC_FALLBACK=0``.
4. Remote compile error: rerun locally as distcc does (``DISTCC_SKIP_LOCAL_RETRY`` makes the
   remote error final; ``DISTCC_FALLBACK=0`` too).  The host is backed off only if the
   local result differs (the server was at fault), never for the user's own error.

Outputs are renamed into place (``client.outputs``); a job's stderr (cpp's and the server's)
is written in one piece.  Every path that does not end in a remote compile records a
``Fallback`` reason in ``Outcome`` for the log line and for ``pump``'s summary.
"""

from __future__ import annotations

import os
import sys

from client import directcpp, discard, log, take_speculation
from client.hosts import NATIVE
from client.outputs import move_into_place, sibling_temp, write_atomically
from client.proc import held_signals, spawn, wait, which, write_all
from common.compiler.job import preprocessed_extension
from common.compiler.rewrite import local_cpp_argv
from common.exitcodes import DistccError, ExitCode, exit_code_from_wait_status
from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from client.config import Config
    from client.hosts import Host
    from client.proc import TempFiles
    from client.slots import FileSlots, _Held
    from client.transport import Connection
    from common.compiler.job import CompileJob
    from common.protocol import Reply


class Fallback:
    """Named reasons a job did not compile remotely (stable strings, counted by pump)."""

    NO_HOSTS = "no-hosts"  # empty host list, or every host backed off / down
    ALL_HOSTS_FAILED = "all-hosts-failed"  # every host tried failed in transport
    LOCALHOST_SLOT = "localhost-slot"  # the slot won was `localhost`
    CPP_FAILED = "cpp-failed"  # local preprocessing failed: the user's error
    REMOTE_ERROR_RETRY = "remote-error-retried"  # remote compile failed, retried here
    SPLIT_DWARF = "split-dwarf"  # protocols 1-3 cannot return a .dwo
    # Pump mode demoted to plain mode for one job:
    PUMP_PREPROCESSED = "pump-preprocessed-input"  # a .i/.ii source (ccache)
    PUMP_CPATH = "pump-cpath-set"  # CPATH, C_INCLUDE_PATH or CPLUS_INCLUDE_PATH
    PUMP_NO_INCLUDE_SERVER = "pump-no-include-server"  # INCLUDE_SERVER_PORT unset
    PUMP_NOT_COVERED = "pump-not-covered"  # the include server could not help
    PUMP_STALE_FILE = "pump-stale-file"  # a header changed after the include server read it
    # Plus every LocalReason of the command-line model (not-compile, preprocess-only...).


class RemoteFailure(Exception):
    """The host failed (transport, protocol, refusal): back it off, try another.

    Defined here, not in ``client.remote``, so that catching it does not import the
    network modules before cpp has been started."""


class Outcome:
    """What happened to the job, for the summary log line and for pump's counts."""

    __slots__ = (
        "bytes_received",
        "bytes_sent",
        "cached",
        "fallback",
        "files_offered",
        "files_sent",
        "host",
        "mode",
        "pump_fallback",
        "where",
    )

    def __init__(self) -> None:
        self.where = "local"  # "remote" or "local"
        self.mode = ""  # for remote jobs: "pump" or "plain"
        self.pump_fallback = ""  # why a pump host got a plain-mode job
        self.host = ""
        self.fallback = ""  # a Fallback / LocalReason value, "" when remote
        self.bytes_sent = 0
        self.bytes_received = 0
        self.files_offered = 0  # native protocol: files named by digest ...
        self.files_sent = 0  # ... and those the daemon lacked
        self.cached = False  # native protocol: the daemon's stored reply of an identical job


class Compiler:
    """Runs one job through the ladder above.  ``slots`` hands out host slots and locks."""

    def __init__(self, cfg: Config, env: dict[str, str], tmp: TempFiles, slots: FileSlots) -> None:
        self.cfg = cfg
        self.env = env
        self.tmp = tmp
        self.slots = slots
        self.outcome = Outcome()

    # ------------------------------------------------------------------ local runs
    def run_local(self, argv: tuple[str, ...], reason: str, capture: bool = True) -> int:
        """Run ``argv`` here (under a local slot); return the exit code to end with."""
        self.outcome.where = "local"
        self.outcome.fallback = self.outcome.fallback or reason
        abandon_speculation(self.tmp)
        with self.slots.local():
            return self._run_here(argv, capture)

    def _run_here(self, argv: tuple[str, ...], capture: bool) -> int:
        err_fd = None
        err_path = ""
        if capture:
            err_path, err_fd = self.tmp.create("distcc_stderr_", ".txt")
        try:
            try:
                with held_signals():
                    pid = spawn(argv, self.env, stderr_fd=err_fd, stdout_fd=None, stdin_fd=0)
                    self.tmp.children.append(pid)
            except OSError as exc:
                log.error(f"failed to exec {argv[0]}: {exc.strerror}")
                return ExitCode.COMPILER_MISSING
            status = wait(pid)
            self.tmp.children.remove(pid)
        finally:
            if err_fd is not None:
                os.close(err_fd)
        if capture:
            with open(err_path, "rb") as f:
                diagnostics = f.read()
            if diagnostics:
                write_all(2, diagnostics)
        return exit_code_from_wait_status(status)

    # ------------------------------------------------------------------ the ladder
    def compile(self, job: CompileJob) -> int:
        # Pump hosts keep each source on one daemon across builds (its store has the files).
        affinity = os.path.join(os.getcwd(), job.source) if self._pump_hosts() else ""
        host = self.slots.acquire_remote(affinity=affinity)
        if host is None:
            reason = self.slots.failure or Fallback.NO_HOSTS
            if self.env.get("DISTCC_PUMP_STRICT") == "1":
                # Every host backed off: distcc compiles locally even with
                # DISTCC_FALLBACK=0, but ``pump --strict`` promises no fallback at all.
                self.outcome.fallback = reason
                log.error("no host available and fallbacks are disabled (pump --strict)")
                return ExitCode.DISTCC_FAILED
            return self.run_local(job.argv, reason)
        cpp = Preprocessed(self, job)
        tried: set[str] = set()
        try:
            while host is not None:
                if host.is_local:
                    cpp.discard()
                    return self._run_in_localhost_slot(job)
                tried.add(host.spec)
                try:
                    if host.cpp_on_server and self._pump_possible(job):
                        reply = self._pump_attempt(job, host)
                        if reply is not None:
                            self.slots.release_remote()
                            return self._finish_remote(job, host, None, reply)
                    if job.dwo is not None:
                        # Protocols 1-3 cannot bring back a .dwo.
                        self.slots.release_remote()
                        cpp.discard()
                        return self.run_local(job.argv, Fallback.SPLIT_DWARF)
                    if not cpp.started:
                        code = self._preprocess_and_open(job, host, cpp)
                        if isinstance(code, int):
                            return code
                        conn: Connection = code
                    else:
                        from client import remote

                        conn = remote.open_request(
                            job, host, self.cfg, min(host.protocol, 2), self.env
                        )
                    from client import remote  # already imported in the shadow of cpp

                    reply = remote.exchange(
                        conn,
                        min(host.protocol, 2),
                        cpp.data(),
                        self.outcome,
                        while_waiting=cpp.record_translation,
                    )
                except RemoteFailure as exc:
                    log.warning(f"failed to distribute {job.source} to {host.spec}: {exc}")
                    self.slots.backoff(host)
                    self.slots.release_remote()
                    host = self.slots.acquire_remote(exclude=tried, affinity=affinity)
                    continue
                self.slots.release_remote()
                self.outcome.mode = "plain"
                return self._finish_remote(job, host, cpp, reply)
            cpp.discard()
            if not self.cfg.fallback:
                self.outcome.fallback = Fallback.ALL_HOSTS_FAILED  # counted, not run
                log.error("failed to distribute and fallbacks are disabled")
                return ExitCode.DISTCC_FAILED
            log.warning("failed to distribute, running locally instead")
            return self.run_local(job.argv, Fallback.ALL_HOSTS_FAILED)
        finally:
            cpp.discard()

    def _preprocess_and_open(
        self, job: CompileJob, host: Host, cpp: Preprocessed
    ) -> Connection | int:
        """Run cpp while connecting and sending the request head, as distcc does.

        Returns the open connection, or the exit code of the local compile that replaced
        the job because cpp failed (the user's error: no host is blamed).
        """
        cpp.start()
        from client import remote  # the network modules load while cpp runs

        conn: Connection | RemoteFailure
        try:
            conn = remote.open_request(job, host, self.cfg, min(host.protocol, 2), self.env)
        except RemoteFailure as exc:
            conn = exc
        if not cpp.finish():
            if not isinstance(conn, RemoteFailure):
                conn.close()
            self.slots.release_remote()
            cpp.discard()
            return self.run_local(job.argv, Fallback.CPP_FAILED)
        if isinstance(conn, RemoteFailure):
            raise conn
        return conn

    def _pump_possible(self, job: CompileJob) -> bool:
        """Can this job use pump mode at all?  If not, record why (plain mode follows)."""
        reason = ""
        if job.preprocessed:
            reason = Fallback.PUMP_PREPROCESSED
        elif self.cfg.pump_disabled_by_env:
            reason = Fallback.PUMP_CPATH
        elif not self.cfg.include_server_port:
            reason = Fallback.PUMP_NO_INCLUDE_SERVER
        if reason:
            self._pump_fallback(reason, reason, warn=False)
            return False
        return True

    def _pump_fallback(self, reason: str, detail: str, warn: bool = True, shown: str = "") -> None:
        """Record a demotion to plain mode and (``warn``) say so: ``shown`` or ``detail``,
        then "preprocessing locally".  Under ``pump --strict`` it fails the job instead."""
        self.outcome.pump_fallback = reason
        if self.env.get("DISTCC_PUMP_STRICT") == "1":
            raise DistccError(
                ExitCode.DISTCC_FAILED, f"pump mode not possible ({detail}) and --strict is set"
            )
        if warn:
            log.warning(f"{shown or detail}; preprocessing locally")

    def _pump_attempt(self, job: CompileJob, host: Host) -> Reply | None:
        """Protocol 3 with the include server's closure; None means "use plain mode"."""
        from client import pumpmode, remote

        port = self.cfg.include_server_port or ""
        cwd = os.getcwd()
        if host.protocol == NATIVE:
            return self._native_attempt(job, host, port, cwd)
        try:
            with self.slots.local_cpp():
                paths = pumpmode.ask_include_server(port, cwd, job.argv)
        except pumpmode.NotCovered as exc:
            self._pump_fallback(Fallback.PUMP_NOT_COVERED, str(exc))
            return None
        try:
            payload = pumpmode.request(job, cwd, paths)
        except OSError as exc:
            self._pump_fallback(
                Fallback.PUMP_NOT_COVERED,
                str(exc),
                shown=f"failed to read the include server's files: {exc}",
            )
            return None
        reply = remote.send_whole(host, self.cfg, payload, 3, self.outcome, self.env)
        self.outcome.mode = "pump"
        return reply

    def _pump_hosts(self) -> bool:
        return any(h.cpp_on_server for h in self.slots.hosts.hosts)

    def _run_in_localhost_slot(self, job: CompileJob) -> int:
        abandon_speculation(self.tmp)
        self.outcome.where = "local"
        self.outcome.fallback = Fallback.LOCALHOST_SLOT
        try:
            return self._run_here(job.argv, capture=True)
        finally:
            self.slots.release_remote()

    def _finish_remote(
        self, job: CompileJob, host: Host, cpp: Preprocessed | None, reply: Reply
    ) -> int:
        remote_code = exit_code_from_wait_status(reply.status)
        cpp_stderr = cpp.stderr if cpp is not None else b""
        if reply.status == 0:
            write_atomically(self.tmp, job.output, reply.obj)
            if cpp is not None:
                cpp.commit_dep()
            elif job.dep is not None and reply.dotd is not None:
                self._write_dotd(job, reply.dotd)
            if job.dwo is not None and reply.dwo is not None:
                write_atomically(self.tmp, job.dwo, reply.dwo)
            if reply.stdout:
                write_all(1, reply.stdout)
            if cpp_stderr or reply.stderr:
                write_all(2, cpp_stderr + reply.stderr)
            self.slots.enjoyed(host)
            self.outcome.where = "remote"
            self.outcome.host = host.spec
            self.outcome.fallback = ""
            return 0
        if cpp is not None:
            cpp.discard()
        if self.cfg.skip_local_retry or not self.cfg.fallback:
            if not self.cfg.fallback:
                log.warning("remote compile failed and fallbacks are disabled")
            write_all(1, reply.stdout)
            write_all(2, cpp_stderr + reply.stderr)
            self.outcome.where = "remote"
            self.outcome.host = host.spec
            return remote_code
        log.info(f"remote compilation of '{job.source}' failed, retrying locally")
        local_code = self.run_local(job.argv, Fallback.REMOTE_ERROR_RETRY)
        if local_code != remote_code:
            log.warning(
                f"remote compile on {host.spec} exited {remote_code} but the local one "
                f"exited {local_code}: backing the host off"
            )
            self.slots.backoff(host)
        return local_code

    def _native_attempt(self, job: CompileJob, host: Host, port: str, cwd: str) -> Reply | None:
        """Our native protocol: files by digest, only what the daemon lacks is sent."""
        from client import native, pumpmode, remote
        from client.transport import TransportError
        from common.protocol import NATIVE_VERSION, ProtocolError, Reply

        try:
            with self.slots.local_cpp():
                entries = native.ask_closure(port, cwd, job.argv)
        except pumpmode.NotCovered as exc:
            self._pump_fallback(Fallback.PUMP_NOT_COVERED, str(exc))
            return None
        conn = remote.connect(host, self.cfg, self.env)
        try:
            r = native.run(conn, cwd, pumpmode.server_argv(job), entries, self.outcome)
        except native.StaleFile as exc:
            self._pump_fallback(Fallback.PUMP_STALE_FILE, str(exc))
            return None
        except native.NativeRefused as exc:
            raise RemoteFailure(f"refused: {exc}") from None
        except (TransportError, ProtocolError, OSError) as exc:
            raise RemoteFailure(str(exc) or type(exc).__name__) from None
        finally:
            conn.close()
        self.outcome.mode = "pump"
        return Reply(NATIVE_VERSION, r.status, r.stderr, r.stdout, r.obj, r.dotd, r.dwo)

    def _write_dotd(self, job: CompileJob, dotd: bytes) -> None:
        assert job.dep is not None
        if job.dep.append:
            try:
                with open(job.dep.path, "rb") as f:
                    dotd = f.read() + dotd
            except FileNotFoundError:
                pass
        write_atomically(self.tmp, job.dep.path, dotd)


class Preprocessed:
    """The job's local cpp run: the ``.i`` text, cpp's stderr, and the pending ``.d``."""

    def __init__(self, owner: Compiler, job: CompileJob) -> None:
        self.owner = owner
        self.job = job
        self.stderr = b""
        self.i_path = ""
        self.dep_temp = ""
        self._data: bytes | None = None
        self._pid = 0
        self._err_fd = -1
        self._err_path = ""
        self._cpp_lock: _Held
        self.started = False
        self.direct = False  # cc1 run without the driver (client/directcpp.py)
        self._record: tuple[directcpp.Table, directcpp.Shape, dict[str, str]] | None = None
        self._shape: tuple[directcpp.Table, directcpp.Shape] | None = None

    def start(self) -> None:
        """Start cpp in the background (unless the source is already preprocessed)."""
        job, tmp = self.job, self.owner.tmp
        self.started = True
        if job.preprocessed:
            return
        spec = take_speculation()
        if spec is not None and self._adopt(spec):
            return
        self.i_path, i_fd = tmp.create("distcc_", preprocessed_extension(job.language))
        os.close(i_fd)
        if job.dep is not None:
            self.dep_temp, dep_fd = sibling_temp(tmp, job.dep.path)
            if job.dep.append:
                # DEPENDENCIES_OUTPUT: gcc appends, so the temp starts as the old file.
                try:
                    with open(job.dep.path, "rb") as old:
                        write_all(dep_fd, old.read())
                except FileNotFoundError:
                    pass
            os.close(dep_fd)
        argv, env = self._command(self.i_path, self.dep_temp)
        self._err_path, self._err_fd = tmp.create("distcc_cpp_stderr_", ".txt")
        direct = self._direct_command(argv, env)
        self._cpp_lock = self.owner.slots.local_cpp()
        self._cpp_lock.__enter__()
        try:
            if direct is not None:
                try:
                    with held_signals():
                        self._pid = spawn(direct[0], direct[1], stderr_fd=self._err_fd)
                        tmp.children.append(self._pid)
                    self.direct = True
                    log.debug(f"preprocessing with {direct[0][0]} directly (no driver)")
                except OSError:
                    self._pid = 0
                else:
                    self._save_plan()
            if not self._pid:
                with held_signals():
                    self._pid = spawn(argv, env, stderr_fd=self._err_fd)
                    tmp.children.append(self._pid)
        except OSError as exc:
            log.error(f"failed to exec {argv[0]}: {exc.strerror}")
            self._pid = 0
            return

    def _direct_command(
        self, argv: list[str], env: dict[str, str], note: bool = True
    ) -> tuple[list[str], dict[str, str]] | None:
        """cc1's own command for this cpp run, if its translation is known; otherwise
        (``note``) note the sighting (a second one is recorded while the server compiles)."""
        self._shape = None
        distcc_dir = self.owner.cfg.distcc_dir
        if not distcc_dir:
            return None
        driver = which(argv[0], env.get("PATH", os.defpath))
        if driver is None:
            return None
        shape = directcpp.shape_of(argv, env, self.job.source, driver)
        if shape is None:
            return None
        table = directcpp.Table(distcc_dir)
        found = directcpp.direct(table, shape, env)
        if found is None and note and directcpp.note_seen(table, shape):
            self._record = (table, shape, env)
        if found is not None:
            self._shape = (table, shape)
        return found

    def _command(self, i_path: str, dep_temp: str) -> tuple[list[str], dict[str, str]]:
        """The job's cpp command (through the driver) writing ``i_path`` and, when the job
        has a dependency file, ``dep_temp`` in its place."""
        argv = local_cpp_argv(self.job, i_path)
        env = self.owner.env
        if self.job.dep is not None:
            argv, env = redirect_dep_output(argv, env, self.job.dep.path, dep_temp)
        return argv, env

    def _adopt(self, spec: dict[str, Any]) -> bool:
        """Take over the cc1 that the launcher started for this job (client/__init__.py)
        if it runs exactly the command this job would run; otherwise kill it."""
        job, tmp = self.job, self.owner.tmp
        direct = None
        if job.dep is None or (spec["dep_temp"] and not job.dep.append):
            argv, env = self._command(spec["i_path"], spec["dep_temp"])
            direct = self._direct_command(argv, env, note=False)
        if direct is None or direct[0] != spec["argv"] or _encoded(direct[1]) != spec["env"]:
            _abandon(spec, tmp)
            log.debug("the speculative cpp run did not match the job: killed")
            return False
        self.i_path = spec["i_path"]
        self.dep_temp = spec["dep_temp"]
        self._err_path = spec["err_path"]
        self._cpp_lock = self.owner.slots.local_cpp()
        self._cpp_lock.__enter__()
        self._pid = spec["pid"]
        self.direct = True
        if self._pid not in tmp.children:
            tmp.children.append(self._pid)
        log.debug(f"preprocessing with {direct[0][0]} directly (started at launch)")
        return True

    def _save_plan(self) -> None:
        """Keep this job's cpp plan for the launcher's speculation (client/__init__.py),
        when the launcher would use it: ``distcc COMPILER ...`` with DISTCC_HOSTS."""
        raw = sys.argv
        env = self.owner.env
        if (
            self._shape is None
            or not raw
            or raw[0].rpartition("/")[2] != "distcc"
            or env.get("_DISTCC_SAFEGUARD") != "1"
            or not env.get("DISTCC_HOSTS")
        ):
            return
        table, shape = self._shape
        entry = table.entries.get(shape.key)
        if not isinstance(entry, tuple) or self.owner.cfg.distcc_dir is None:
            return
        dep_path = self.job.dep.path if self.job.dep is not None else None
        plan = directcpp.make_plan(list(raw), shape, entry, dep_path, self.dep_temp, self.i_path)
        if plan is not None:
            directcpp.save_plan(self.owner.cfg.distcc_dir, plan)

    def record_translation(self) -> None:
        """Record the driver's translation of this cpp command (see ``_direct_command``);
        run while the server compiles."""
        if self._record is not None:
            table, shape, env = self._record
            self._record = None
            try:
                directcpp.record(table, shape, env, self.owner.tmp)
            except Exception as exc:  # a cache: the job goes on
                log.debug(f"recording the cpp translation failed: {exc}")

    def finish(self) -> bool:
        """Wait for cpp; True if the preprocessed source is ready."""
        job, tmp = self.job, self.owner.tmp
        if job.preprocessed:
            try:
                with open(job.source, "rb") as f:
                    self._data = f.read()
            except OSError as exc:
                log.error(f"failed to read {job.source}: {exc.strerror}")
                return False
            return True
        status = 1
        try:
            if self._pid:
                status = wait(self._pid)
                tmp.children.remove(self._pid)
        finally:
            self._cpp_lock.__exit__(None, None, None)
            if self._err_fd >= 0:  # not open when the cc1 was adopted
                os.close(self._err_fd)
        with open(self._err_path, "rb") as f:
            self.stderr = f.read()
        return self._pid != 0 and status == 0

    def data(self) -> bytes:
        if self._data is None:
            with open(self.i_path, "rb") as f:
                self._data = f.read()
        return self._data

    def commit_dep(self) -> None:
        if self.dep_temp and self.job.dep is not None:
            move_into_place(self.owner.tmp, self.dep_temp, self.job.dep.path)
            self.dep_temp = ""

    def discard(self) -> None:
        if self.dep_temp:
            try:
                os.unlink(self.dep_temp)
            except OSError:
                pass
            self.owner.tmp.forget(self.dep_temp)
            self.dep_temp = ""


def _encoded(env: dict[str, str]) -> dict[bytes, bytes]:
    return {os.fsencode(k): os.fsencode(v) for k, v in env.items()}


def _abandon(spec: dict[str, Any], tmp: TempFiles) -> None:
    """Kill a speculative cc1 the job does not use, and remove its files (even under
    DISTCC_SAVE_TEMPS: they are nobody's temp files)."""
    discard(spec)
    if spec["pid"] in tmp.children:
        tmp.children.remove(spec["pid"])
    for path in spec["files"]:
        tmp.forget(path)


def abandon_speculation(tmp: TempFiles) -> None:
    """The job will not preprocess here after all: stop the launcher's cc1, if any."""
    spec = take_speculation()
    if spec is not None:
        _abandon(spec, tmp)


def redirect_dep_output(
    argv: list[str], env: dict[str, str], dep_path: str, temp: str
) -> tuple[list[str], dict[str, str]]:
    """Make cpp write the ``.d`` file to ``temp`` instead of ``dep_path``.

    The file is named by ``-MF`` (separate or joined) or, failing that, by
    ``DEPENDENCIES_OUTPUT``/``SUNPRO_DEPENDENCIES`` ("file [target]").
    """
    out = list(argv)
    for i, word in enumerate(out):
        if word == "-MF" and i + 1 < len(out) and out[i + 1] == dep_path:
            out[i + 1] = temp
            return out, env
        if word == "-MF" + dep_path:
            out[i] = "-MF" + temp
            return out, env
    for var in ("DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES"):
        value = env.get(var)
        if value:
            name, sep, target = value.partition(" ")
            if name == dep_path:
                new_env = dict(env)
                new_env[var] = temp + sep + target
                return out, new_env
    return out, env
