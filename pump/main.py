"""``pump``: run a build in pump mode and say what ran where.

    pump [--strict] COMMAND [ARGS...]
    eval "$(pump --startup)"   ...   pump --shutdown

1. Find this user's include server (one per user, long-lived: its memory stays warm
   across builds) or start it; its socket goes into ``INCLUDE_SERVER_PORT``.
2. With no host list configured (``DISTCC_HOSTS`` empty, or unset and no hosts file),
   start a private ``distccd`` on a free loopback port for this build only: pump works
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


def code_stamp() -> str:
    """A short stamp of the include server's code (file names, sizes, mtimes).

    A live include server is reused only if it runs the same code: after an upgrade, the
    old server (left to its idle timeout) would not speak what the new client asks.
    """
    import hashlib

    import include_server

    h = hashlib.blake2b(digest_size=6)
    pkg = Path(include_server.__file__).parent
    for f in sorted(pkg.glob("*.py")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
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


class PrivateDaemon:
    """A distccd on a free loopback port, for one build."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.pid_file = workdir / "distccd.pid"
        tmp = workdir / "distccd-tmp"
        tmp.mkdir()
        tmp.chmod(0o1777)
        workdir.chmod(0o711)
        env = dict(os.environ, TMPDIR=str(tmp))
        args = [
            *_tool("distccd"),
            "--daemon",
            "--listen",
            "127.0.0.1",
            "--allow",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--pid-file",
            str(self.pid_file),
            "--log-file",
            str(workdir / "distccd.log"),
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
        while not (self.pid_file.exists() and self.pid_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise SystemExit("pump: the private distccd did not write its pid file")
            time.sleep(0.01)
        self.pid = int(self.pid_file.read_text().strip())
        self.jobs = (os.cpu_count() or 1) + 2

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}/{self.jobs}{PRIVATE_DAEMON_OPTS}"

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


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
    daemon: PrivateDaemon | None = None
    try:
        if not host_list_configured(env):
            daemon = PrivateDaemon(work)
            env["DISTCC_HOSTS"] = daemon.hosts
            sys.stderr.write(
                f"{PREFIX}No hosts configured: using a private distccd on 127.0.0.1:{daemon.port}\n"
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
        if daemon is not None:
            daemon.stop()
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
        prog="pump", description="Run a build with distcc in pump mode."
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
