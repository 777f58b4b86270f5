"""Pump mode under faults: a daemon killed mid-build, no daemon at all, the include server
killed mid-build.  Every fault ends in a correct build (or, under ``--strict``, a failed
one), and ``pump``'s summary counts what happened.

The project is generated: ``NUNITS`` C files sharing a few headers, built with
``pump make -j8`` through our client.  Objects are compared with a local build of the same
tree at the same path (no ``-g``, so plain-mode objects are comparable too).  Faults are
injected when the daemons' logs show that some jobs have completed (polled, never slept
on); daemons run in the foreground in their own session, so ``killpg`` by their pid stops
them and nothing else.  The remote side is our ``distccd`` with ``,cpp,lzo`` (distcc's
protocol 3).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pump.main import code_stamp
from tests.integration.daemons import Daemon, free_port

NUNITS = 40
MAKE_TIMEOUT = 120.0
SUMMARY = re.compile(
    r"(\d+) distcc job\(s\): (\d+) remote \(pump mode\), (\d+) remote \(plain mode\), (\d+) local"
)

COMMON_H = """#ifndef COMMON_H
#define COMMON_H
#include <stddef.h>
#include <string.h>
#include "config.h"
typedef struct { long a[SIZE]; } vec;
long mix(long x, long y);
#endif
"""
CONFIG_H = "#define SIZE 64\n#define ROUNDS 7\n"
GROUP_H = """#include "common.h"
static inline long group{g}(long x) {{ return x * {k} + (x >> {g}); }}
"""
UNIT_C = """#include "common.h"
#include "group{g}.h"
#include <stdio.h>

static long work{i}(vec *v, long seed)
{{
    long acc = seed;
    for (int r = 0; r < ROUNDS; r++)
        for (size_t j = 0; j < SIZE; j++) {{
            v->a[j] = group{g}(v->a[j] ^ acc) + (long)j * {i};
            acc += v->a[j] % 17;
        }}
    return acc;
}}

