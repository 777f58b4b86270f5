"""Helpers for pump-mode tests: protocol 3 requests by hand, our include server, a tree."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from common.protocol import FILE, LINK, NAME, NFIL, bulk_packet, header, request_head, string_packet
from tests.daemon.helpers import wait_for

STOCK_DISTCC = "/usr/bin/distcc"

# An entry: ("file", name, bytes) or ("link", name, target).
Entry = tuple[str, str, bytes | str]


def v3_request(cwd: str, argv: Sequence[str], entries: Sequence[Entry]) -> bytes:
    out = request_head(3, argv, cwd) + header(NFIL, len(entries))
    for kind, name, value in entries:
        out += string_packet(NAME, name)
        if kind == "file":
            assert isinstance(value, bytes)
            out += bulk_packet(FILE, value, True)
        else:
            out += string_packet(LINK, value)
    return out


def tree_entries(base: Path, names: Sequence[str]) -> list[Entry]:
    """``("file", absolute path, contents)`` for the files ``names`` under ``base``."""
    return [("file", str(base / n), (base / n).read_bytes()) for n in names]


HELLO_C = """#include <stdio.h>
#include <assert.h>
#include "hello.h"
#include "inc.h"

int main(void)
{
    assert(square(3) == 9);
    printf("%s %s %d\\n", GREETING, __FILE__, INC_VALUE);
    return 0;
}
"""
HELLO_H = '#define GREETING "hello"\nstatic inline int square(int x) { return x * x; }\n'
INC_H = "#define INC_VALUE 7\n"


def make_project(base: Path) -> Path:
    """``base/src/hello.c`` (includes ``hello.h`` beside it and ``inc.h`` from
    ``base/inc``): returns the source directory."""
    (base / "src").mkdir(parents=True)
    (base / "inc").mkdir()
    (base / "src" / "hello.c").write_text(HELLO_C)
    (base / "src" / "hello.h").write_text(HELLO_H)
    (base / "inc" / "inc.h").write_text(INC_H)
    return base / "src"


@contextmanager
def include_server(tool_bin: Path, work: Path, env: dict[str, str]) -> Iterator[Path]:
    """Our include server on a private socket; stopped (SIGTERM by pid) afterwards."""
    sock = work / "include-server.sock"
    pid_file = work / "include-server.pid"
    subprocess.run(
        [
            str(tool_bin / "include-server"),
            "start",
            "--port",
            str(sock),
            "--pid_file",
            str(pid_file),
        ],
        env=env,
        check=True,
        timeout=60,
    )
    wait_for(
        lambda: sock.exists() and pid_file.exists() and pid_file.read_text().strip() != "",
        "the include server's socket",
    )
    try:
        yield sock
    finally:
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


def stock_pump_compile(
    tool_bin: Path, work: Path, env: dict[str, str], port: int, argv: Sequence[str], cwd: Path
) -> None:
    """Debian's distcc client in pump mode (protocol 3, ``,cpp,lzo``) with our include
    server, to our daemon on ``port``; no local retry, so a remote failure fails it."""
    with include_server(tool_bin, work, env) as sock:
        client_env = dict(env)
        client_env["DISTCC_HOSTS"] = f"127.0.0.1:{port},cpp,lzo"
        client_env["INCLUDE_SERVER_PORT"] = str(sock)
        client_env["DISTCC_SKIP_LOCAL_RETRY"] = "1"
        r = subprocess.run([STOCK_DISTCC, *argv], cwd=cwd, env=client_env, capture_output=True)
        assert r.returncode == 0, r.stderr.decode()
