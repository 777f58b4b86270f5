"""client.log: distcc's line format, levels by DISTCC_VERBOSE / DISTCC_LOG, one write per line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from client import log


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    log.configure({})


def test_default_is_warnings_and_errors_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure({})
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    pid = os.getpid()
    assert capsys.readouterr().err == f"distcc[{pid}] WARNING: w\ndistcc[{pid}] ERROR: e\n"


def test_verbose_adds_debug_and_info(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure({"DISTCC_VERBOSE": "1"})
    log.debug("d")
    log.info("i")
    assert capsys.readouterr().err.splitlines() == [
        f"distcc[{os.getpid()}] DEBUG: d",
        f"distcc[{os.getpid()}] INFO: i",
    ]


def test_log_file_gets_info_appended(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "client.log"
    path.write_text("earlier line\n")
    log.configure({"DISTCC_LOG": str(path)})
    log.debug("not at INFO level")
    log.info("remote on host \udcff")
    log.error("e")
    log.shutdown()
    assert capsys.readouterr().err == ""
    pid = os.getpid()
    assert path.read_text() == (
        f"earlier line\ndistcc[{pid}] INFO: remote on host \\udcff\ndistcc[{pid}] ERROR: e\n"
    )


def test_unopenable_log_file_falls_back_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log.configure({"DISTCC_LOG": str(tmp_path / "missing-dir" / "client.log")})
    log.info("one")
    log.info("two")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert "failed to open logfile" in err[0]
    assert err[1:] == [f"distcc[{os.getpid()}] INFO: one", f"distcc[{os.getpid()}] INFO: two"]


def test_nothing_is_opened_until_a_line_is_logged(tmp_path: Path) -> None:
    path = tmp_path / "client.log"
    log.configure({"DISTCC_LOG": str(path)})
    log.debug("below the threshold")
    log.shutdown()
    assert not path.exists()
