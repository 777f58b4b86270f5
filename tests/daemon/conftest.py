"""Fixtures for the daemon tests: a running distccd and a small C project."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon.helpers import Daemon

HELLO = "int answer(void) { return 42; }\nint twice(int x) { return 2 * x; }\n"


@pytest.fixture
def start_daemon(tool_bin: Path, tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """``start_daemon(*args, host=..., env=...)``: a daemon stopped at teardown."""
    started: list[Daemon] = []

    def start(*args: str, host: str = "127.0.0.1", env: dict[str, str] | None = None) -> Daemon:
        work = tmp_path / f"daemon{len(started)}"
        work.mkdir()
        daemon = Daemon(tool_bin, work, host, args, env or {})
        started.append(daemon)
        return daemon.start()

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "hello.c"
    path.parent.mkdir()
    path.write_text(HELLO)
    return path
