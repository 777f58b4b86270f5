"""``daemon.runner`` with real processes; the "client" is a pipe we close to leave."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.runner import Ended, ProcessRegistry, Run, run
from tests.daemon.helpers import wait_for


class PipeClient:
    def __init__(self) -> None:
        self.watch_fd, self._w = os.pipe()

    def gone(self, events: int) -> bool:
        return bool(events & select.POLLHUP)

    def leave(self) -> None:
        os.close(self._w)

    def close(self) -> None:
        os.close(self.watch_fd)
        try:
            os.close(self._w)
        except OSError:
            pass


@pytest.fixture
def client() -> Iterator[PipeClient]:
    c = PipeClient()
    yield c
    c.close()


def _run(argv: list[str], tmp_path: Path, client: PipeClient, lifetime: float = 0.0) -> Run:
    return run(
        argv,
        env=dict(os.environ),
        cwd=str(tmp_path),
        stdout_path=str(tmp_path / "out"),
        stderr_path=str(tmp_path / "err"),
        watch=client,
        registry=ProcessRegistry(),
        lifetime=lifetime,
        clock=time.monotonic,
    )


def test_exit_status_and_output_files(tmp_path: Path, client: PipeClient) -> None:
    ran = _run(["sh", "-c", "pwd; echo oops >&2; exit 3"], tmp_path, client)
    assert ran == Run(3 << 8, Ended.EXITED)
    assert (tmp_path / "out").read_text().strip() == str(tmp_path)  # runs in cwd
    assert (tmp_path / "err").read_text() == "oops\n"


def test_stdin_is_dev_null_and_own_session(tmp_path: Path, client: PipeClient) -> None:
    _run(["sh", "-c", "cat; ps -o sid= -p $$"], tmp_path, client)
    sid = int((tmp_path / "out").read_text())
    assert sid != os.getsid(0)


def test_core_dump_bit_and_signal(tmp_path: Path, client: PipeClient) -> None:
    ran = _run(["sh", "-c", "kill -TERM $$"], tmp_path, client)
    assert os.WIFSIGNALED(ran.status) and os.WTERMSIG(ran.status) == 15


def test_missing_compiler(tmp_path: Path, client: PipeClient) -> None:
    ran = _run(["/no/such/dir/nosuchcc-xyz", "-c"], tmp_path, client)
    assert (ran.status, ran.ended) == (110 << 8, Ended.MISSING)


def test_absolute_path_missing_falls_back_to_path(tmp_path: Path, client: PipeClient) -> None:
    ran = _run(["/no/such/dir/true"], tmp_path, client)
    assert (ran.status, ran.ended) == (0, Ended.EXITED)


def test_client_leaving_kills_the_process_group(tmp_path: Path, client: PipeClient) -> None:
    script = f"sleep 300 & echo $! > {tmp_path}/child; exec sleep 300"
    result: list[Run] = []
    thread = threading.Thread(
        target=lambda: result.append(_run(["sh", "-c", script], tmp_path, client))
    )
    thread.start()
    child = tmp_path / "child"
    wait_for(lambda: child.exists() and child.read_text().strip() != "", "the grandchild")
    grandchild = int(child.read_text())
    client.leave()
    thread.join(20)
    assert result and result[0].ended == Ended.CLIENT_GONE

    def gone() -> bool:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            return True
        # an orphan killed but not yet reaped by init still answers kill(0): check state
        try:
            return Path(f"/proc/{grandchild}/stat").read_text().split()[2] == "Z"
        except OSError:
            return True

    wait_for(gone, "the grandchild to be killed")


def test_lifetime(tmp_path: Path, client: PipeClient) -> None:
    ran = _run(["sleep", "300"], tmp_path, client, lifetime=0.2)
    assert (ran.status, ran.ended) == (118 << 8, Ended.TIMED_OUT)


def test_registry_kill_all(tmp_path: Path, client: PipeClient) -> None:
    registry = ProcessRegistry()
    result: list[Run] = []

    def target() -> None:
        result.append(
            run(
                ["sleep", "300"],
                env=dict(os.environ),
                cwd=str(tmp_path),
                stdout_path=str(tmp_path / "out"),
                stderr_path=str(tmp_path / "err"),
                watch=client,
                registry=registry,
                lifetime=0,
                clock=time.monotonic,
            )
        )

    thread = threading.Thread(target=target)
    thread.start()
    wait_for(lambda: len(registry) == 1, "the compiler to start")
    registry.kill_all()
    thread.join(20)
    assert os.WTERMSIG(result[0].status) == 15
    assert len(registry) == 0
