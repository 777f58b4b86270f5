#!/usr/bin/env python3
"""Benchmark objrewrite against debugedit 5.0 on a multi-megabyte ``-g3`` C++ object.

Usage: python3 bench/objrewrite_bench.py [--runs N] [--out DIR]

Builds (once, cached in bench/out/) a C++ translation unit that includes
``<bits/stdc++.h>`` plus template-heavy functions, compiled with ``g++ -O1 -g3`` inside a
"mirror" directory, then times, in the same run:
  - objrewrite in-process (``rewrite_bytes``), a no-match pass-through, and the
    ``objrewrite`` command (python -S launcher, as installed);
  - ``debugedit -b OLD -d NEW`` (the command; it has no library form).
Each timing is the median of N runs; file copies are outside the timed region.
It also checks both tools' outputs for leftover prefixes, on the gcc object and on clang
DWARF 5 and ``-gz`` objects, where debugedit is known to exit 0 without rewriting.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import objrewrite  # noqa: E402

os.environ["PYTHONPATH"] = str(REPO)  # the launcher finds this checkout, not an install

SRC = """#include <bits/stdc++.h>
template <class T> struct Box { T v; std::vector<T> xs; std::map<int, T> m;
  T sum() const { T s{}; for (auto &x : xs) s += x;
                  for (auto &kv : m) s += kv.second; return s; } };
"""
FUNC = """std::string f{i}(int n) {{
  Box<long> b; for (int k = 0; k < n; ++k) {{ b.xs.push_back(k * {i}); b.m[k] = k; }}
  std::unordered_map<std::string, std::vector<double>> u; u["a"].push_back(b.sum());
  std::ostringstream os; os << b.sum() << u.size(); auto s = os.str();
  std::sort(s.begin(), s.end());
  return s + std::to_string(std::accumulate(b.xs.begin(), b.xs.end(), 0L));
}}
"""
NEW_BASE = "/srv/a/much/longer/client/prefix/than/the/server/one"


def longer_than(old: str) -> str:
    """A NEW prefix at least 24 bytes longer than ``old`` (so every offset moves)."""
    new = NEW_BASE
    while len(new) < len(old) + 24:
        new += "/longer"
    return new + "/proj"


def build(out: Path, flags: list[str], cc: str, name: str) -> tuple[Path, str]:
    mirror = out / "mirror-root-XYZ" / "home" / "u" / "proj"
    (mirror / "src").mkdir(parents=True, exist_ok=True)
    src = mirror / "src" / "big.cc"
    text = SRC + "".join(FUNC.format(i=i) for i in range(90))
    if not src.exists() or src.read_text() != text:
        src.write_text(text)
    obj = out / name
    if not obj.exists():
        subprocess.run([cc, *flags, "-c", str(src), "-o", str(obj)], check=True, cwd=mirror / "src")
    return obj, str(mirror)


def median_ms(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def time_commands(cmds: list[list[str]], work: Path, obj: Path, runs: int) -> list[float]:
    """Median wall time of each command; the commands alternate run by run, so a change
    in the machine's load hits all of them alike (the machine is shared)."""
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for k, cmd in enumerate(cmds):
            shutil.copy(obj, work)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[k].append((time.perf_counter() - t0) * 1000)
    return [statistics.median(t) for t in times]


def launcher() -> list[str]:
    """The command as installed with the -S launcher (bin/objrewrite, see pyproject)."""
    return [sys.executable, "-S", str(REPO / "bin" / "objrewrite")]


def leftovers(path: Path, old: str) -> int:
    return len([h for h in objrewrite.find_prefix(path, old) if h.debug])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    # Byte-compile, as an install does: the command's start-up depends on it.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-f", str(REPO / "objrewrite")], check=True
    )
    for flags, name in (
        (["-O1", "-g3"], "big-gcc-g3.o"),
        (["-O1", "-g3", "-gdwarf-4"], "big-gcc-g3-dwarf4.o"),
    ):
        obj, mirror = build(out, flags, "g++", name)
        old = mirror
        NEW_LONG = longer_than(old)
        data = obj.read_bytes()
        rel = subprocess.run(
            ["readelf", "-rW", str(obj)], capture_output=True, text=True, check=True
        ).stdout
        nrel = sum(1 for ln in rel.splitlines() if " R_" in ln)
        print(
            f"object: {obj.name}: {len(data) / 1e6:.1f} MB, {nrel} relocations "
            f"(g++ {' '.join(flags)})"
        )
        print(f"  map: {old} -> {NEW_LONG} (longer)")
        t_in = median_ms(
            lambda d=data, o=old, n=NEW_LONG: objrewrite.rewrite_bytes(d, [(o, n)]), args.runs
        )
        t_noop = median_ms(
            lambda d=data: objrewrite.rewrite_bytes(d, [("/no/such/dir", "/x")]), args.runs
        )
        work = out / "work.o"
        ours_cmd = [*launcher(), "--map", f"{old}={NEW_LONG}", str(work)]
        de_cmd = ["debugedit", "-b", old, "-d", NEW_LONG, str(work)]
        t_cli, t_de = time_commands([ours_cmd, de_cmd], work, obj, args.runs)
        shutil.copy(obj, work)
        subprocess.run(ours_cmd, check=True, capture_output=True)
        ours_left = leftovers(work, old)
        shutil.copy(obj, work)
        subprocess.run(de_cmd, check=True, capture_output=True)
        de_left = leftovers(work, old)
        rows = [
            ("objrewrite in-process", t_in),
            ("objrewrite no-match pass-through", t_noop),
            ("objrewrite command", t_cli),
            ("debugedit 5.0 command", t_de),
        ]
        for label, t in rows:
            print(f"  {label:34s} {t:8.1f} ms   {t / t_de:5.2f}x debugedit")
        print(f"  leftover prefixes: objrewrite {ours_left}, debugedit {de_left}")
    print("correctness where debugedit fails (leftover debug hits after the rewrite):")
    for label, cc, flags in (
        ("clang++ -g (DWARF 5, strx)", "clang++", ["-O1", "-g"]),
        ("g++ -g -gz (compressed)", "g++", ["-O1", "-g", "-gz"]),
    ):
        cobj, cmirror = build(out, flags, cc, f"big-{cc}-{'-'.join(flags)}.o")
        NEW_LONG = longer_than(cmirror)
        shutil.copy(cobj, work)
        de = subprocess.run(
            ["debugedit", "-b", cmirror, "-d", NEW_LONG, str(work)], capture_output=True, text=True
        )
        de_left = leftovers(work, cmirror)
        shutil.copy(cobj, work)
        ours = subprocess.run(
            [*launcher(), "--map", f"{cmirror}={NEW_LONG}", str(work)],
            capture_output=True,
            text=True,
        )
        print(
            f"  {label:30s} debugedit: exit {de.returncode}, {de_left} left | "
            f"objrewrite: exit {ours.returncode}, {leftovers(work, cmirror)} left"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
