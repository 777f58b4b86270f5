#!/usr/bin/env python3
"""Plain-mode benchmark: ours against Debian's stock distcc 3.4, in the same run.

    python3 bench/plain.py [--runs 200] [--builds lua5.4,redis] [--jobs 4] [--repeat 1]
                           [--baseline DIR]

1. Per-job overhead on a tiny translation unit: N invocations of each variant, interleaved
   round-robin so drift hits all alike; median milliseconds and the median over plain gcc.
   Variants: ``gcc``; ``stock`` (stock client -> stock distccd); ``ours`` (our client -> our
   distccd); ``ours->stock`` (our client -> stock distccd, isolating the client); with
   ``--baseline DIR``, ``baseline`` (that checkout's client -> its distccd, launched by its
   own bench/benchlib.py), for before/after figures in one interleaved run.
2. ``make -jJOBS`` of real projects in plain mode (fresh copy of the tree per build, one
   loopback daemon with 2 jobs per implementation, hosts ``127.0.0.1:PORT/4,lzo``), wall
   time, and every object compared with a local build of the same tree.

Prints a table and the ratios the issue sets targets for (overhead ours/stock <= 1.5,
build ours/stock <= 1.05).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (
    STOCK,
    Daemon,
    checkout_launchers,
    copy_tree,
    fresh_workdir,
    get_corpus,
    make_launchers,
    median,
)

TINY = "int add(int a, int b) { return a + b; }\n"


def client_env(distcc_dir: Path, hosts: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISTCC", "INCLUDE_SERVER"))}
    env["DISTCC_DIR"] = str(distcc_dir)
    env["DISTCC_HOSTS"] = hosts
    env["DISTCC_BACKOFF_PERIOD"] = "0"
    return env


def overhead(
    runs: int, ours: dict[str, str], work: Path, baseline: dict[str, str] | None = None
) -> dict[str, float]:
    src = work / "src"
    src.mkdir()
    (src / "tiny.c").write_text(TINY)
    stock_d = Daemon(STOCK["distccd"], 2, work / "stockd")
    our_d = Daemon(ours["distccd"], 2, work / "ourd")
    base_d = Daemon(baseline["distccd"], 2, work / "based") if baseline else None
    try:
        dd = work / "ddir"
        dd.mkdir()
        variants = {
            "gcc": ([], os.environ.copy()),
            "stock": ([STOCK["distcc"]], client_env(dd, f"127.0.0.1:{stock_d.port}/4")),
            "ours": ([ours["distcc"]], client_env(dd, f"127.0.0.1:{our_d.port}/4")),
            "ours->stock": ([ours["distcc"]], client_env(dd, f"127.0.0.1:{stock_d.port}/4")),
        }
        if baseline and base_d:
            variants["baseline"] = (
                [baseline["distcc"]],
                client_env(dd, f"127.0.0.1:{base_d.port}/4"),
            )
        times: dict[str, list[float]] = {k: [] for k in variants}
        for i in range(runs + 3):
            for name, (pre, env) in variants.items():
                cmd = [*pre, "gcc", "-c", "tiny.c", "-o", "tiny.o"]
                t = time.perf_counter()
                r = subprocess.run(cmd, cwd=src, env=env, stderr=subprocess.PIPE)
                dt = (time.perf_counter() - t) * 1000
                if r.returncode != 0:
                    sys.exit(f"{name} failed: {r.stderr.decode()}")
                if r.stderr:
                    sys.exit(f"{name} printed on stderr (a fallback?): {r.stderr.decode()}")
                if i >= 3:
                    times[name].append(dt)
        for log_path, label in ((stock_d.log, "stock"), (our_d.log, "ours")):
            text = log_path.read_text(errors="replace") if log_path.exists() else ""
            print(f"  {label} daemon log: {text.count('COMPILE_OK')} COMPILE_OK lines")
    finally:
        stock_d.stop()
        our_d.stop()
        if base_d:
            base_d.stop()
    med = {k: median(v) for k, v in times.items()}
    print(f"\nper-job overhead, tiny TU, {runs} runs each (median ms):")
    for name, m in med.items():
        print(f"  {name:12s} {m:7.2f} ms   over gcc {m - med['gcc']:+7.2f} ms")
    over_stock = med["stock"] - med["gcc"]
    over_ours = med["ours"] - med["gcc"]
    print(f"  ratio ours/stock overhead: {over_ours / over_stock:.2f} (target <= 1.5)")
    if "baseline" in med:
        over_base = med["baseline"] - med["gcc"]
        print(f"  ratio baseline/stock overhead: {over_base / over_stock:.2f}")
    return med


def build(project: str, jobs: int, ours: dict[str, str], work: Path, repeat: int) -> None:
    pristine = get_corpus(project, work / f"{project}-pristine")
    make_args = {
        "lua5.4": ["linux"],
        "redis": ["MALLOC=libc"],
    }[project]
    subdir = {"lua5.4": ".", "redis": "."}[project]

    def run_build(label: str, cc: str, env: dict[str, str]) -> float:
        tree = copy_tree(pristine, work / f"{project}-{label}")
        t = time.perf_counter()
        r = subprocess.run(
            ["make", f"-j{jobs}", "-C", str(tree / subdir), *make_args, f"CC={cc}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        dt = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f"{project} {label} build failed:\n{r.stderr.decode()[-3000:]}")
        return dt

    results: dict[str, list[float]] = {"local": [], "stock": [], "ours": []}
    for _ in range(repeat):
        stock_d = Daemon(STOCK["distccd"], 2, work / "bstockd")
        our_d = Daemon(ours["distccd"], 2, work / "bourd")
        try:
            dd = work / "bddir"
            dd.mkdir(exist_ok=True)
            results["local"].append(run_build("local", "gcc", os.environ.copy()))
            results["stock"].append(
                run_build(
                    "stock",
                    f"{STOCK['distcc']} gcc",
                    client_env(dd, f"127.0.0.1:{stock_d.port}/4,lzo"),
                )
            )
            results["ours"].append(
                run_build(
                    "ours", f"{ours['distcc']} gcc", client_env(dd, f"127.0.0.1:{our_d.port}/4,lzo")
                )
            )
        finally:
            stock_d.stop()
            our_d.stop()
        print(
            f"  {project}: stock daemon {stock_d.log.read_text().count('COMPILE_OK')} "
            f"remote jobs, ours {our_d.log.read_text().count('COMPILE_OK')}"
        )
    med = {k: median(v) for k, v in results.items()}
    print(f"\n{project} make -j{jobs}, plain mode, median of {repeat}:")
    for k, v in med.items():
        print(f"  {k:6s} {v:7.2f} s")
    print(f"  ratio ours/stock: {med['ours'] / med['stock']:.3f} (target <= 1.05)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--builds", default="lua5.4,redis")
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--baseline", type=Path, help="another checkout, measured in the same run")
    args = ap.parse_args()
    work = fresh_workdir("distcc-py-bench-")
    ours = make_launchers(work / "bin")
    print(f"workdir {work}")
    if args.runs:
        baseline = None
        if args.baseline:
            baseline = checkout_launchers(args.baseline.resolve(), work / "bin-baseline")
        overhead(args.runs, ours, work, baseline)
    for project in filter(None, args.builds.split(",")):
        build(project, args.jobs, ours, work, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
