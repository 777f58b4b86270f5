"""Fixtures for the hostile-client, load and access suites.

``canary``: a world-writable directory *outside* every daemon's TMPDIR that hostile
requests aim their outputs at; a test passes only if it stays empty.  ``served``: one
daemon per test module (starting one per case would cost more than the cases).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.conftest import hello, start_daemon  # noqa: F401  (fixtures)

SOURCE = b"int answer(void) { return 42; }\n"


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "canary"
    path.mkdir()
    path.chmod(0o777)
    yield path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``proj/hello.c``, a source with no includes (the same bytes in every protocol)."""
    path = tmp_path / "proj"
    path.mkdir()
    (path / "hello.c").write_bytes(SOURCE)
    return path
