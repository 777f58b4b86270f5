"""Pump mode end to end: ``pump``, our include server, our client, a pump-mode daemon.

The remote side is Debian's stock distccd with ``,cpp,lzo`` (the interop case of issue 4:
our client with stock daemons), or our own daemon, in protocol 3 (``,cpp,lzo``) and in the
native protocol (``,native``); with ours, ``.d`` files are byte-identical too.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import client_env
from tests.integration.daemons import STOCK_DISTCCD, Daemon

needs_stock = pytest.mark.skipif(
    not os.path.exists(STOCK_DISTCCD), reason="Debian's distccd is not installed"
)


@pytest.fixture
def pump_env(clean_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private TMPDIR, so this test's include server is its own (stopped afterwards)."""
    env = dict(clean_env)
    yield env
    subprocess.run(["pkill", "-f", f"include.server.*{env['TMPDIR']}"], check=False)


@needs_stock
def test_pump_build_with_stock_daemon(
    tool_bin: Path, stock_daemon: Daemon, hello: Path, pump_env: dict[str, str]
) -> None:
    env = client_env(pump_env, stock_daemon.hostspec + ",cpp,lzo")
    distcc = str(tool_bin / "distcc")
    script = f"{distcc} gcc -c hello.c -o hello.o && {distcc} gcc -O2 -c hello.c -o deps.o -MD"
    r = subprocess.run(
        [str(tool_bin / "pump"), "sh", "-c", script], cwd=hello, env=env, capture_output=True
    )
    assert r.returncode == 0, r.stderr.decode()
    summary = r.stderr.decode()
    assert "2 distcc job(s): 2 remote (pump mode), 0 remote (plain mode), 0 local" in summary
    assert "Not remote in pump mode" not in summary
    assert stock_daemon.compile_ok(2) == 2
    subprocess.run(["gcc", "-c", "hello.c", "-o", "local.o"], cwd=hello, check=True)
    assert (hello / "hello.o").read_bytes() == (hello / "local.o").read_bytes()
    pump_d = (hello / "deps.d").read_text()
    subprocess.run(["gcc", "-O2", "-c", "hello.c", "-o", "deps.o", "-MD"], cwd=hello, check=True)
    # The stock daemon's .d names the same files, but its line wrapping follows the
    # server's long temp object name (distcc 3.4's dcc_cleanup_dotd): compare the words.
    assert words(pump_d) == words((hello / "deps.d").read_text())


def words(dotd: str) -> list[str]:
    return dotd.replace("\\\n", " ").split()


@pytest.mark.parametrize("opts", [",cpp,lzo", ",native"], ids=["protocol3", "native"])
def test_pump_build_with_our_daemon(
    tool_bin: Path, our_daemon: Daemon, hello: Path, pump_env: dict[str, str], opts: str
) -> None:
    env = client_env(pump_env, our_daemon.hostspec + opts)
    distcc = str(tool_bin / "distcc")
    first = f"{distcc} gcc -g -O2 -c hello.c -o hello.o"
    second = f"{distcc} gcc -g -O2 -c {hello}/hello.c -o {hello}/deps.o -MD -MP"
    r = subprocess.run(
        [str(tool_bin / "pump"), "sh", "-c", f"{first} && {second}"],
        cwd=hello,
        env=env,
        capture_output=True,
    )
    assert r.returncode == 0, r.stderr.decode()
    summary = r.stderr.decode()
    assert "2 distcc job(s): 2 remote (pump mode), 0 remote (plain mode), 0 local" in summary
    assert our_daemon.compile_ok(2) == 2
    remote = {n: (hello / n).read_bytes() for n in ("hello.o", "deps.o", "deps.d")}
    subprocess.run(["gcc", "-g", "-O2", "-c", "hello.c", "-o", "hello.o"], cwd=hello, check=True)
    subprocess.run(
        ["gcc", "-g", "-O2", "-c", f"{hello}/hello.c", "-o", f"{hello}/deps.o", "-MD", "-MP"],
        cwd=hello,
        check=True,
    )
    assert remote == {n: (hello / n).read_bytes() for n in remote}


@needs_stock
def test_include_server_missing_falls_back_to_plain_and_is_counted(
    tool_bin: Path, stock_daemon: Daemon, hello: Path, pump_env: dict[str, str]
) -> None:
    env = client_env(pump_env, stock_daemon.hostspec + ",cpp,lzo")
    env["INCLUDE_SERVER_PORT"] = str(hello / "no-such-socket")
    env["DISTCC_STATS_FILE"] = str(hello / "stats")
    r = subprocess.run(
        [str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "hello.o"],
        cwd=hello,
        env=env,
        capture_output=True,
    )
    assert r.returncode == 0, r.stderr
    fields = (hello / "stats").read_text().split("\t")
    assert fields[:4] == ["remote", "plain", "-", "pump-not-covered"]
    env["DISTCC_PUMP_STRICT"] = "1"
    r = subprocess.run(
        [str(tool_bin / "distcc"), "gcc", "-c", "hello.c", "-o", "strict.o"],
        cwd=hello,
        env=env,
        capture_output=True,
    )
    assert r.returncode == 100
    assert b"--strict" in r.stderr
    assert not (hello / "strict.o").exists()
