"""Include-server benchmark: every TU of a real project, cold then warm, ours vs stock 3.4.

Usage::

    python3 bench/include_server_bench.py [--project redis] [--stock /tmp/incs-stock-pump]
                                          [--warm-passes 5] [--runs 3] [--json OUT]

For each implementation a fresh server is started on a private socket, then every compile
command the project's own build ran (``bench/corpus.py``) is sent over the stock client
protocol (``CDIR``/``ARGC``/``ARGV``), one at a time, as a pump client would.  Pass 1 is cold
(fresh server); the warm passes repeat the same requests against the unchanged tree (the
figure is their mean, since one pass is close to the 10 ms resolution of the counters).  The
server's CPU time (user+system, its children included: compiler probes) is read from
``/proc/<pid>/stat`` around each pass, its peak RSS from ``VmHWM``.  The two servers run
alternately, ``--runs`` times each; medians are reported.

The stock server is Debian's distcc 3.4 include server with its C extension rebuilt so it
runs on Python 3.11 (``/work/shared/anchors/build-fixed-pump.sh DEST``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# bench/ is not put on sys.path: its common.py would shadow the ``common`` package.
sys.path.append(str(REPO / "bench"))

import corpus  # noqa: E402

from include_server.protocol import encode_request, read_paths  # noqa: E402
from include_server.server import query  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / TICK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(cmd: list[str], env: dict[str, str], sock: str, pid_file: str, log: Path) -> int:
    with open(log, "w") as out:
        subprocess.run(
            [*cmd, "--port", sock, "--pid_file", pid_file],
            env=env,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            check=True,
            timeout=60,
        )
    deadline = time.monotonic() + 30
    while not (os.path.exists(sock) and Path(pid_file).read_text().strip()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not start: {log.read_text()}")
        time.sleep(0.02)
    return int(Path(pid_file).read_text())


def stop(pid: int, sock: str) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.02)


def run(
    name: str,
    cmd: list[str],
    env: dict[str, str],
    commands: list[tuple[str, list[str]]],
    passes: int,
    work: Path,
) -> dict[str, object]:
    """One fresh server: a cold pass, then ``passes - 1`` warm ones."""
    sock = str(work / f"{name}.sock")
    pid_file = str(work / f"{name}.pid")
    Path(pid_file).write_text("")
    pid = start(cmd, env, sock, pid_file, work / f"{name}.log")
    results: list[dict[str, object]] = []
    try:
        for n in range(passes):
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            answered = paths = 0
            for cwd, argv in commands:
                reply = read_paths(io.BytesIO(query(sock, encode_request(cwd, argv), 120)))
                answered += bool(reply)
                paths += len(reply)
            results.append(
                {
                    "pass": n + 1,
                    "cpu_s": round(cpu_seconds(pid) - cpu0, 3),
                    "wall_s": round(time.monotonic() - t0, 3),
                    "answered": answered,
                    "paths": paths,
                }
            )
        rss = peak_rss_mb(pid)
    finally:
        stop(pid, sock)
    return {"impl": name, "tus": len(commands), "passes": results, "peak_rss_mb": round(rss, 1)}


def summary(runs: list[dict[str, object]]) -> dict[str, float]:
    colds, warms, rss = [], [], []
    for r in runs:
        passes = r["passes"]
        assert isinstance(passes, list)
        colds.append(float(passes[0]["cpu_s"]))
        warms.append(statistics.mean(float(p["cpu_s"]) for p in passes[1:]))
        rss.append(float(r["peak_rss_mb"]))  # type: ignore[arg-type]
    return {
        "cold_cpu_s": statistics.median(colds),
        "warm_cpu_s": statistics.median(warms),
        "peak_rss_mb": statistics.median(rss),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", default="redis")
    ap.add_argument("--stock", default="/tmp/incs-stock-pump")
    ap.add_argument("--warm-passes", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    ap.add_argument(
        "--ours-arg",
        dest="ours_args",
        action="append",
        default=[],
        help="extra option for our server (e.g. --ours-arg=--no-watch)",
    )
    args = ap.parse_args()
    _tree, commands = corpus.compile_commands(args.project)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISTCC", "INCLUDE_SERVER"))}
    ours_cmd = [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {str(REPO)!r}); "
        "from include_server.server import main; sys.exit(main())",
        *args.ours_args,
    ]
    stock_lib = Path(args.stock) / "lib" / "include_server"
    stock_cmd = ["/usr/bin/python3", str(stock_lib / "include_server.py")]
    stock_env = {**env, "PYTHONPATH": str(stock_lib)}
    runs: dict[str, list[dict[str, object]]] = {"stock-3.4": [], "ours": []}
    with tempfile.TemporaryDirectory(prefix="isbench-") as tmp:
        work = Path(tmp)
        for _ in range(args.runs):
            runs["stock-3.4"].append(
                run("stock-3.4", stock_cmd, stock_env, commands, 1 + args.warm_passes, work)
            )
            runs["ours"].append(run("ours", ours_cmd, env, commands, 1 + args.warm_passes, work))
    for name, rs in runs.items():
        for r in rs:
            passes = r["passes"]
            assert isinstance(passes, list)
            cold, warm = passes[0], passes[1]
            print(
                f"{name:10} cold {cold['cpu_s']:6.3f} s CPU ({cold['answered']}/{r['tus']} "
                f"answered, {cold['paths']} paths), warm {warm['cpu_s']:6.3f} s, "
                f"peak RSS {r['peak_rss_mb']} MB"
            )
    stock, ours = summary(runs["stock-3.4"]), summary(runs["ours"])
    print(
        f"{args.project}, {len(commands)} TUs, medians of {args.runs} runs "
        f"(warm: mean of {args.warm_passes} passes):"
    )
    for name, s in (("stock-3.4", stock), ("ours", ours)):
        print(
            f"  {name:10} cold {s['cold_cpu_s']:.3f} s CPU, warm {s['warm_cpu_s']:.3f} s CPU, "
            f"peak RSS {s['peak_rss_mb']:.1f} MB"
        )
    print(
        f"  cold ours/stock = {ours['cold_cpu_s'] / stock['cold_cpu_s']:.2f} (target <= 0.5); "
        f"warm/cold ours = {ours['warm_cpu_s'] / ours['cold_cpu_s']:.3f} (target <= 0.05); "
        f"RSS ours/stock = {ours['peak_rss_mb'] / stock['peak_rss_mb']:.2f} (target <= 1)"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"runs": runs, "stock": stock, "ours": ours}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
