"""The daemon's result cache (daemon/results.py): keys, the bounded store, and real native
jobs answered from it (or, when they must not be, compiled again)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.native import Entry
from daemon.results import ResultCache, TimeMacros, job_key, uses_time_macros
from tests.daemon.helpers import Daemon, free_port
from tests.daemon.pumphelpers import make_project
from tests.daemon.test_native import INSECURE, NEntry, closure, native_compile

StartDaemon = Callable[..., Daemon]
HIT = "the reply of an identical job"


def _key(gcc: str, **changes: object) -> str | None:
    base: dict[str, object] = {
        "sandboxed": False,
        "program": gcc,
        "search_path": "/usr/bin:/bin",
        "argv": ["gcc", "-c", "a.c"],
        "cwd": "/src",
        "entries": [Entry("F", "/src/a.c", "blake2b:" + "0" * 64, 3)],
    }
    base.update(changes)
    return job_key(**base)  # type: ignore[arg-type]


def test_key_covers_every_input(tmp_path: Path) -> None:
    gcc = tmp_path / "gcc"
    gcc.write_text("#!/bin/sh\n")
    gcc.chmod(0o755)
    base = _key(str(gcc))
    assert base is not None and base == _key(str(gcc))
    other_entry = [Entry("F", "/src/a.c", "blake2b:" + "1" * 64, 3)]
    variants = [
        _key(str(gcc), sandboxed=True),
        _key(str(gcc), argv=["gcc", "-c", "a.c", "-O2"]),
        _key(str(gcc), argv=["gcc", "-c", "a.c -O2"]),  # words, not a joined string
        _key(str(gcc), cwd="/elsewhere"),
        _key(str(gcc), entries=other_entry),
        _key(str(gcc), entries=[Entry("L", "/src/a.c", target="b.c")]),
        _key(str(gcc), entries=[]),
    ]
    assert None not in variants and len({base, *variants}) == len(variants) + 1
    os.utime(gcc, ns=(1, 1))  # an upgraded compiler (new mtime) gives a new key
    assert _key(str(gcc)) != base
    # A bare name is found on the search path; one that is not there has no key.
    assert _key("gcc", search_path=str(tmp_path)) == _key(str(gcc))
    assert _key("no-such-compiler", search_path=str(tmp_path)) is None


def test_key_covers_the_programs_the_driver_runs(tmp_path: Path) -> None:
    cc1 = tmp_path / "cc1"
    cc1.write_text("old\n")
    driver = tmp_path / "gcc"
    driver.write_text(
        f'#!/bin/sh\ncase "$1" in -print-prog-name=cc1) echo {cc1};; *) echo "$1";; esac\n'
    )
    driver.chmod(0o755)
    before = _key(str(driver))
    assert before is not None and before == _key(str(driver))
    cc1.write_text("upgraded, the driver untouched\n")
    assert _key(str(driver)) != before


def test_time_macros_on_the_command_line() -> None:
    assert uses_time_macros(["gcc", "-DSTAMP=__TIME__", "-c", "a.c"])
    assert uses_time_macros(["gcc", "-DWHEN=__DATE__"])
    assert not uses_time_macros(["gcc", "-DX=__FILE__", "-c", "a.c"])


def test_cache_is_bounded_lru_and_starts_empty(tmp_path: Path) -> None:
    directory = tmp_path / "results"
    directory.mkdir()
    (directory / "stale").write_bytes(b"from a previous daemon")
    cache = ResultCache(str(directory), max_bytes=10)
    assert list(directory.iterdir()) == []
    cache.put("a", b"1234")
    cache.put("b", b"5678")
    assert cache.get("a") == b"1234"  # now the most recent
    cache.put("c", b"90ab")  # 12 bytes > 10: the least recent ("b") goes
    assert cache.get("b") is None and cache.get("a") == b"1234" and cache.get("c") == b"90ab"
    assert sorted(p.name for p in directory.iterdir()) == ["a", "c"]
    cache.put("huge", b"x" * 11)  # larger than the whole cache: not kept
    assert cache.get("huge") is None and len(cache) == 2 and cache.total == 8


def test_time_macros_are_found_once_per_digest(tmp_path: Path) -> None:
    plain, dated = tmp_path / "plain.c", tmp_path / "dated.c"
    plain.write_text("int x;\n")
    dated.write_text('const char *when = __DATE__ " " __TIME__;\n')
    seen = TimeMacros()
    assert not seen.any_in([("d1", str(plain))])
    assert seen.any_in([("d1", str(plain)), ("d2", str(dated))])
    plain.unlink()  # answered from memory now, not from the file
    assert not seen.any_in([("d1", str(plain))])
    assert seen.any_in([("d3", str(tmp_path / "missing.c"))])  # unreadable: not cacheable


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


def test_identical_job_is_answered_without_compiling(
    start_daemon: StartDaemon, project: Path
) -> None:
    daemon = start_daemon(INSECURE)
    inc = f"-I{project.parent}/inc"
    argv = ["gcc", "-g", "-O2", inc, "-c", "hello.c", "-o", "hello.o", "-MD"]
    entries = closure(project, ["gcc", inc, "hello.c"])
    first = native_compile(daemon, str(project), argv, entries)
    assert first.status == 0 and len(first.needed) == 3, first.stderr
    # The daemon stores a reply after sending it, then logs the job's summary: wait for
    # that, or the second request can overtake the storing of the first one's reply.
    daemon.wait_log("client: ")
    second = native_compile(daemon, str(project), argv, entries)
    assert second.needed == [] and second.status == 0
    assert daemon.wait_log(HIT) and len(daemon.wait_log("(cached result)")) == 1
    subprocess.run(argv, cwd=project, check=True)
    assert second.obj == first.obj == (project / "hello.o").read_bytes()
    assert second.dotd == first.dotd == (project / "hello.d").read_bytes()

    # A changed header: a new key, a real compile, the new object.
    header = next(e for e in entries if e.path.endswith("hello.h"))
    edited = [
        NEntry(e.kind, e.path, e.data + b"int added;\n") if e is header else e for e in entries
    ]
    Path(header.path).write_bytes(header.data + b"int added;\n")
    third = native_compile(daemon, str(project), argv, edited)
    assert third.status == 0 and len(third.needed) == 1  # only the edited header travels
    subprocess.run(argv, cwd=project, check=True)
    assert third.obj == (project / "hello.o").read_bytes() != first.obj
    assert len(daemon.log_lines(HIT)) == 1
    daemon.wait_idle_but_store()


def test_failures_and_time_macros_are_not_cached(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    source = str(project / "x.c")
    argv = ["gcc", "-c", "x.c", "-o", "x.o"]
    broken = [NEntry("F", source, b"syntax error\n")]
    dated = [NEntry("F", source, b"const char *when = __TIME__;\n")]
    for entries in (broken, broken, dated, dated):
        native_compile(daemon, str(project), argv, entries)
    daemon.wait_log("client: ", 4)
    assert daemon.log_lines(HIT) == []
    daemon.wait_idle_but_store()
    assert list((daemon.tmp_dir / "distccd-results").iterdir()) == []


def test_disabled_by_size_zero(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE, env={"DISTCCD_RESULT_CACHE_SIZE": "0"})
    entries = [NEntry("F", str(project / "x.c"), b"int x;\n")]
    for _ in range(2):
        assert native_compile(daemon, str(project), ["gcc", "-c", "x.c"], entries).status == 0
    daemon.wait_log("client: ", 2)
    assert daemon.log_lines(HIT) == []
    daemon.wait_idle_but_store()
    assert not (daemon.tmp_dir / "distccd-results").exists()


@pytest.mark.parametrize("name", ["DISTCCD_RESULT_CACHE_SIZE", "DISTCCD_STORE_SIZE"])
def test_bad_size_is_refused_at_start(tool_bin: Path, name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
    done = subprocess.run(
        [str(tool_bin / "distccd"), "--no-detach", "--log-stderr", "--port", str(free_port())],
        env={**env, name: "lots"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 101, done.stderr  # EXIT_BAD_ARGUMENTS
    assert f"Bad {name} value: lots" in done.stderr
