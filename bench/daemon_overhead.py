"""Per-job overhead of our distccd against Debian's stock distccd, end to end.

Usage: python3 bench/daemon_overhead.py [N]

Starts both daemons on loopback (``--enable-tcp-insecure``, so both skip the allowlist),
then times N sequential protocol-1 and protocol-2 requests (alternating between the two
daemons, so that both see the same machine load), measured by the client from
``connect`` to the last byte of the reply: with ``true`` as the compiler (pure overhead:
accept, read, temp files, spawn, wait, reply, clean-up) and with ``gcc -c`` of a tiny
preprocessed file.  Prints the median and the 90th percentile in milliseconds.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common.protocol import Reader, read_reply, request_v12  # noqa: E402
from tests.conftest import make_launchers  # noqa: E402
from tests.daemon.helpers import free_port, wait_for  # noqa: E402

SOURCE = b"int answer(void) { return 42; }\n"


def start(cmd: list[str], pid_file: Path, env: dict[str, str]) -> int:
    subprocess.run(cmd, env=env, check=True, timeout=30)
    wait_for(pid_file.exists, "pid file")
    wait_for(lambda: pid_file.read_text().strip() != "", "pid")
    return int(pid_file.read_text())


def one_request(port: int, request: bytes, version: int) -> float:
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        reply = read_reply(Reader(sock.makefile("rb")), version)
    elapsed = (time.perf_counter() - t0) * 1000
    assert reply.status == 0, reply.stderr
    return elapsed


def time_requests(
    ports: dict[str, int], version: int, argv: list[str], n: int
) -> dict[str, list[float]]:
    """Alternate between the daemons request by request, so both see the same load."""
    request = request_v12(version, argv, SOURCE)
    times: dict[str, list[float]] = {name: [] for name in ports}
    for _ in range(n):
        for name, port in ports.items():
            times[name].append(one_request(port, request, version))
    return times


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    work = Path(tempfile.mkdtemp(prefix="dbench"))
    work.chmod(0o1777)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
    env["TMPDIR"] = str(work)
    bin_dir = make_launchers(work / "bin")
    ports = {"stock": free_port(), "ours": free_port()}
    common = ["--daemon", "--listen", "127.0.0.1", "--allow", "127.0.0.1"]
    common += ["--enable-tcp-insecure"]
    pids = {
        "stock": start(
            [
                "/usr/bin/distccd",
                *common,
                "--port",
                str(ports["stock"]),
                "--pid-file",
                str(work / "stock.pid"),
                "--log-file",
                str(work / "stock.log"),
            ],
            work / "stock.pid",
            env,
        ),
        "ours": start(
            [
                str(bin_dir / "distccd"),
                *common,
                "--port",
                str(ports["ours"]),
                "--pid-file",
                str(work / "ours.pid"),
                "--log-file",
                str(work / "ours.log"),
            ]
            + (["--user", "root"] if os.geteuid() == 0 else []),
            work / "ours.pid",
            env,
        ),
    }
    try:
        cases = [
            ("true, protocol 1", 1, ["true", "-c", "x.i", "-o", "x.o"]),
            ("true, protocol 2", 2, ["true", "-c", "x.i", "-o", "x.o"]),
            ("gcc -c, protocol 2", 2, ["gcc", "-c", "x.i", "-o", "x.o"]),
        ]
        for title, version, argv in cases:
            time_requests(ports, version, argv, 5)  # warm up
            for name, times in time_requests(ports, version, argv, n).items():
                times.sort()
                p90 = times[int(len(times) * 0.9)]
                print(
                    f"{title:20} {name:6} median {statistics.median(times):6.2f} ms"
                    f"  p90 {p90:6.2f} ms  (n={n})"
                )
    finally:
        for pid in pids.values():
            os.kill(pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
