"""The include server on a real socket, driven by our requests and by Debian's stock distcc."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from include_server.protocol import (
    encode_request,
    encode_status_request,
    read_json,
    read_paths,
)
from include_server.server import query

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "include_server"


class Server:
    def __init__(self, tool_bin: Path, tmp: Path, *extra: str) -> None:
        self.port = str(tmp / "sock")
        self.pid_file = str(tmp / "pid")
        self.tool = str(tool_bin / "include-server")
        # The daemon keeps stdout/stderr (stock pump saves them to files): no pipes here,
        # or the parent's exit would not be seen until the daemon exits.
        self.log = tmp / "server.log"
        with open(self.log, "w") as log:
            proc = subprocess.run(
                [self.tool, "--port", self.port, "--pid_file", self.pid_file, *extra],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                timeout=30,
                check=False,
            )
        assert proc.returncode == 0, self.log.read_text()
        # Stock pump's readiness rule: the socket exists and the pid file holds a number.
        assert Path(self.port).is_socket()
        self.pid = int(Path(self.pid_file).read_text())

    def paths(self, cwd: Path, argv: list[str]) -> list[str]:
        return read_paths(io.BytesIO(query(self.port, encode_request(str(cwd), argv))))

    def status(self) -> dict[str, object]:
        doc = read_json(io.BytesIO(query(self.port, encode_status_request())))
        assert isinstance(doc, dict)
        return doc

    def stop(self) -> None:
        if Path(self.port).exists():
            subprocess.run([self.tool, "stop", "--port", self.port], check=True, timeout=30)
        assert not Path(self.port).exists()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(TESTDATA / "symlinks", dest, symlinks=True)
    return dest.resolve()


@pytest.fixture
def server(tool_bin: Path, tmp_path: Path) -> Iterator[Server]:
    s = Server(tool_bin, tmp_path)
    yield s
    s.stop()


def test_answers_and_second_request_from_memory(server: Server, project: Path) -> None:
    argv = ["gcc", "-c", "main.c", "-o", "main.o"]
    first = server.paths(project, argv)
    assert any(p.endswith(str(project / "real" / "hdr.h") + ".lzo") for p in first)
    assert server.paths(project, argv) == first
    status = server.status()
    counters = status["counters"]
    assert isinstance(counters, dict)
    # The second answer came from memory, without analysis.
    assert counters["front-hit"] == 1 and counters["closure-miss"] == 1
    # Every path is under a root of exactly three components.
    root = str(status["client_root"])
    assert len([c for c in root.split("/") if c]) == 3
    assert all(p.startswith(root + "/") for p in first)


def test_long_lived_server_sees_changes(server: Server, tmp_path: Path) -> None:
    proj = (tmp_path / "live").resolve()
    (proj / "a").mkdir(parents=True)
    (proj / "b").mkdir()
    (proj / "b" / "x.h").write_text("/* b */\n")
    (proj / "main.c").write_text("#include <x.h>\n")
    argv = ["gcc", "-c", "-Ia", "-Ib", "main.c"]
    assert any(p.endswith("/b/x.h.lzo") for p in server.paths(proj, argv))
    # A header created earlier in the search path: the next answer must use it.  The
    # server learns it from inotify, asynchronously: poll against a deadline.
    (proj / "a" / "x.h").write_text("/* a */\n")
    deadline = time.monotonic() + 10
    while True:
        paths = server.paths(proj, argv)
        if any(p.endswith("/a/x.h.lzo") for p in paths):
            break
        assert time.monotonic() < deadline, paths
        time.sleep(0.02)
    assert not any(p.endswith("/b/x.h.lzo") for p in paths)
    counters = server.status()["counters"]
    assert isinstance(counters, dict) and counters["closures-invalidated"] >= 1


def test_forty_concurrent_clients(server: Server, project: Path) -> None:
    argv = ["gcc", "-c", "main.c", "-o", "main.o"]
    expected = server.paths(project, argv)
    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(lambda _: server.paths(project, argv), range(40)))
    assert results == [expected] * 40


def test_a_slow_client_does_not_hold_the_others(server: Server, project: Path) -> None:
    argv = ["gcc", "-c", "main.c", "-o", "main.o"]
    with socket.socket(socket.AF_UNIX) as idle:
        idle.connect(server.port)
        idle.sendall(b"CDIR")  # and then nothing
        start = time.monotonic()
        assert server.paths(project, argv)
        assert time.monotonic() - start < 5


def test_a_slow_analysis_does_not_hold_memoised_answers(
    server: Server, project: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big"
    big.mkdir()
    n = 3000
    for i in range(n):
        (big / f"h{i}.h").write_text(f'#include "h{i + 1}.h"\n' if i + 1 < n else "\n")
    (big / "main.c").write_text('#include "h0.h"\n')
    argv = ["gcc", "-c", "main.c", "-o", "main.o"]
    server.paths(project, argv)  # memoised from now on
    finished: list[str] = []
    with ThreadPoolExecutor(41) as pool:
        slow = pool.submit(
            lambda: (server.paths(big, ["gcc", "-c", "main.c"]), finished.append("slow"))
        )
        quick = [
            pool.submit(lambda: (server.paths(project, argv), finished.append("quick")))
            for _ in range(40)
        ]
        for f in [slow, *quick]:
            f.result(timeout=60)
    assert len(slow.result()[0]) > n
    # Memoised answers did not wait for the analysis (here all 40 come first; the margin is
    # for a loaded machine, where the test's own client threads may start late).
    assert finished.index("slow") >= 20
    assert finished.count("quick") == 40


def test_extension_carries_digests(server: Server, project: Path) -> None:
    raw = query(server.port, encode_request(str(project), ["gcc", "-c", "main.c"], True))
    doc = read_json(io.BytesIO(raw))
    assert isinstance(doc, dict) and doc["covered"]
    files = doc["files"]
    assert isinstance(files, list)
    assert all(str(f["digest"]).startswith("blake2b:") for f in files)


def test_not_covered_gives_empty_reply(server: Server, tmp_path: Path) -> None:
    (tmp_path / "self.c").write_text("#include __FILE__\n")
    assert server.paths(tmp_path, ["gcc", "-c", "self.c"]) == []
    assert server.paths(tmp_path, ["gcc", "-o", "prog", "a.o", "b.o"]) == []


def test_cpu_budget(tool_bin: Path, tmp_path: Path, project: Path) -> None:
    s = Server(tool_bin, tmp_path, "--cpu-budget", "0")
    try:
        assert s.paths(project, ["gcc", "-c", "main.c"]) == []
        counters = s.status()["counters"]
        assert isinstance(counters, dict) and counters["budget-exceeded"] == 1
    finally:
        s.stop()


def test_idle_timeout(tool_bin: Path, tmp_path: Path) -> None:
    s = Server(tool_bin, tmp_path, "--idle-timeout", "2")
    deadline = time.monotonic() + 20
    while Path(s.port).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(s.port).exists()


STOCK_ENV = {"DISTCC_HOSTS": "127.0.0.1/2,cpp,lzo"}
# Debian's stock binaries by absolute path: a `distcc` earlier on PATH may be ours.
STOCK_DISTCC = "/usr/bin/distcc"
STOCK_DISTCCD = "/usr/bin/distccd"


@pytest.mark.interop
def test_stock_client_scan_includes(
    server: Server, project: Path, clean_env: dict[str, str]
) -> None:
    env = {**clean_env, **STOCK_ENV, "INCLUDE_SERVER_PORT": server.port}
    out = subprocess.run(
        [STOCK_DISTCC, "--scan-includes", "gcc", "-c", "main.c", "-o", "main.o"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = {tuple(line.split(None, 1)) for line in out.splitlines()}
    assert ("FILE", str(project / "main.c")) in lines
    assert ("FILE", str(project / "real" / "hdr.h")) in lines
    assert ("FILE", str(project / "farm" / "sibling.h")) in lines
    assert ("SYMLINK", str(project / "farm" / "hdr.h")) in lines
    assert ("SYSTEMDIR", "/usr/include") in lines


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.interop
def test_stock_pump_compile_against_stock_distccd(
    server: Server, project: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    port = _free_port()
    daemon = subprocess.Popen(
        [
            STOCK_DISTCCD,
            "--no-detach",
            "--daemon",
            "--allow",
            "127.0.0.1",
            "--listen",
            "127.0.0.1",
            "--port",
            str(port),
            "--jobs",
            "2",
            "--log-stderr",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "distccd did not start"
                time.sleep(0.05)
        env = {
            **clean_env,
            "DISTCC_HOSTS": f"127.0.0.1:{port}/2,cpp,lzo",
            "INCLUDE_SERVER_PORT": server.port,
            "DISTCC_FALLBACK": "0",
        }
        # Headers through an absolute -I (shipped as .lzo.abs with a #line) and a relative
        # one: __FILE__ must name them as a local compile does.
        (project / "inc").mkdir()
        (project / "inc" / "a.h").write_text("static const char *where_a = __FILE__;\n")
        (project / "main.c").write_text(
            (project / "main.c").read_text()
            + "#include <a.h>\nconst char *f(void) { return where_a; }\n"
        )
        flags = [f"-I{project}/inc", "-Ifarm"]
        subprocess.run(
            [STOCK_DISTCC, "gcc", "-c", *flags, "main.c", "-o", "remote.o"],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run(["gcc", "-c", *flags, "main.c", "-o", "local.o"], cwd=project, check=True)
        assert (project / "remote.o").read_bytes() == (project / "local.o").read_bytes()
        assert f"{project}/inc/a.h".encode() in (project / "remote.o").read_bytes()
        assert server.status()["answered"] == 1
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
