#!/usr/bin/env python3
"""Client CPU per job: ours against Debian's stock distcc 3.4 client, one job at a time.

    python3 bench/client_cpu.py [--runs 30] [--rounds 3] [--baseline DIR] [--modes plain,pump]

What is measured: user+system CPU of one ``distcc`` process and of everything it waits for
(``os.wait4``'s rusage: for plain mode this includes the local cpp), median over ``--runs``
jobs, per variant.  Variants are measured round-robin, ``--rounds`` times, so that a busy
machine slows all alike; wall time is printed too but is only meaningful on a quiet machine.

- ``plain``: a one-line C file, hosts ``127.0.0.1:PORT/4`` (protocol 1), each client with a
  loopback daemon of its own kind (``--jobs 2``).
- ``pump``: redis's ``lazyfree.c`` (a ~240-file closure) with redis's own flags, the include
  server started by ``pump --startup``, hosts ``,native`` for ours and ``,cpp,lzo`` for stock;
  ``DISTCC_LOG`` set, as ``bench/pump.py`` sets it.  The first two jobs of each batch are
  not counted (the daemon's store and the include server warm up).

``--baseline DIR``: also measure the client of another checkout (e.g. ``git worktree add
/tmp/base main``), byte-compiled and launched by that checkout's own ``bench/benchlib.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib
from benchlib import STOCK, Daemon, checkout_launchers, fresh_workdir, get_corpus, median

STOCK_PUMP = Path("/tmp/distcc-pump-fixed/bin/pump")  # built by bench/pump.py
TINY = "int add(int a, int b) { return a + b; }\n"
REDIS_FLAGS = [
    "-pedantic",
    "-DREDIS_STATIC=",
    "-std=c11",
    "-Wall",
    "-W",
    "-Wno-missing-field-initializers",
    "-O2",
    "-g",
    "-ggdb",
    "-I../deps/hiredis",
    "-I../deps/linenoise",
    "-I../deps/lua/src",
    "-I../deps/hdr_histogram",
    "-MMD",
]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("DISTCC", "INCLUDE_SERVER"))}


def one_job(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU ms, wall ms) of one client run in the current directory; exits if it fails."""
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - t) * 1000
    if status != 0:
        sys.exit(f"{argv[0]} failed: wait status {status}")
    return (usage.ru_utime + usage.ru_stime) * 1000, wall


class Variant:
    """One client and its daemon (and include server, in pump mode)."""

    def __init__(self, name: str, tools: dict[str, str], mode: str, work: Path, src: Path):
        self.name = name
        self.tools = tools
        self.mode = mode
        self.work = work / f"{name}-{mode}"
        self.work.mkdir()
        self.daemon = Daemon(tools["distccd"], 2, self.work / "d")
        self.env = clean_env()
        for d in ("tmp", "ddir"):
            (self.work / d).mkdir()
        self.env["TMPDIR"] = str(self.work / "tmp")
        self.env["DISTCC_DIR"] = str(self.work / "ddir")
        self.env["DISTCC_BACKOFF_PERIOD"] = "0"
        host = f"127.0.0.1:{self.daemon.port}/4"
        if mode == "plain":
            self.cwd = src
            self.argv = [tools["distcc"], "gcc", "-c", "tiny.c", "-o", str(self.work / "t.o")]
        else:
            host += ",cpp,lzo" if name == "stock" else ",native"
            self.env["DISTCC_LOG"] = str(self.work / "client.log")
            self.cwd = src / "src"
            out = str(self.work / "lazyfree.o")
            self.argv = [tools["distcc"], "gcc", *REDIS_FLAGS, "-o", out, "-c", "lazyfree.c"]
        self.env["DISTCC_HOSTS"] = host
        if mode == "pump":
            r = subprocess.run(
                [tools["pump"], "--startup"], env=self.env, capture_output=True, text=True
            )
            found = dict(re.findall(r"export (\w+)='([^']*)'", r.stdout))
            self.env.update({k: v for k, v in found.items() if k.startswith("INCLUDE_SERVER_")})
        self.cpu: list[float] = []
        self.wall: list[float] = []

    def batch(self, runs: int) -> None:
        os.chdir(self.cwd)
        for i in range(runs + 2):
            cpu, wall = one_job(self.argv, self.env)
            if i >= 2:
                self.cpu.append(cpu)
                self.wall.append(wall)

    def stop(self) -> None:
        if self.mode == "pump":
            subprocess.run([self.tools["pump"], "--shutdown"], env=self.env, capture_output=True)
        self.daemon.stop()

    def fallbacks(self) -> int:
        """Warnings in the client log (a job that did not go remote as intended)."""
        log = Path(self.env.get("DISTCC_LOG", "/nonexistent"))
        text = log.read_text(errors="replace") if log.exists() else ""
        return text.count("WARNING") + text.count("ERROR")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[1])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", type=Path, help="another checkout to measure too")
    ap.add_argument("--modes", default="plain,pump")
    args = ap.parse_args()
    work = fresh_workdir("distcc-py-clientcpu-")
    if not STOCK_PUMP.exists():
        script = benchlib.SHARED / "anchors" / "build-fixed-pump.sh"
        subprocess.run(["bash", str(script), str(STOCK_PUMP.parent.parent)], check=True)
    tools = {
        "stock": {**STOCK, "pump": str(STOCK_PUMP)},
        "ours": benchlib.make_launchers(work / "bin-ours", pump=True),
    }
    if args.baseline:
        tools["baseline"] = checkout_launchers(args.baseline.resolve(), work / "bin-baseline", True)
    tiny = work / "tiny"
    tiny.mkdir()
    (tiny / "tiny.c").write_text(TINY)
    # Under /var/tmp, not /tmp, and alone in its parent: the include server watches the
    # tree's parent directory recursively.
    redis = Path("/var/tmp/distcc-py-clientcpu/redis")
    redis.parent.mkdir(exist_ok=True)
    if not redis.exists():
        get_corpus("redis", redis)
    print(f"workdir {work}")
    for mode in filter(None, args.modes.split(",")):
        src = tiny if mode == "plain" else redis
        variants = [Variant(name, t, mode, work, src) for name, t in tools.items()]
        try:
            for _ in range(args.rounds):
                for v in variants:
                    v.batch(args.runs)
        finally:
            for v in variants:
                v.stop()
        print(f"\n{mode} mode, {args.rounds} x {args.runs} jobs per variant (medians):")
        for v in variants:
            print(
                f"  {v.name:9s} CPU {median(v.cpu):6.2f} ms (min {min(v.cpu):5.2f})"
                f"   wall {median(v.wall):7.2f} ms   log warnings {v.fallbacks()}"
            )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
