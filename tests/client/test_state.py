"""Monitor state files: the exact struct bytes, and Debian's distccmon-text reading ours."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from client.state import (
    MAGIC,
    PHASE_NAMES,
    STRUCT_SIZE,
    Phase,
    StateWriter,
    decode,
    encode,
)


def test_layout_is_the_lp64_struct() -> None:
    assert STRUCT_SIZE == struct.calcsize("=QQQ128s128siiQ") == 296
    data = encode(4242, "/src/dir/hello.c", "buildbox", 3, Phase.SEND)
    assert len(data) == 296
    assert data[0:8] == (296).to_bytes(8, "little")
    assert data[8:16] == (0x44494800).to_bytes(8, "little") == MAGIC.to_bytes(8, "little")
    assert data[16:24] == (4242).to_bytes(8, "little")
    assert data[24:152] == b"hello.c".ljust(128, b"\0")  # basename only
    assert data[152:280] == b"buildbox".ljust(128, b"\0")
    assert data[280:284] == (3).to_bytes(4, "little")
    assert data[284:288] == (4).to_bytes(4, "little")
    assert data[288:296] == bytes(8)


def test_long_names_keep_a_terminating_nul() -> None:
    data = encode(1, "x" * 300, "h" * 200, 0, Phase.COMPILE)
    assert data[24:151] == b"x" * 127 and data[151] == 0
    assert decode(data) == (1, "x" * 127, "h" * 127, 0, Phase.COMPILE)


def test_decode_applies_the_readers_checks() -> None:
    good = encode(7, "a.c", "h", 1, Phase.RECEIVE)
    assert decode(good) == (7, "a.c", "h", 1, Phase.RECEIVE)
    assert decode(good[:-1]) is None  # short read
    assert decode(bytes(8) + good[8:]) is None  # bad struct_size
    assert decode(good[:8] + bytes(8) + good[16:]) is None  # bad magic


def test_phase_numbers_and_names() -> None:
    assert [Phase.STARTUP, Phase.BLOCKED, Phase.CONNECT, Phase.CPP] == [0, 1, 2, 3]
    assert [Phase.SEND, Phase.COMPILE, Phase.RECEIVE, Phase.DONE] == [4, 5, 6, 7]
    assert PHASE_NAMES[Phase.CPP] == "Preprocess" and len(PHASE_NAMES) == 8


def test_writer_rewrites_and_removes(tmp_path: Path) -> None:
    w = StateWriter(str(tmp_path), 99)
    path = tmp_path / "binstate_99"
    w.note_slot(2)
    w.note(Phase.CONNECT, "dir/a.c", "box")
    assert decode(path.read_bytes()) == (99, "a.c", "box", 2, Phase.CONNECT)
    w.note(Phase.SEND)  # None keeps the file and host
    assert path.stat().st_size == 296
    assert decode(path.read_bytes()) == (99, "a.c", "box", 2, Phase.SEND)
    # Local work has its own record; the last one updated is what the file shows.
    w.note(Phase.CPP, host="localhost", which="local")
    assert decode(path.read_bytes()) == (99, "", "localhost", 0, Phase.CPP)
    w.note(Phase.RECEIVE)
    assert decode(path.read_bytes()) == (99, "a.c", "box", 2, Phase.RECEIVE)
    w.remove()
    assert not path.exists()
    w.remove()  # twice is fine


def test_writer_never_fails_the_job(tmp_path: Path) -> None:
    StateWriter(str(tmp_path / "missing"), 1).note(Phase.COMPILE, "a.c", "h")


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("distccmon-text") is None, reason="needs distccmon-text")
def test_distccmon_text_shows_our_state(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    pid = os.getpid()  # the monitor drops entries whose pid is gone
    w = StateWriter(str(tmp_path / "state"), pid)
    w.note_slot(3)
    w.note(Phase.COMPILE, "src/dir/hello.c", "buildbox")
    env = dict(os.environ, DISTCC_DIR=str(tmp_path))
    out = subprocess.run(
        ["distccmon-text"], env=env, capture_output=True, text=True, check=True
    ).stdout
    # mon-text.c: "%6ld  %-10.10s  %-30.30s %24.24s[%d]"
    assert f"{pid:6d}  {'Compile':<10}  {'hello.c':<30} {'buildbox':>24}[3]" in out.splitlines()
    w.note(Phase.DONE)
    out = subprocess.run(
        ["distccmon-text"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "hello.c" not in out  # Done entries are not shown
    w.remove()
