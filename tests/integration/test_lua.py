"""A real project: Debian's lua5.4 built with ``make -j8 CC="distcc gcc"`` in plain mode.

Two of our daemons (127.0.0.1 and 127.0.0.2); every compile must run remotely (the daemons'
COMPILE_OK lines add up to the number of objects, and the client logs no fallback), and
every object must be byte-identical to a local build of the same tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.daemons import Daemon

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "get.sh"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus/get.sh not available"),
]


@pytest.fixture(scope="module")
def lua_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("corpus") / "lua"
    subprocess.run([str(CORPUS), "lua5.4", str(dest)], check=True, stdout=subprocess.DEVNULL)
    return dest


def objects(tree: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*.o"))}


def test_lua_plain_mode_identical_objects(
    tool_bin: Path, workdir: Path, lua_tree: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    local_tree = tmp_path / "local"
    remote_tree = tmp_path / "remote"
    shutil.copytree(lua_tree, local_tree, symlinks=True)
    shutil.copytree(lua_tree, remote_tree, symlinks=True)
    subprocess.run(
        ["make", "-s", "-j8", "-C", str(local_tree), "linux", "CC=gcc"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    d1 = Daemon(str(tool_bin / "distccd"), workdir, address="127.0.0.1")
    d2 = Daemon(str(tool_bin / "distccd"), workdir, address="127.0.0.2")
    try:
        env = dict(clean_env)
        env["DISTCC_HOSTS"] = f"{d1.hostspec}/4,lzo {d2.hostspec}/4,lzo"
        env["DISTCC_LOG"] = str(tmp_path / "client.log")
        env["DISTCC_VERBOSE"] = "1"  # how each job preprocessed (client/directcpp.py)
        r = subprocess.run(
            ["make", "-s", "-j8", "-C", str(remote_tree), "linux", f"CC={tool_bin / 'distcc'} gcc"],
            env=env,
            capture_output=True,
        )
        assert r.returncode == 0, r.stderr.decode()[-3000:]
        expected = len(objects(remote_tree))
        deadline = time.monotonic() + 10
        while d1.compile_ok(0) + d2.compile_ok(0) < expected and time.monotonic() < deadline:
            time.sleep(0.05)  # the daemons log each job just after replying
        per_daemon = (d1.compile_ok(0), d2.compile_ok(0))
    finally:
        d1.stop()
        d2.stop()
    local, remote = objects(local_tree), objects(remote_tree)
    assert len(local) >= 30 and local.keys() == remote.keys()
    differing = [name for name in local if local[name] != remote[name]]
    assert differing == []
    assert sum(per_daemon) == len(remote)
    assert min(per_daemon) > 0, per_daemon
    client_log = (tmp_path / "client.log").read_text()
    assert "running locally" not in client_log
    assert client_log.count(": remote on ") == len(remote)
    # One command shape for all of lua's sources: after a few jobs, cc1 runs without the
    # driver, most often started by the launcher; every guess fitted its job.
    launched = client_log.count("directly (started at launch)")
    direct = client_log.count("directly (no driver)")
    print(f"\nlua5.4: {launched} cc1 started at launch, {direct} without the driver")
    assert launched >= len(remote) // 3, (launched, direct)
    assert "did not match" not in client_log
    assert os.path.exists(remote_tree / "src" / "lua")