long unit{i}(long seed)
{{
    vec v;
    memset(&v, 0, sizeof v);
    long s = work{i}(&v, seed);
    for (int k = 0; k < {i} % 5 + 1; k++)
        s ^= work{i}(&v, s + k);
    if (s == 42)
        printf("unit{i} %ld\\n", s);
    return s;
}}
"""
MAKEFILE = """OBJS := $(patsubst %.c,%.o,$(sort $(wildcard u*.c)))
all: $(OBJS)
%.o: %.c
\t$(CC) -O2 -Wall -c $< -o $@
clean:
\trm -f $(OBJS)
"""


def write_project(root: Path) -> Path:
    root.mkdir()
    (root / "common.h").write_text(COMMON_H)
    (root / "config.h").write_text(CONFIG_H)
    (root / "Makefile").write_text(MAKEFILE)
    for g in range(4):
        (root / f"group{g}.h").write_text(GROUP_H.format(g=g, k=3 + 2 * g))
    for i in range(NUNITS):
        (root / f"u{i:02d}.c").write_text(UNIT_C.format(i=i, g=i % 4))
    return root


def objects(tree: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(tree.glob("*.o"))}


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """The generated tree and its objects from a local build (then cleaned)."""
    tree = write_project(tmp_path / "proj")
    subprocess.run(["make", "-j2", "-C", str(tree), "CC=gcc"], check=True, capture_output=True)
    local = objects(tree)
    assert len(local) == NUNITS
    subprocess.run(["make", "-C", str(tree), "clean"], check=True, capture_output=True)
    return tree, local


@pytest.fixture
def pump_env(clean_env: dict[str, str], tool_bin: Path) -> Iterator[dict[str, str]]:
    """A private TMPDIR (so this test's include server is its own), stopped afterwards
    through ``pump --shutdown`` (by the pid in its state directory)."""
    env = dict(clean_env)
    env["DISTCC_LOG"] = str(Path(env["TMPDIR"]).parent / "client.log")
    yield env
    subprocess.run([str(tool_bin / "pump"), "--shutdown"], env=env, capture_output=True)


def start_build(
    tree: Path, tool_bin: Path, env: dict[str, str], *pump_args: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(tool_bin / "pump"),
            *pump_args,
            "make",
            "-j8",
            "-C",
            str(tree),
            f"CC={tool_bin / 'distcc'} gcc",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(cond: Callable[[], bool], build: subprocess.Popen[str], what: str) -> None:
    """Poll ``cond`` while the build runs; the build must not end first."""
    deadline = time.monotonic() + MAKE_TIMEOUT
    while not cond():
        assert build.poll() is None, f"the build ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def finish(build: subprocess.Popen[str]) -> tuple[int, str]:
    _out, err = build.communicate(timeout=MAKE_TIMEOUT)
    return build.returncode, err


def counts(summary: str) -> tuple[int, int, int, int]:
    m = SUMMARY.search(summary)
    assert m, summary
    jobs, pump, plain, local = (int(g) for g in m.groups())
    return jobs, pump, plain, local


def reasons(summary: str) -> dict[str, int]:
    m = re.search(r"by reason: (.*)", summary)
    if m is None:
        return {}
    return {name: int(n) for name, n in (r.rsplit(" ", 1) for r in m.group(1).split(", "))}


def kill_group(pid: int) -> None:
    os.killpg(pid, signal.SIGKILL)


def test_daemon_killed_mid_build_jobs_go_to_the_other(
    project: tuple[Path, dict[str, bytes]],
    tool_bin: Path,
    workdir: Path,
    pump_env: dict[str, str],
) -> None:
    tree, local = project
    d1 = Daemon(str(tool_bin / "distccd"), workdir, address="127.0.0.1", jobs=2)
    d2 = Daemon(str(tool_bin / "distccd"), workdir, address="127.0.0.2", jobs=2)
    try:
        env = dict(pump_env)
        # d1 first in the list: it gets the first jobs of every round of slots.
        env["DISTCC_HOSTS"] = f"{d1.hostspec}/4,cpp,lzo {d2.hostspec}/4,cpp,lzo"
        build = start_build(tree, tool_bin, env)
        wait_until(lambda: d1.log_text().count("COMPILE_OK") >= 3, build, "3 jobs on daemon 1")
        kill_group(d1.proc.pid)
        d1.proc.wait()
        done_on_d1 = d1.log_text().count("COMPILE_OK")
        rc, summary = finish(build)
        assert rc == 0, summary
        # A job whose reply left daemon 1 just before the kill may miss its log line:
        # at most one per slot of daemon 1.
        rest = NUNITS - done_on_d1 - 4
        assert d2.compile_ok(rest) >= rest
    finally:
        d1.stop()
        d2.stop()
    assert done_on_d1 < NUNITS
    assert objects(tree) == local
    # Every job ran remotely in pump mode: those cut off on daemon 1 were retried on 2.
    assert counts(summary) == (NUNITS, NUNITS, 0, 0), summary
    assert reasons(summary) == {}, summary
    assert "Bytes sent" in summary
    # The client said which host failed it (then backed it off and went on with the other).
    assert f"to {d1.hostspec}/4,cpp,lzo" in Path(pump_env["DISTCC_LOG"]).read_text()


def test_all_daemons_down_falls_back_locally_and_strict_fails(
    project: tuple[Path, dict[str, bytes]],
    tool_bin: Path,
    pump_env: dict[str, str],
) -> None:
    tree, local = project
    env = dict(pump_env)
    # Two loopback addresses with nothing listening (refused at once).
    env["DISTCC_HOSTS"] = (
        f"127.0.0.1:{free_port('127.0.0.1')}/4,cpp,lzo 127.0.0.2:{free_port('127.0.0.2')}/4,cpp,lzo"
    )
    rc, summary = finish(start_build(tree, tool_bin, env))
    assert rc == 0, summary
    assert objects(tree) == local
    assert counts(summary) == (NUNITS, 0, 0, NUNITS), summary
    why = reasons(summary)
    # The first jobs find both hosts refusing; later ones find both backed off.
    assert set(why) <= {"all-hosts-failed", "no-hosts"}, summary
    assert sum(why.values()) == NUNITS, summary
    assert why.get("all-hosts-failed", 0) >= 1, summary

    subprocess.run(["make", "-C", str(tree), "clean"], check=True, capture_output=True)
    strict_env = dict(env, DISTCC_DIR=str(Path(env["DISTCC_DIR"]) / "strict"))
    Path(strict_env["DISTCC_DIR"]).mkdir()
    rc, summary = finish(start_build(tree, tool_bin, strict_env, "--strict"))
    assert rc != 0, summary
    assert objects(tree) == {}, "a job compiled locally under --strict"
    jobs, pump, plain, _local = counts(summary)
    assert jobs >= 1 and pump == plain == 0, summary
    # Every job that started says why it did not run (none ran).
    why = reasons(summary)
    assert set(why) <= {"all-hosts-failed", "no-hosts"} and sum(why.values()) == jobs, summary
    assert "fallbacks are disabled" in Path(env["DISTCC_LOG"]).read_text()


def test_include_server_killed_mid_build_goes_plain_and_is_counted(
    project: tuple[Path, dict[str, bytes]],
    tool_bin: Path,
    workdir: Path,
    pump_env: dict[str, str],
) -> None:
    tree, local = project
    d1 = Daemon(str(tool_bin / "distccd"), workdir, address="127.0.0.1", jobs=2)
    d2 = Daemon(str(tool_bin / "distccd"), workdir, address="127.0.0.2", jobs=2)
    # pump.main.state_dir(): $TMPDIR/distcc-py-pump-<uid>-<code stamp>/pid
    pid_file = Path(pump_env["TMPDIR"]) / f"distcc-py-pump-{os.getuid()}-{code_stamp()}" / "pid"
    try:
        env = dict(pump_env)
        env["DISTCC_HOSTS"] = f"{d1.hostspec}/4,cpp,lzo {d2.hostspec}/4,cpp,lzo"
        build = start_build(tree, tool_bin, env)

        def some_done() -> bool:
            return (d1.log_text() + d2.log_text()).count("COMPILE_OK") >= 3

        wait_until(some_done, build, "3 remote jobs")
        server_pid = int(pid_file.read_text().strip())
        os.kill(server_pid, signal.SIGKILL)
        pid_file.unlink()  # so that teardown's ``pump --shutdown`` signals nobody
        rc, summary = finish(build)
        assert rc == 0, summary
    finally:
        d1.stop()
        d2.stop()
    assert objects(tree) == local
    jobs, pump, plain, nlocal = counts(summary)
    assert (jobs, nlocal) == (NUNITS, 0), summary
    assert pump >= 3 and plain >= 1, summary
    assert reasons(summary) == {"pump-not-covered": plain}, summary
