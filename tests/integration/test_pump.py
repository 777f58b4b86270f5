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


@pytest.mark.parametrize("opts", [",cpp,lzo", ",native"], ids=["protocol3", "native"])
def test_header_edited_between_builds_under_one_include_server(
    tool_bin: Path, our_daemon: Daemon, hello: Path, pump_env: dict[str, str], opts: str
) -> None:
    """Two builds under the same (long-lived) include server, a header edited in between:
    the second object must be the new one, as a local compile gives."""
    env = client_env(pump_env, our_daemon.hostspec + opts)
    build = [
        str(tool_bin / "pump"),
        str(tool_bin / "distcc"),
        "gcc",
        "-c",
        "hello.c",
        "-o",
        "hello.o",
    ]
    for greeting in ("first", "second, longer than the first"):
        (hello / "hello.h").write_text(f'#define GREETING "{greeting}"\n')
        r = subprocess.run(build, cwd=hello, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "1 remote (pump mode)" in r.stderr, r.stderr
        subprocess.run(["gcc", "-c", "hello.c", "-o", "local.o"], cwd=hello, check=True)
        assert (hello / "hello.o").read_bytes() == (hello / "local.o").read_bytes(), greeting


def test_a_file_changed_after_the_analysis_is_never_shipped_stale(
    tool_bin: Path, our_daemon: Daemon, hello: Path, pump_env: dict[str, str], tmp_path: Path
) -> None:
    """The native client re-hashes every file it ships: content that no longer matches the
    include server's digest is not sent under that digest (the job is demoted, counted)."""
    from client.native import Entry, StaleFile, digest_of, run
    from client.transport import TcpConnection

    data = (hello / "hello.h").read_bytes()
    entries = [
        Entry(
            "F",
            str(hello / "hello.c"),
            digest_of((hello / "hello.c").read_bytes()),
            len((hello / "hello.c").read_bytes()),
        ),
        Entry("F", str(hello / "hello.h"), digest_of(data), len(data)),
    ]
    (hello / "hello.h").write_text('#define GREETING "edited after the analysis"\n')

    class Sink:
        bytes_sent = 0
        bytes_received = 0

    conn = TcpConnection(our_daemon.address, our_daemon.port, 30.0)
    try:
        with pytest.raises(StaleFile):
            run(conn, str(hello), ["gcc", "-c", "hello.c", "-o", "hello.o"], entries, Sink())  # type: ignore[arg-type]
    finally:
        conn.close()
    assert not (hello / "hello.o").exists()


def test_native_second_request_sends_only_the_part_names(
    tool_bin: Path, our_daemon: Daemon, hello: Path
) -> None:
    """With ``PRTS``, a closure the daemon has seen costs 36 bytes per part: the second
    identical job sends neither file contents nor the entries themselves."""
    from client.compile import Outcome
    from client.native import Entry, digest_of, entry_section, run, split_parts
    from client.transport import TcpConnection

    def entry(name: str) -> Entry:
        data = (hello / name).read_bytes()
        return Entry("F", str(hello / name), digest_of(data), len(data))

    entries = [entry("hello.c"), entry("hello.h"), Entry("D", str(hello / "sub"))]
    argv = ["gcc", "-c", "hello.c", "-o", "hello.o"]

    sent = []
    outcomes = []
    for _ in range(2):
        conn = TcpConnection(our_daemon.address, our_daemon.port, 30.0)
        outcomes.append(Outcome())
        try:
            reply = run(conn, str(hello), argv, entries, outcomes[-1])
        finally:
            conn.close()
        assert reply.status == 0
        sent.append(conn.bytes_sent)
        # The daemon stores a reply after sending it, then logs the job's summary line:
        # wait for that, or the second request can overtake the first one's storing.
        assert our_daemon.compile_ok(len(outcomes)) == len(outcomes)
    # The second request is the first one again: the daemon's stored reply.
    assert [(o.files_offered, o.files_sent, o.cached) for o in outcomes] == [
        (2, 2, False),
        (2, 0, True),
    ]
    section = len(entry_section(entries))
    files = sum(e.size for e in entries)
    assert sent[0] > sent[1] + section // 4 + files // 4
    # DIST + CDIR + ARGC/ARGV + PRTS (36 bytes per part), nothing else.
    head = 12 + (12 + len(str(hello))) + 12 + sum(12 + len(a) for a in argv)
    assert sent[1] == head + 12 + 36 * len(split_parts(entries))
