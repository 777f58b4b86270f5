"""``distcc``: the command-line entry point of the client.

distcc's own options are recognised only as the first argument: ``--help``, ``--version``,
``--show-hosts``, ``-j``.  Anything else is a compiler command (explicit, implicit or
masquerade, see ``client.invoke``), classified by the shared model and compiled through
``client.compile``.

Exit status: the compiler's own, 128+signal, or one of distcc's 100-120 codes.
"""

from __future__ import annotations

import os
import sys

from common.exitcodes import DistccError, ExitCode
from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from client.compile import Outcome
    from client.config import Config
    from client.proc import TempFiles

VERSION = "3.4"
PROGRAM_VERSION = "0.1.0"

USAGE = """\
Usage:
   distcc [--scan-includes] [COMPILER] [compile options] -o OBJECT -c SOURCE
   distcc [--help|--version|--show-hosts|-j]

Options:
   COMPILER                   defaults to "cc"
   --help                     explain usage, and exit
   --version                  show version, and exit
   --show-hosts               show host list, and exit
   -j                         calculate the concurrency level from the host list, and exit

Environment variables:
   See the distcc(1) manual page; DISTCC_HOSTS, DISTCC_DIR, DISTCC_VERBOSE, DISTCC_LOG,
   DISTCC_FALLBACK, DISTCC_SKIP_LOCAL_RETRY, DISTCC_BACKOFF_PERIOD, DISTCC_IO_TIMEOUT,
   DISTCC_PAUSE_TIME_MSEC, DISTCC_SAVE_TEMPS, DISTCC_SSH are honoured as by distcc 3.4.

Host specifications (DISTCC_HOSTS, $DISTCC_DIR/hosts, /etc/distcc/hosts):
   localhost[/LIMIT]            run in place
   HOST[:PORT][/LIMIT][,OPT]    TCP connection, port 3632 by default
   [USER]@HOST[/LIMIT][:CMD]    SSH connection
   options: ,lzo (protocol 2)  ,cpp,lzo (pump mode, protocol 3)  ,down
   --randomize  --localslots=N  --localslots_cpp=N
"""


def _version_text() -> str:
    machine = os.uname().machine
    return (
        f"distcc {VERSION} {machine}-pc-linux-gnu (distcc-py {PROGRAM_VERSION})\n"
        "  (protocols 1, 2 and 3) (default port 3632)\n"
    )


def run() -> None:
    """The launcher's entry point: ``main()``, then exit without interpreter teardown.

    Tearing down the interpreter (module GC, atexit) costs ~2 ms per job for nothing: the
    temporary files are already removed and the log is flushed here.
    """
    code = main()
    from client import drop_speculation, log, rebuild_preload

    drop_speculation()  # a launcher's cc1 that no job took: killed, its files removed
    log.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass
    rebuild_preload()  # after the outputs and the exit status's messages are out
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    env = dict(os.environ)
    from client import log

    log.configure(env)
    try:
        return _main(args[0] if args else "distcc", args[1:], env)
    except DistccError as exc:
        log.error(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return 128 + 2


def _main(argv0: str, args: list[str], env: dict[str, str]) -> int:
    name = os.path.basename(argv0)
    if name in ("distcc", "distcc.py") and args:
        first = args[0]
        if first == "--help":
            sys.stdout.write(USAGE)
            return 0
        if first == "--version":
            sys.stdout.write(_version_text())
            return 0
        if first in ("--show-hosts", "-j"):
            from client.slots import load_hosts

            hosts = load_hosts(env)
            if first == "--show-hosts":
                for host in hosts.hosts:
                    sys.stdout.write(host.spec + "\n")
            else:
                sys.stdout.write(f"{max(hosts.total_slots, 1)}\n")
            return 0
    elif name in ("distcc", "distcc.py"):
        sys.stderr.write(USAGE)
        return ExitCode.BAD_ARGUMENTS
    return _compile(argv0, args, env)


def _compile(argv0: str, args: list[str], env: dict[str, str]) -> int:
    from client import log
    from client.invoke import resolve_invocation
    from client.proc import TempFiles, which

    def find(name: str, path: str) -> str | None:
        return which(name, path)

    inv = resolve_invocation(argv0, args, env, find)
    if inv.safeguard_level > 0 and not (inv.masquerade and inv.safeguard_level == 1):
        log.error("distcc seems to have invoked itself recursively!")
        return ExitCode.RECURSION

    from client.config import Config

    cfg = Config.from_env(env)
    tmp = TempFiles(cfg.tmpdir, keep=cfg.save_temps)
    from client import speculation, speculation_files

    # The launcher's speculative cc1 (client/__init__.py) and its files belong to the job.
    tmp.paths.extend(speculation_files())
    spec = speculation()
    if spec is not None:
        tmp.children.append(spec["pid"])
    tmp.install_signal_handlers()
    try:
        return _run(inv.argv, inv.env, cfg, tmp, recursion_local=inv.safeguard_level == 1)
    finally:
        tmp.cleanup()


def _run(
    argv: tuple[str, ...], env: dict[str, str], cfg: Config, tmp: TempFiles, recursion_local: bool
) -> int:
    from client import log
    from client.compile import Compiler
    from client.slots import FileSlots
    from common.compiler.classify import classify
    from common.compiler.job import RunLocally

    slots = FileSlots(cfg, env)
    compiler = Compiler(cfg, env, tmp, slots)
    if recursion_local:
        # A masquerading distcc called by another distcc: compile here, no locks.
        return compiler._run_here(argv, capture=False)
    job = classify(argv, env)
    if isinstance(job, RunLocally):
        log.debug(f"compiling locally: {job.reason}: {job.detail}")
        code = compiler.run_local(argv, job.reason, capture=False)
    else:
        code = compiler.compile(job)
    out = compiler.outcome
    stats_file = env.get("DISTCC_STATS_FILE")
    if stats_file:
        _record(stats_file, out, code)
    log.info(
        f"{' '.join(argv[:1])} {getattr(job, 'source', '')}: {out.where}"
        + (f" on {out.host}" if out.host else "")
        + (f" ({out.fallback})" if out.fallback else "")
        + f" exit {code}"
    )
    return code


def _record(path: str, out: Outcome, code: int) -> None:
    """Append this job's outcome to pump's stats file: one tab-separated line, one write."""
    line = "\t".join(
        (
            out.where,
            out.mode or "-",
            out.fallback or "-",
            out.pump_fallback or "-",
            str(out.bytes_sent),
            str(out.bytes_received),
            str(code),
            out.host or "-",
            str(out.files_offered),
            str(out.files_sent),
            "cached" if out.cached else "-",
        )
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass
