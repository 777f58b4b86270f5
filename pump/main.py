"""``pump``: run a build in pump mode and say what ran where.

    pump [--strict] COMMAND [ARGS...]
    eval "$(pump --startup)"   ...   pump --shutdown

1. Find this user's include server (one per user, long-lived: its memory stays warm
   across builds) or start it; its socket goes into ``INCLUDE_SERVER_PORT``.
2. With no host list configured (``DISTCC_HOSTS`` empty, or unset and no hosts file),
   find or start this user's private ``distccd`` on a loopback port (``PrivateDaemon``:
   kept between builds like the include server, so its store and result cache serve the
   next build; it exits after 30 idle minutes or with ``pump --shutdown``): pump works
   out of the box on one machine.
3. Run COMMAND with ``DISTCC_STATS_FILE`` set: every ``distcc`` job appends one line
   saying where it ran and, if not remotely in pump mode, why (``client.main._record``).
4. Print one summary (stderr): jobs remote in pump mode, remote in plain mode, local, every
   fallback by named reason, bytes sent and received.  Exit with COMMAND's status.

``--strict`` (or ``DISTCC_FALLBACK=0``) makes any fallback fail its job
(``DISTCC_PUMP_STRICT=1`` for the client).

Invariants: pump never waits for a daemonized process to disappear (orphans are reaped
late on some machines): it waits on sockets and pid files only.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

PREFIX = "__________"
PRIVATE_DAEMON_OPTS = ",native"  # our daemon, our protocol: headers cross once (docs/protocol.md)
COMPILERS = ("cc", "c++", "gcc", "g++", "clang", "clang++")


@functools.cache
def code_stamp() -> str:
    """A short stamp of the code of the servers pump keeps (file names, sizes, mtimes of
    the include server, the daemon and what they share).

    A live include server or private daemon is reused only if it runs the same code:
    after an upgrade, the old ones (left to their idle timeouts) would not speak what the
    new client asks.
    """
    import hashlib

    import common
    import daemon
    import include_server

    h = hashlib.blake2b(digest_size=6)
    for package in (include_server, daemon, common):
        top = Path(str(package.__file__)).parent
        for f in sorted(top.rglob("*.py")):
            st = f.stat()
            h.update(f"{f.relative_to(top.parent)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def state_dir() -> Path:
    base = Path(os.environ.get("TMPDIR") or "/tmp")
    d = base / f"distcc-py-pump-{os.getuid()}-{code_stamp()}"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def _alive(sock_path: Path) -> bool:
    if not sock_path.exists():
        return False
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    try:
        s.connect(str(sock_path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _tool(name: str) -> list[str]:
    """Our own commands: beside this pump if installed there, else via this interpreter."""
    here = Path(sys.argv[0]).resolve().parent
    if (here / name).exists():
        return [str(here / name)]
    modules = {"include-server": "include_server.server", "distccd": "daemon.main"}
    return [sys.executable, "-m", modules[name]]


def ensure_include_server() -> tuple[Path, bool]:
    """The socket of a live include server of this user; True if we started it."""
    d = state_dir()
    sock = d / "socket"
    if _alive(sock):
        return sock, False
    for stale in (sock, d / "pid"):
        try:
            stale.unlink()
        except FileNotFoundError:
            pass
    log = open(d / "include-server.log", "ab")  # noqa: SIM115 (kept by the child)
    r = subprocess.run(
        [*_tool("include-server"), "start", "--port", str(sock), "--pid_file", str(d / "pid")],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    if r.returncode != 0 or not _alive(sock):
        raise SystemExit(f"pump: failed to start the include server (see {d}/include-server.log)")
    return sock, True


def host_list_configured(env: dict[str, str]) -> bool:
    """Is there a host list to use?  An empty ``DISTCC_HOSTS`` counts as none (it also
    overrides the hosts files, e.g. Debian's /etc/distcc/hosts naming 127.0.0.1)."""
    if env.get("DISTCC_HOSTS") is not None:
        return bool(env["DISTCC_HOSTS"].split())
    top = env.get("DISTCC_DIR") or (env.get("HOME", "") + "/.distcc")
    return any(os.path.exists(p) for p in (top + "/hosts", "/etc/distcc/hosts"))


PRIVATE_IDLE_LIFETIME = 1800  # seconds without a connection before the private daemon exits


class PrivateDaemon:
    """This user's own distccd on a loopback port, for builds with no host list.

    Like the include server it outlives one build (its content store and result cache
    make the next build cheaper) and is found again through files in the state
    directory: ``distccd.port`` and ``distccd.pid``.  It ends by itself after
    ``PRIVATE_IDLE_LIFETIME`` seconds without a connection, or with ``pump --shutdown``.
    """

    def __init__(self, port: int, pid: int, started: bool) -> None:
        self.port = port
        self.pid = pid
        self.started = started
        self.jobs = (os.cpu_count() or 1) + 2

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}/{self.jobs}{PRIVATE_DAEMON_OPTS}"

    @staticmethod
    def find(d: Path) -> PrivateDaemon | None:
        """The live private daemon recorded in ``d``, if any."""
        try:
            port = int((d / "distccd.port").read_text())
            pid = int((d / "distccd.pid").read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            return None
        return PrivateDaemon(port, pid, started=False)

    @staticmethod
    def ensure(d: Path) -> PrivateDaemon:
        """Reuse the live one or start one (one at a time: a lock in ``d``)."""
        import fcntl

        with open(d / "distccd.lock", "a") as lock:
            fcntl.lockf(lock, fcntl.LOCK_EX)
            return PrivateDaemon.find(d) or PrivateDaemon._start(d)

    @staticmethod
    def _start(d: Path) -> PrivateDaemon:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        pid_file = d / "distccd.pid"
        pid_file.unlink(missing_ok=True)
        tmp = d / "distccd-tmp"
        tmp.mkdir(exist_ok=True)
        tmp.chmod(0o1777)
        env = dict(os.environ, TMPDIR=str(tmp))
        args = [
            *_tool("distccd"),
            "--daemon",
            "--listen",
            "127.0.0.1",
            "--allow",
            "127.0.0.1",
            "--port",
            str(port),
            "--pid-file",
            str(pid_file),
            "--log-file",
            str(d / "distccd.log"),
            "--idle-lifetime",
            str(PRIVATE_IDLE_LIFETIME),
        ]
        for cc in COMPILERS:
            args += ["--allow-compiler", cc]
        if os.geteuid() == 0:
            # The build's own daemon runs as the build's user: as root, distccd would
            # switch to nobody, who can neither write its log here nor read the tree.
            args += ["--user", "root"]
        r = subprocess.run(args, env=env, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise SystemExit(f"pump: failed to start a private distccd (exit {r.returncode})")
        deadline = time.monotonic() + 10
        while not (pid_file.exists() and pid_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise SystemExit("pump: the private distccd did not write its pid file")
            time.sleep(0.01)
        (d / "distccd.port").write_text(f"{port}\n")
        return PrivateDaemon(port, int(pid_file.read_text().strip()), started=True)

    @staticmethod
    def stop(d: Path) -> bool:
        """SIGTERM the recorded private daemon; True if there was one."""
        found = PrivateDaemon.find(d)
        if found is None:
            return False
        try:
            os.kill(found.pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True


def summarize(stats_file: Path) -> tuple[str, int]:
    """The summary text and the number of fallbacks."""
    jobs = 0
    where: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    sent = received = 0
    offered = shipped = cached = 0
    try:
        lines = stats_file.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        fields = line.split("\t")
        if len(fields) < 7:
            continue
        place, mode, fallback, pump_fallback, b_sent, b_recv = fields[:6]
        jobs += 1
        sent += int(b_sent)
        received += int(b_recv)
        if place == "remote":
            where[f"remote ({mode} mode)"] += 1
        else:
            where["local"] += 1
        if fallback != "-":
            reasons[fallback] += 1
        if pump_fallback != "-":
            reasons[pump_fallback] += 1
        if len(fields) >= 11:  # the native protocol's counts
            offered += int(fields[8])
            shipped += int(fields[9])
            cached += fields[10] == "cached"
    fallbacks = sum(n for r, n in reasons.items() if r not in NATURALLY_LOCAL)
    parts = [f"{PREFIX}Summary: {jobs} distcc job(s)"]
    order = ["remote (pump mode)", "remote (plain mode)", "local"]
    parts.append(", ".join(f"{where[k]} {k}" for k in order))
    text = ": ".join(parts) + "\n"
    if reasons:
        listed = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda x: -x[1]))
        text += f"{PREFIX}Not remote in pump mode, by reason: {listed}\n"
    text += f"{PREFIX}Bytes sent {sent}, received {received}\n"
    if offered:
        text += (
            f"{PREFIX}Files named by digest {offered}: {offered - shipped} already on the"
            f" servers (cache hits), {shipped} sent; {cached} job(s) answered from the"
            " servers' result caches\n"
        )
    return text, fallbacks


# Reasons that are not failures: these jobs were never candidates for remote compilation.
NATURALLY_LOCAL = frozenset({"not-compile", "preprocess-only", "no-source"})


def run_build(command: Sequence[str], strict: bool) -> int:
    env = dict(os.environ)
    sock, _started = ensure_include_server()
    work = Path(tempfile.mkdtemp(prefix="distcc-py-pump-build-"))
    try:
        if not host_list_configured(env):
            daemon = PrivateDaemon.ensure(state_dir())
            env["DISTCC_HOSTS"] = daemon.hosts
            how = "started" if daemon.started else "reused"
            sys.stderr.write(
                f"{PREFIX}No hosts configured: using this user's private distccd on"
                f" 127.0.0.1:{daemon.port} ({how})\n"
            )
        stats = work / "stats"
        env["INCLUDE_SERVER_PORT"] = str(sock)
        env["DISTCC_STATS_FILE"] = str(stats)
        if strict or env.get("DISTCC_FALLBACK") == "0":
            env["DISTCC_PUMP_STRICT"] = "1"
            env["DISTCC_FALLBACK"] = "0"
        here = str(Path(sys.argv[0]).resolve().parent)
        env["PATH"] = here + os.pathsep + env.get("PATH", "")
        try:
            status = subprocess.call(list(command), env=env)
        except FileNotFoundError:
            sys.stderr.write(f"pump: {command[0]}: command not found\n")
            status = 127
        text, _fallbacks = summarize(stats)
        sys.stderr.write(text)
        return status if status >= 0 else 128 - status
    finally:
        shutil.rmtree(work, ignore_errors=True)


def startup() -> int:
    sock, _ = ensure_include_server()
    d = state_dir()
    pid = (d / "pid").read_text().strip() if (d / "pid").exists() else ""
    here = str(Path(sys.argv[0]).resolve().parent)
    out = [
        f"export INCLUDE_SERVER_PORT='{sock}'",
        f"export INCLUDE_SERVER_DIR='{d}'",
        f"export INCLUDE_SERVER_PID='{pid}'",
        f"export PATH='{here}':\"$PATH\"",
    ]
    if os.environ.get("DISTCC_HOSTS") is not None:
        out.append(f"export DISTCC_HOSTS='{os.environ['DISTCC_HOSTS']}'")
    print("\n".join(out))
    return 0


def shutdown() -> int:
    d = Path(os.environ.get("INCLUDE_SERVER_DIR") or state_dir())
    if PrivateDaemon.stop(d):
        sys.stderr.write(f"{PREFIX}Shutting down the private distccd\n")
    pid_text = os.environ.get("INCLUDE_SERVER_PID") or (
        (d / "pid").read_text().strip() if (d / "pid").exists() else ""
    )
    if not pid_text:
        sys.stderr.write("pump: no include server to shut down\n")
        return 1
    try:
        os.kill(int(pid_text), signal.SIGTERM)
    except (ProcessLookupError, ValueError):
        pass
    sys.stderr.write(f"{PREFIX}Shutting down distcc-pump include server\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--startup":
        return startup()
    if args and args[0] == "--shutdown":
        return shutdown()
    parser = argparse.ArgumentParser(
        prog="pump",
        description="Run a build with distcc in pump mode (docs/pump.md).",
        epilog='Also: eval "$(pump --startup)" (start or reuse the include server, print the'
        " exports) and pump --shutdown (stop it).",
    )
    parser.add_argument("--strict", action="store_true", help="any fallback fails its job")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    ns = parser.parse_args(args)
    if not ns.command:
        parser.print_usage(sys.stderr)
        return 1
    return run_build(ns.command, ns.strict)


if __name__ == "__main__":
    sys.exit(main())
