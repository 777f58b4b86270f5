"""Job counters and the ``--stats`` HTTP page, in distcc 3.4's format (reference §8.1).

``Stats`` is the only mutable shared state of the daemon besides the job slots: job
threads call ``record``; the accept loop renders the page.  A lock guards it; every
method is O(jobs finished in the last 15 minutes) at worst.

``render_page`` is pure: the host figures (load, free space, process states) are gathered
by ``HostFacts.read`` from /proc and passed in, so tests check the format byte for byte.
Line ends are bare ``\\n``, as distcc writes them.

Vocabulary (distcc's job result classes, also used in the one-line job summary):
TCP_ACCEPT, REJ_BAD_REQ (protocol error), REJ_OVERLOAD (too many connections),
COMPILE_OK, COMPILE_ERROR, COMPILE_TIMEOUT, CLI_DISCONN (client gone, I/O error), OTHER
(refused: access, compiler, options).

``dcc_avg_kidsN`` is the average number of compilers running over the last 1/5/15
minutes, from the jobs finished in that window (distcc computes it from a 2-minute
sample; ours is the busy time divided by the window).  ``dcc_io_rate`` is always -1 (not
measured).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from dataclasses import dataclass


class Result:
    TCP_ACCEPT = "TCP_ACCEPT"
    REJ_BAD_REQ = "REJ_BAD_REQ"
    REJ_OVERLOAD = "REJ_OVERLOAD"
    COMPILE_OK = "COMPILE_OK"
    COMPILE_ERROR = "COMPILE_ERROR"
    COMPILE_TIMEOUT = "COMPILE_TIMEOUT"
    CLI_DISCONN = "CLI_DISCONN"
    OTHER = "OTHER"

    ALL = (
        TCP_ACCEPT,
        REJ_BAD_REQ,
        REJ_OVERLOAD,
        COMPILE_OK,
        COMPILE_ERROR,
        COMPILE_TIMEOUT,
        CLI_DISCONN,
        OTHER,
    )


_COUNTER_KEYS = (
    ("dcc_tcp_accept", Result.TCP_ACCEPT),
    ("dcc_rej_bad_req", Result.REJ_BAD_REQ),
    ("dcc_rej_overload", Result.REJ_OVERLOAD),
    ("dcc_compile_ok", Result.COMPILE_OK),
    ("dcc_compile_error", Result.COMPILE_ERROR),
    ("dcc_compile_timeout", Result.COMPILE_TIMEOUT),
    ("dcc_cli_disconnect", Result.CLI_DISCONN),
    ("dcc_other", Result.OTHER),
)
WINDOWS = (60.0, 300.0, 900.0)


@dataclass(frozen=True)
class Snapshot:
    counters: dict[str, int]
    longest_job: str
    longest_job_compiler: str
    longest_job_msecs: int
    max_kids: int
    avg_kids: tuple[int, int, int]
    num_compiles: tuple[int, int, int]


@dataclass(frozen=True)
class HostFacts:
    current_load: int = 0  # runnable processes
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    procs_in_d: int = 0
    max_rss_kib: int = 0
    max_rss_name: str = "none"
    free_space_mb: int = -1

    @classmethod
    def read(cls, tmp_dir: str) -> HostFacts:
        """Gather the figures from /proc and statvfs; anything unreadable stays 0/-1."""
        current, load = 0, (0.0, 0.0, 0.0)
        try:
            with open("/proc/loadavg") as f:
                parts = f.read().split()
            load = (float(parts[0]), float(parts[1]), float(parts[2]))
            current = int(parts[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            pass
        procs_d, max_rss, max_name = 0, 0, "none"
        page_kib = os.sysconf("SC_PAGESIZE") // 1024
        try:
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
        except OSError:
            pids = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name = stat[stat.find("(") + 1 : stat.rfind(")")]
            fields = stat[stat.rfind(")") + 2 :].split()
            if len(fields) < 22:
                continue
            if fields[0] == "D":
                procs_d += 1
            rss = int(fields[21]) * page_kib
            if rss > max_rss and not name.startswith(("cc1", "gcc", "g++", "clang")):
                max_rss, max_name = rss, name
        free = -1
        try:
            st = os.statvfs(tmp_dir)
            free = st.f_bavail * st.f_frsize // (1024 * 1024)
        except OSError:
            pass
        return cls(current, load, procs_d, max_rss, max_name, free)


class Stats:
    """Thread-safe counters; ``now`` values come from the caller's monotonic clock."""

    def __init__(self, max_kids: int) -> None:
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(Result.ALL, 0)
        self._finished: deque[tuple[float, float]] = deque()  # (end, duration) of compiles
        self._longest = ("none", "none", 0)
        self.max_kids = max_kids

    def record(
        self, result: str, now: float, duration: float = 0.0, compiler: str = "", source: str = ""
    ) -> None:
        with self._lock:
            self._counters[result] += 1
            if result in (Result.COMPILE_OK, Result.COMPILE_ERROR):
                self._finished.append((now, duration))
                self._prune(now)
            if result == Result.COMPILE_OK:
                msecs = int(duration * 1000)
                if msecs >= self._longest[2]:
                    self._longest = (source or "none", compiler or "none", msecs)

    def _prune(self, now: float) -> None:
        while self._finished and self._finished[0][0] < now - WINDOWS[-1]:
            self._finished.popleft()

    def count(self, result: str) -> int:
        with self._lock:
            return self._counters[result]

    def snapshot(self, now: float) -> Snapshot:
        with self._lock:
            self._prune(now)
            compiles = []
            kids = []
            for window in WINDOWS:
                recent = [(end, d) for end, d in self._finished if end >= now - window]
                compiles.append(len(recent))
                kids.append(round(sum(d for _, d in recent) / window))
            return Snapshot(
                counters={key: self._counters[r] for key, r in _COUNTER_KEYS},
                longest_job=self._longest[0],
                longest_job_compiler=self._longest[1],
                longest_job_msecs=self._longest[2],
                max_kids=self.max_kids,
                avg_kids=(kids[0], kids[1], kids[2]),
                num_compiles=(compiles[0], compiles[1], compiles[2]),
            )


