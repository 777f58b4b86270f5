"""Fixtures for end-to-end tests: our daemons, stock daemons, a client environment."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.daemons import STOCK_DISTCCD, Daemon, world_dir

HELLO_H = '#define GREETING "hello from distcc-py"\n'
HELLO_C = """#include <stdio.h>
#include "hello.h"

int main(void)
{
    puts(GREETING);
    return 0;
}
"""


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory every user can reach (stock distccd drops root), removed afterwards."""
    d = world_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello.h").write_text(HELLO_H)
    (src / "hello.c").write_text(HELLO_C)
    return src


@pytest.fixture
def our_daemon(tool_bin: Path, workdir: Path) -> Iterator[Daemon]:
    d = Daemon(str(tool_bin / "distccd"), workdir)
    yield d
    d.stop()


@pytest.fixture
def stock_daemon(workdir: Path) -> Iterator[Daemon]:
    if not os.path.exists(STOCK_DISTCCD):
        pytest.skip("Debian's distccd is not installed")
    d = Daemon(STOCK_DISTCCD, workdir, stock=True)
    yield d
    d.stop()


def client_env(base: dict[str, str], hosts: str, **extra: str) -> dict[str, str]:
    env = dict(base)
    env["DISTCC_HOSTS"] = hosts
    env.update(extra)
    return env
