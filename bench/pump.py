#!/usr/bin/env python3
"""Pump-mode benchmark: ours against Debian's stock distcc 3.4 pump, in the same run.

    python3 bench/pump.py [--project redis] [--jobs 8] [--rounds 1] [--variants ...]
                          [--no-local] [--json FILE]

What one run does, for every variant, on a fresh copy of the tree at the same path
(``/var/tmp/distcc-py-pumpbench/<project>``, or ``$PUMPBENCH_DIR/<project>``, so objects are
comparable):

1. start two loopback daemons (127.0.0.1 and 127.0.0.2, ``--jobs 2`` each) and, in front of
   each, a transparent TCP relay that counts the bytes in both directions; ``DISTCC_HOSTS``
   names the relays (``/4`` slots each);
2. start the variant's include server (``pump --startup``, outside the timed region);
3. build 1: ``make -jJOBS`` (ours: ``pump make -jJOBS``, for its summary);
   ``make distclean``; build 2, against the same include server and daemons (warm caches);
4. ``pump --shutdown``, stop the daemons.

Variants: ``stock`` (stock pump + stock ``distcc`` + two stock ``distccd``, hosts
``,cpp,lzo``), ``native`` (our pump, client and daemons, hosts ``,native``), ``p3``
(ours with ``,cpp,lzo``: distcc's protocol 3) and ``native-nc`` (``native`` with the
daemons' result cache off, ``DISTCCD_RESULT_CACHE_SIZE=0``: build 2 then compiles
everything again, as stock does).  Per build: wall time; client-side CPU
(``RUSAGE_CHILDREN`` of the build: make, every client, local steps such as linking) plus
the include server's CPU (``/proc/<pid>/stat`` before and after); the daemons' CPU;
bytes sent to the daemons (relay) and per TU; TUs (``.o`` files); remote pump-mode jobs
and fallbacks (stock: in the distccd logs ``dcc_fix_debug_info`` marks a pump job among
the ``COMPILE_OK`` ones, plus the client's "running locally" warnings; ours: ``pump``'s
summary); objects identical to a local build of the same tree; "foreign" CPU
(machine-wide busy time minus ours: other users of a shared machine).

The stock pump is Debian's, with its include-server extension rebuilt for Python 3.11 by
``../shared/anchors/build-fixed-pump.sh`` (once, cached in ``/tmp/distcc-pump-fixed``).
``make distclean`` (not ``clean``) between builds, because redis's ``clean`` leaves its
``deps/`` built, so the second build would compile fewer TUs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (
    SHARED,
    STOCK,
    Daemon,
    children_cpu,
    copy_tree,
    get_corpus,
    make_launchers,
    median,
)

STOCK_PUMP_DIR = Path("/tmp/distcc-pump-fixed")
# not /tmp: its file events cost watchers CPU.  PUMPBENCH_DIR gives concurrent runs (two
# engineers on one machine) each their own tree and launchers.
WORK = Path(os.environ.get("PUMPBENCH_DIR") or "/var/tmp/distcc-py-pumpbench")
# Daemons, relays' logs, client temp dirs: NOT under WORK.  Our include server watches the
# tree's parent (WORK) recursively, and job directories created there by the daemons (a
# mirror root per job) cost it 2-3 s of CPU per redis build; real daemons run elsewhere.
RUNS = Path(f"{WORK}-runs")
MAKE_ARGS = {"redis": ["MALLOC=libc", "BUILD_TLS=no"], "lua5.4": ["linux"]}
CLEAN = {"redis": "distclean", "lua5.4": "clean"}
VARIANTS = ("stock", "native", "p3", "native-nc")
# redis's release.h embeds the build time unless this is set: every build the same.
SOURCE_DATE_EPOCH = "1700000000"
# The stock client's warnings (as counted by ../shared/anchors/anchor-build.sh).
STOCK_CPP_FALLBACK = re.compile(
    r"failed to get includes from include server|cannot use distcc_pump"
)
STOCK_LOCAL_FALLBACK = re.compile(
    r"running locally instead|retrying locally|retried locally|fallbacks are disabled"
)
TARGETS = {"wall": 1.0, "bytes2": 0.1}


# ------------------------------------------------------------------ counting relay
class Relay:
    """A loopback TCP relay in front of one daemon that counts bytes each way."""

    def __init__(self, address: str, target: tuple[str, int]) -> None:
        self.target = target
        self.up = 0  # client -> daemon
        self.down = 0  # daemon -> client
        self.connections = 0
        self._lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(128)
        self.address = address
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
            for a, b, up in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, up), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        n = 0
        try:
            while data := src.recv(262144):
                dst.sendall(data)
                n += len(data)
        except OSError:
            pass
        finally:
            with self._lock:
                if up:
                    self.up += n
                else:
                    self.down += n
            for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
                try:
                    s.shutdown(how)
                except OSError:
                    pass

    def counts(self) -> tuple[int, int]:
        with self._lock:
            return self.up, self.down

    def close(self) -> None:
        self.sock.close()


# ------------------------------------------------------------------ measurements
@dataclass
class BuildResult:
    variant: str
    round: int
    build: int
    rc: int
    wall_s: float
    client_cpu_s: float  # make + clients + local steps (RUSAGE_CHILDREN of the build)
    is_cpu_s: float  # include server (utime+stime+children)
    daemons_cpu_s: float
    foreign_cpu_s: float
    tus: int
    bytes_up: int
    bytes_down: int
    connections: int
    remote_pump: int
    fallbacks: int
    identical: int | None
    load1: float = 0.0  # load average when the build started
    summary: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def bytes_per_tu(self) -> float:
        return self.bytes_up / self.tus if self.tus else 0.0

    @property
    def cpu_s(self) -> float:
        return self.client_cpu_s + self.is_cpu_s


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """utime+stime+cutime+cstime of a live process (0 if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def busy_cpu() -> float:
    """Machine-wide non-idle CPU seconds so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


def object_digests(tree: Path) -> dict[str, str]:
    return {
        str(p.relative_to(tree)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in tree.rglob("*.o")
    }


def parse_exports(text: str) -> dict[str, str]:
    """The include server's variables from ``pump --startup`` (PATH is left alone: the
    commands are named by absolute path)."""
    found = dict(re.findall(r"export (\w+)='([^']*)'", text))
    return {k: v for k, v in found.items() if k.startswith("INCLUDE_SERVER_")}


def tree_cpu(pid: int) -> float:
    """CPU of a process and of its live descendants (stock distccd serves jobs in
    pre-forked children, whose time reaches the parent only when they exit)."""
    total = proc_cpu(pid)
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return total
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        total += sum(tree_cpu(k) for k in kids)
    return total


def ensure_stock_pump() -> Path:
    pump = STOCK_PUMP_DIR / "bin" / "pump"
    if not pump.exists():
        script = SHARED / "anchors" / "build-fixed-pump.sh"
        subprocess.run(["bash", str(script), str(STOCK_PUMP_DIR)], check=True)
    return pump


# ------------------------------------------------------------------ one variant
class Variant:
    def __init__(self, name: str, ours: dict[str, str], stock_pump: Path, base: Path) -> None:
        self.name = name
        self.stock = name == "stock"
        self.base = base / name
        shutil.rmtree(self.base, ignore_errors=True)
        self.base.mkdir(parents=True)
        self.base.chmod(0o1777)
        self.distcc = STOCK["distcc"] if self.stock else ours["distcc"]
        self.distccd = STOCK["distccd"] if self.stock else ours["distccd"]
        self.pump = str(stock_pump) if self.stock else ours["pump"]
        self.opts = ",native" if name.startswith("native") else ",cpp,lzo"
        # native-nc: the daemons' result cache off (daemon/results.py), to show its share
        self.daemon_env = {"DISTCCD_RESULT_CACHE_SIZE": "0"} if name == "native-nc" else {}

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DISTCC", "INCLUDE_SERVER", "CPATH"))
        }
        for d in ("tmp", "distcc-dir"):
            (self.base / d).mkdir(exist_ok=True)
        env["TMPDIR"] = str(self.base / "tmp")
        env["DISTCC_DIR"] = str(self.base / "distcc-dir")
        env["DISTCC_LOG"] = str(self.base / "client.log")
        env["SOURCE_DATE_EPOCH"] = SOURCE_DATE_EPOCH
        return env


def run_variant(
    v: Variant,
    rnd: int,
    pristine: Path,
    project: str,
    jobs: int,
    local: dict[str, str] | None,
) -> list[BuildResult]:
    tree = copy_tree(pristine, WORK / project)
    extra = ("--log-level", "info") if v.stock else ()
    daemons = [
        Daemon(v.distccd, 2, v.base / f"d{i}", address=a, extra=extra, env_extra=v.daemon_env)
        for i, a in enumerate(("127.0.0.1", "127.0.0.2"))
    ]
    relays = [Relay(d.address, (d.address, d.port)) for d in daemons]
    env = v.env()
    env["DISTCC_HOSTS"] = " ".join(f"{r.address}:{r.port}/4{v.opts}" for r in relays)
    results = []
    is_pid = 0
    try:
        r = subprocess.run([v.pump, "--startup"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{v.name}: pump --startup failed: {r.stderr}")
        exports = parse_exports(r.stdout)
        env.update(exports)
        is_pid = int(exports.get("INCLUDE_SERVER_PID") or 0)
        cc = f"{v.distcc} gcc"
        log_offset = 0
        for build in (1, 2):
            if build == 2:
                subprocess.run(
                    ["make", "-C", str(tree), CLEAN[project]],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            cmd = ["make", f"-j{jobs}", "-C", str(tree), *MAKE_ARGS[project], f"CC={cc}"]
            if not v.stock:
                cmd = [v.pump, *cmd]
            up0, down0 = (sum(x) for x in zip(*(r.counts() for r in relays), strict=True))
            conn0 = sum(r.connections for r in relays)
            ok0 = [d.log.read_text(errors="replace") if d.log.exists() else "" for d in daemons]
            dcpu0 = sum(tree_cpu(d.proc.pid) for d in daemons)
            is0 = proc_cpu(is_pid) if is_pid else 0.0
            with open("/proc/loadavg") as f:
                load1 = float(f.read().split()[0])
            c0 = children_cpu()
            b0 = busy_cpu()
            t0 = time.perf_counter()
            p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wall = time.perf_counter() - t0
            b1 = busy_cpu()
            client = children_cpu() - c0
            is_cpu = (proc_cpu(is_pid) - is0) if is_pid else 0.0
            # Let the daemons log the last jobs (they log after replying) and the relays
            # count the last bytes: both happen within milliseconds of the reply.
            time.sleep(0.3)
            dcpu = sum(tree_cpu(d.proc.pid) for d in daemons) - dcpu0
            up1, down1 = (sum(x) for x in zip(*(r.counts() for r in relays), strict=True))
            logs = [
                (d.log.read_text(errors="replace") if d.log.exists() else "")[len(o) :]
                for d, o in zip(daemons, ok0, strict=True)
            ]
            err = p.stderr.decode(errors="replace")
            digests = object_digests(tree)
            tus = len(digests)
            res = BuildResult(
                variant=v.name,
                round=rnd,
                build=build,
                rc=p.returncode,
                wall_s=round(wall, 3),
                client_cpu_s=round(client, 2),
                is_cpu_s=round(is_cpu, 2),
                daemons_cpu_s=round(dcpu, 2),
                foreign_cpu_s=round((b1 - b0) - client - is_cpu - dcpu, 2),
                tus=tus,
                bytes_up=up1 - up0,
                bytes_down=down1 - down0,
                connections=sum(r.connections for r in relays) - conn0,
                remote_pump=0,
                fallbacks=0,
                identical=None
                if local is None
                else sum(1 for k, h in digests.items() if local.get(k) == h),
                load1=load1,
            )
            if p.returncode != 0:
                res.notes.append("build failed: " + err[-2000:])
            if v.stock:
                res.remote_pump = sum(t.count("dcc_fix_debug_info") for t in logs)
                ok = sum(t.count("COMPILE_OK") for t in logs)
                client_log = Path(env["DISTCC_LOG"])
                text = client_log.read_text(errors="replace") if client_log.exists() else ""
                text = text[log_offset:]
                log_offset += len(text)
                local_fb = len(STOCK_LOCAL_FALLBACK.findall(text))
                # Remote jobs that were not pump jobs, plus jobs that ran here instead.
                res.fallbacks = (ok - res.remote_pump) + local_fb
                res.notes.append(
                    f"COMPILE_OK {ok}, pump jobs {res.remote_pump}, local fallbacks {local_fb}, "
                    f"cpp fallbacks {len(STOCK_CPP_FALLBACK.findall(text))}"
                )
            else:
                res.summary = "\n".join(ln for ln in err.splitlines() if "__________" in ln)
                m = re.search(r"(\d+) remote \(pump mode\)", res.summary)
                res.remote_pump = int(m.group(1)) if m else 0
                m = re.search(r"by reason: (.*)", res.summary)
                natural = {"not-compile", "preprocess-only", "no-source"}
                if m:
                    for item in m.group(1).split(", "):
                        reason, n = item.rsplit(" ", 1)
                        if reason not in natural:
                            res.fallbacks += int(n)
                m = re.search(r"Bytes sent (\d+)", res.summary)
                if m:
                    res.notes.append(f"pump says bytes sent {m.group(1)}")
            results.append(res)
            print(fmt_row(res), flush=True)
    finally:
        subprocess.run(
            [v.pump, "--shutdown"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for relay in relays:
            relay.close()
        for d in daemons:
            d.stop()
    return results


# ------------------------------------------------------------------ report
HEADER = (
    f"{'variant':9s} {'rnd':>3s} {'b':>1s} {'rc':>3s} {'wall_s':>7s} {'cpu_s':>6s} "
    f"{'(IS)':>5s} {'dmn_s':>6s} {'TUs':>4s} {'pump':>4s} {'fallb':>5s} {'MB_sent':>8s} "
    f"{'KB/TU':>7s} {'ident':>5s} {'foreign':>7s} {'load1':>5s}"
)


def fmt_row(r: BuildResult) -> str:
    ident = "-" if r.identical is None else str(r.identical)
    return (
        f"{r.variant:9s} {r.round:3d} {r.build:1d} {r.rc:3d} {r.wall_s:7.2f} {r.cpu_s:6.2f} "
        f"{r.is_cpu_s:5.2f} {r.daemons_cpu_s:6.2f} {r.tus:4d} {r.remote_pump:4d} "
        f"{r.fallbacks:5d} {r.bytes_up / 1e6:8.2f} {r.bytes_per_tu / 1e3:7.1f} {ident:>5s} "
        f"{r.foreign_cpu_s:7.2f} {r.load1:5.1f}"
    )


def report(results: list[BuildResult], variants: list[str]) -> None:
    def med(variant: str, build: int, attr: str) -> float:
        return median(
            [float(getattr(r, attr)) for r in results if (r.variant, r.build) == (variant, build)]
        )

    print("\nmedians over rounds:")
    print(f"{'variant':9s} {'b':>1s} {'wall_s':>7s} {'cpu_s':>6s} {'KB/TU':>8s} {'fallbacks':>9s}")
    for v in variants:
        for b in (1, 2):
            print(
                f"{v:9s} {b:1d} {med(v, b, 'wall_s'):7.2f} {med(v, b, 'cpu_s'):6.2f} "
                f"{med(v, b, 'bytes_per_tu') / 1e3:8.1f} {med(v, b, 'fallbacks'):9.0f}"
            )
    if "stock" not in variants:
        return
    print(
        "\nratios against stock"
        " (targets: wall <= 1.0x, bytes sent in build 2 <= 0.1x, 0 fallbacks):"
    )
    for v in variants:
        if v == "stock":
            continue
        for b in (1, 2):
            wall = med(v, b, "wall_s") / med("stock", b, "wall_s")
            cpu = med(v, b, "cpu_s") / med("stock", b, "cpu_s")
            sent = med(v, b, "bytes_per_tu") / med("stock", b, "bytes_per_tu")
            fb = med(v, b, "fallbacks")
            verdict = []
            verdict.append("wall OK" if wall <= TARGETS["wall"] else "wall MISSED")
            if b == 2:
                verdict.append("bytes OK" if sent <= TARGETS["bytes2"] else "bytes MISSED")
            verdict.append("no fallback" if fb == 0 else f"{fb:.0f} fallbacks")
            print(
                f"  {v:7s} build {b}: wall {wall:.3f}x  cpu {cpu:.3f}x  bytes/TU {sent:.3f}x  "
                f"({', '.join(verdict)})"
            )


def local_build(pristine: Path, project: str, jobs: int) -> dict[str, str]:
    tree = copy_tree(pristine, WORK / project)
    t0 = time.perf_counter()
    subprocess.run(
        ["make", f"-j{jobs}", "-C", str(tree), *MAKE_ARGS[project], "CC=gcc"],
        env=dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(f"local   make -j{jobs}: {time.perf_counter() - t0:.2f} s", flush=True)
    return object_digests(tree)


def exclusive(path: Path) -> object:
    """One run at a time on this machine: every run uses the same tree, launchers and
    daemon directories (and two runs would time each other), so a second one waits."""
    import fcntl

    f = open(path, "a")  # noqa: SIM115 (kept open: the lock lives as long as the file)
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(f"waiting for another benchmark run ({path})", flush=True)
        fcntl.lockf(f, fcntl.LOCK_EX)
    return f


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[1])
    ap.add_argument("--project", default="redis", choices=sorted(MAKE_ARGS))
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--no-local", action="store_true", help="skip the local reference build")
    ap.add_argument("--json", help="write every build's figures here")
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    assert set(variants) <= set(VARIANTS), variants
    WORK.mkdir(parents=True, exist_ok=True)
    WORK.chmod(0o1777)
    lock = exclusive(WORK / ".lock")  # noqa: F841 (held until exit)
    stock_pump = ensure_stock_pump() if "stock" in variants else STOCK_PUMP_DIR
    ours = make_launchers(WORK / "bin", pump=True)
    pristine = WORK / f"{args.project}-pristine"
    if not pristine.exists():
        get_corpus(args.project, pristine)
    local = None if args.no_local else local_build(pristine, args.project, 2)
    print(HEADER, flush=True)
    results: list[BuildResult] = []
    for rnd in range(1, args.rounds + 1):
        for name in variants:
            v = Variant(name, ours, stock_pump, RUNS)
            results += run_variant(v, rnd, pristine, args.project, args.jobs, local)
    for r in results:
        if r.summary:
            print(f"\n{r.variant} build {r.build} pump summary:\n{r.summary}")
        for n in r.notes:
            print(f"  {r.variant} build {r.build}: {n}")
    report(results, variants)
    if args.json:
        rows = [asdict(r) | {"bytes_per_tu": r.bytes_per_tu, "cpu_s": r.cpu_s} for r in results]
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