def render_page(snap: Snapshot, host: HostFacts) -> bytes:
    """The whole HTTP reply, header included."""
    lines = [
        "HTTP/1.0 200 OK",
        "Content-Type: text/plain",
        "Connection: close",
        "",
        "argv /distccd",
        "<distccstats>",
    ]
    lines += [f"{key} {value}" for key, value in snap.counters.items()]
    lines += [
        f"dcc_longest_job {snap.longest_job}",
        f"dcc_longest_job_compiler {snap.longest_job_compiler}",
        f"dcc_longest_job_time_msecs {snap.longest_job_msecs}",
        f"dcc_max_kids {snap.max_kids}",
        f"dcc_avg_kids1 {snap.avg_kids[0]}",
        f"dcc_avg_kids2 {snap.avg_kids[1]}",
        f"dcc_avg_kids3 {snap.avg_kids[2]}",
        f"dcc_current_load {host.current_load}",
        f"dcc_load1 {host.load[0]:1.2f}",
        f"dcc_load2 {host.load[1]:1.2f}",
        f"dcc_load3 {host.load[2]:1.2f}",
        f"dcc_num_compiles1 {snap.num_compiles[0]}",
        f"dcc_num_compiles2 {snap.num_compiles[1]}",
        f"dcc_num_compiles3 {snap.num_compiles[2]}",
        f"dcc_num_procstate_D {host.procs_in_d}",
        f"dcc_max_RSS {host.max_rss_kib}",
        f"dcc_max_RSS_name {host.max_rss_name}",
        "dcc_io_rate -1",
        f"dcc_free_space {host.free_space_mb} MB",
        "</distccstats>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8", "replace")
