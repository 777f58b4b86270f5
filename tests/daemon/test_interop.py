"""Debian's stock ``distcc`` client compiling through our daemon (protocols 1 and 2)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.helpers import Daemon

StartDaemon = Callable[..., Daemon]
STOCK = "/usr/bin/distcc"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not os.path.exists(STOCK), reason="Debian's distcc is not installed"),
]


def _stock_compile(
    hosts: str, cwd: Path, args: list[str], distcc_dir: Path
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
    env.update(
        DISTCC_HOSTS=hosts,
        DISTCC_FALLBACK="0",  # a remote failure must not hide behind a local compile
        DISTCC_DIR=str(distcc_dir),
        DISTCC_SKIP_LOCAL_RETRY="1",
    )
    return subprocess.run([STOCK, *args], cwd=cwd, env=env, capture_output=True, timeout=60)


@pytest.mark.parametrize("options", ["", ",lzo"])
@pytest.mark.parametrize("flags", [["-O2"], ["-g", "-O0"]])
def test_stock_client_through_our_daemon(
    start_daemon: StartDaemon, hello: Path, tmp_path: Path, options: str, flags: list[str]
) -> None:
    gcc = shutil.which("gcc")
    assert gcc is not None
    # The stock client may rewrite gcc to its triplet name: allow both.
    daemon = start_daemon("--allow-compiler", "gcc", "--allow-compiler", "x86_64-linux-gnu-gcc")
    hosts = f"127.0.0.1:{daemon.port}{options}"
    distcc_dir = tmp_path / "distcc-dir"
    distcc_dir.mkdir()
    done = _stock_compile(
        hosts, hello.parent, ["gcc", *flags, "-c", "hello.c", "-o", "remote.o"], distcc_dir
    )
    assert done.returncode == 0, done.stderr
    subprocess.run(["gcc", *flags, "-c", "hello.c", "-o", "local.o"], cwd=hello.parent, check=True)
    assert (hello.parent / "remote.o").read_bytes() == (hello.parent / "local.o").read_bytes()
    assert daemon.wait_log("COMPILE_OK")[0].endswith(" hello.c")


def test_stock_client_sees_compile_errors(
    start_daemon: StartDaemon, hello: Path, tmp_path: Path
) -> None:
    daemon = start_daemon("--allow-compiler", "gcc", "--allow-compiler", "x86_64-linux-gnu-gcc")
    hello.write_text("int main(void) { return undeclared; }\n")
    distcc_dir = tmp_path / "distcc-dir"
    distcc_dir.mkdir()
    done = _stock_compile(
        f"127.0.0.1:{daemon.port},lzo", hello.parent, ["gcc", "-c", "hello.c"], distcc_dir
    )
    assert done.returncode == 1
    assert b"undeclared" in done.stderr
    assert daemon.wait_log("COMPILE_ERROR")
