"""Interop with Debian's stock distcc 3.4, both directions, protocols 1 and 2.

- stock ``distcc`` client -> our ``distccd``;
- our ``distcc`` client -> stock ``distccd``.
Each direction compiles and links a small program with a header (the object must equal a
local compile's), and compiles a syntax error (same exit code and message as local).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import client_env
from tests.integration.daemons import STOCK_DISTCC, Daemon

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not os.path.exists(STOCK_DISTCC), reason="Debian's distcc not installed"),
]

OPTS = pytest.mark.parametrize("opts", ["", ",lzo"], ids=["protocol1", "protocol2"])


def compile_link_run(client: list[str], hello: Path, env: dict[str, str]) -> None:
    r = subprocess.run(
        [*client, "gcc", "-c", "hello.c", "-o", "hello.o"], cwd=hello, env=env, capture_output=True
    )
    assert r.returncode == 0, r.stderr
    assert b"running locally" not in r.stderr, r.stderr
    subprocess.run(["gcc", "-c", "hello.c", "-o", "local.o"], cwd=hello, check=True)
    assert (hello / "hello.o").read_bytes() == (hello / "local.o").read_bytes()
    subprocess.run(["gcc", "hello.o", "-o", "hello"], cwd=hello, check=True)
    out = subprocess.run([str(hello / "hello")], capture_output=True, check=True).stdout
    assert out == b"hello from distcc-py\n"


def syntax_error(client: list[str], hello: Path, env: dict[str, str]) -> bytes:
    (hello / "bad.c").write_text("int main(void) { return 0 }\n")
    local = subprocess.run(["gcc", "-c", "bad.c", "-o", "bad.o"], cwd=hello, capture_output=True)
    remote = subprocess.run(
        [*client, "gcc", "-c", "bad.c", "-o", "bad.o"], cwd=hello, env=env, capture_output=True
    )
    assert remote.returncode == local.returncode != 0
    assert local.stderr in remote.stderr
    assert not (hello / "bad.o").exists()
    return remote.stderr


@OPTS
def test_stock_client_to_our_daemon(
    our_daemon: Daemon, hello: Path, clean_env: dict[str, str], opts: str
) -> None:
    env = client_env(clean_env, our_daemon.hostspec + opts)
    compile_link_run([STOCK_DISTCC], hello, env)
    assert our_daemon.compile_ok(1) == 1
    syntax_error([STOCK_DISTCC], hello, env)


@OPTS
def test_our_client_to_stock_daemon(
    tool_bin: Path, stock_daemon: Daemon, hello: Path, clean_env: dict[str, str], opts: str
) -> None:
    env = client_env(clean_env, stock_daemon.hostspec + opts)
    compile_link_run([str(tool_bin / "distcc")], hello, env)
    assert stock_daemon.compile_ok(1) == 1
    stderr = syntax_error([str(tool_bin / "distcc")], hello, env)
    assert stderr.count(b"error: expected") == 1
    lock_dir = Path(clean_env["DISTCC_DIR"]) / "lock"
    assert not list(lock_dir.glob("backoff*"))
