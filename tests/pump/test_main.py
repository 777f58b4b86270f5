"""pump: the summary, the host-list rule, the code stamp, and the embedded default."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from pump.main import NATURALLY_LOCAL, code_stamp, host_list_configured, summarize
from tests.daemon.helpers import wait_for

LINES = [
    # where, mode, fallback, pump fallback, sent, received, exit, host
    "remote\tpump\t-\t-\t100\t50\t0\th1",
    "remote\tpump\t-\t-\t200\t60\t0\th2",
    "remote\tplain\t-\tpump-not-covered\t300\t70\t0\th1",
    "local\t-\tnot-compile\t-\t0\t0\t0\t-",
    "local\t-\tall-hosts-failed\t-\t0\t0\t1\t-",
]


def test_summary_counts_places_reasons_and_bytes(tmp_path: Path) -> None:
    stats = tmp_path / "stats"
    stats.write_text("\n".join(LINES) + "\nnot a record\n")
    text, fallbacks = summarize(stats)
    assert "5 distcc job(s): 2 remote (pump mode), 1 remote (plain mode), 2 local" in text
    assert "pump-not-covered 1" in text and "all-hosts-failed 1" in text
    assert "not-compile 1" in text
    assert "Bytes sent 600, received 180" in text
    assert fallbacks == 2  # not-compile is not a fallback
    assert "not-compile" in NATURALLY_LOCAL


def test_summary_counts_files_found_on_servers_and_stored_replies(tmp_path: Path) -> None:
    stats = tmp_path / "stats"
    # + files named by digest, files sent, "cached" (native protocol jobs)
    stats.write_text(
        "remote\tpump\t-\t-\t900\t50\t0\th1\t240\t40\t-\n"
        "remote\tpump\t-\t-\t700\t50\t0\th2\t240\t0\tcached\n"
        + LINES[0]  # an older line, without the counts
        + "\n"
    )
    text, _ = summarize(stats)
    assert "3 distcc job(s): 3 remote (pump mode)" in text
    assert "Files named by digest 480: 440 already on the servers (cache hits), 40 sent" in text
    assert "1 job(s) answered from the servers' result caches" in text
    assert "Files named" not in summarize(tmp_path / "absent")[0]


def test_summary_without_jobs(tmp_path: Path) -> None:
    text, fallbacks = summarize(tmp_path / "absent")
    assert "0 distcc job(s)" in text and fallbacks == 0


@pytest.mark.parametrize(
    ("env", "configured"),
    [
        ({"DISTCC_HOSTS": "a b"}, True),
        ({"DISTCC_HOSTS": ""}, False),
        ({"DISTCC_HOSTS": "   "}, False),
    ],
)
def test_host_list_configured(env: dict[str, str], configured: bool) -> None:
    assert host_list_configured(env) is configured


def test_code_stamp_is_stable() -> None:
    assert code_stamp() == code_stamp()
    assert len(code_stamp()) == 12


def test_embedded_default_private_daemon(
    tool_bin: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    """No hosts: pump runs this user's private loopback distccd, and the job runs there in
    pump mode, giving the object a local compile gives.  The next build reuses the daemon
    (and gets the stored reply of the identical job); ``pump --shutdown`` ends it."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "h.h").write_text("#define V 7\n")
    (src / "a.c").write_text('#include "h.h"\nint v(void) { return V; }\n')
    env = dict(clean_env, DISTCC_HOSTS="")
    argv = [str(tool_bin / "pump"), str(tool_bin / "distcc"), "gcc", "-g", "-O2", "-c", "a.c"]

    def build() -> str:
        r = subprocess.run(
            [*argv, "-o", "a.o"], cwd=src, env=env, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stderr
        assert "1 distcc job(s): 1 remote (pump mode), 0 remote (plain mode), 0 local" in r.stderr
        return r.stderr

    first = build()
    subprocess.run(["gcc", "-g", "-O2", "-c", "a.c", "-o", "local.o"], cwd=src, check=True)
    assert (src / "a.o").read_bytes() == (src / "local.o").read_bytes()
    (src / "a.o").unlink()
    second = build()
    assert (src / "a.o").read_bytes() == (src / "local.o").read_bytes()
    started = re.search(r"private distccd on 127.0.0.1:(\d+) \(started\)", first)
    reused = re.search(r"private distccd on 127.0.0.1:(\d+) \(reused\)", second)
    assert started and reused and started[1] == reused[1], (first, second)
    assert "0 job(s) answered from the servers' result caches" in first
    assert "1 job(s) answered from the servers' result caches" in second

    port = int(started[1])
    done = subprocess.run(
        [str(tool_bin / "pump"), "--shutdown"], env=env, capture_output=True, text=True
    )
    assert "Shutting down the private distccd" in done.stderr, done.stderr

    def refused() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return True
        return False

    wait_for(refused, "the private distccd to stop listening")


def test_pump_exits_with_the_command_status(tool_bin: Path, clean_env: dict[str, str]) -> None:
    env = dict(clean_env, DISTCC_HOSTS="127.0.0.1:1,cpp,lzo")
    r = subprocess.run(
        [str(tool_bin / "pump"), "sh", "-c", "exit 3"], env=env, capture_output=True, timeout=60
    )
    assert r.returncode == 3
