"""Hostile command lines against a real daemon, in protocols 1, 2, 3 and the native one.

Every case aims something at ``canary`` (a directory outside the daemon's TMPDIR) or at
the daemon's own files: compilers that are not allowed, options that run programs or
read configuration from a directory the client picks (``-B``, ``-wrapper``, ``-fplugin=``,
``-specs=``), response files (``@/etc/passwd``), and outputs or dumps aimed outside the
job (``-o``, ``-MF``, ``-fdump-*``, ``-save-temps``, ``-fprofile-*``, ``-time=``,
``-fopt-info=``, pass-through options).  For each case:

- the daemon refuses (protocols 1-3: the connection is closed without a reply and the
  reason is logged; native: an explicit ``ERRR``), except for the few options the daemon
  rewrites (``-o``), which compile with their output kept inside the job;
- nothing appears in ``canary`` and the daemon's TMPDIR is empty again afterwards;
- the daemon is still alive and serves a good request after all of them.

One daemon per protocol runs every case (starting one per case would cost ~20 s).
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from common.protocol import Reader, read_reply, request_v12
from tests.daemon.helpers import Daemon
from tests.daemon.pumphelpers import v3_request
from tests.daemon.test_native import NEntry, native_compile
from tests.security.conftest import SOURCE

StartDaemon = Callable[..., Daemon]
ALLOW = ("--allow-compiler", "gcc", "--allow-compiler", "clang")
C = "CANARY"  # replaced by the canary directory

REFUSED_COMPILERS = ["/bin/sh", "../gcc", "gcc;rm", "/usr/bin/../../bin/sh", "sh", "gcc\nrm"]

# (name, compiler, options after "-c hello.c")
REFUSED_OPTIONS: list[tuple[str, str, list[str]]] = [
    ("B-joined", "gcc", ["-BCANARY/"]),
    ("B-separate", "gcc", ["-B", "CANARY/"]),
    ("B-relative-specs", "gcc", ["-Bevil/"]),
    ("prefix-joined", "gcc", ["--prefix=CANARY/"]),
    ("prefix-separate", "gcc", ["--prefix", "CANARY/"]),
    ("wrapper", "gcc", ["-wrapper", "/usr/bin/touch,CANARY/wrapper"]),
    ("plugin", "gcc", ["-fplugin=CANARY/p.so"]),
    ("specs", "gcc", ["-specs=CANARY/specs"]),
    ("response-file", "gcc", ["@/etc/passwd"]),
    ("response-file-as", "gcc", ["-Wa,@/etc/passwd"]),
    ("response-file-xclang", "clang", ["-Xclang", "@/etc/passwd"]),
    ("dump-to", "gcc", ["-fdump-tree-all=CANARY/dump"]),
    ("dump-dir", "gcc", ["-fdump-rtl-all", "-dumpdir", "CANARY/"]),
    ("save-temps", "gcc", ["-save-temps=obj", "-o", "CANARY/x.o"]),
    ("profile-generate", "gcc", ["-fprofile-generate=CANARY"]),
    ("profile-arcs", "gcc", ["-fprofile-arcs", "-fprofile-dir=CANARY"]),
    ("profile-use", "gcc", ["-fprofile-use=CANARY/x.gcda"]),
    ("time", "gcc", ["-time=CANARY/time"]),
    ("opt-info", "gcc", ["-O2", "-fopt-info-all=CANARY/opt"]),
    ("aux-info", "gcc", ["-aux-info", "CANARY/aux"]),
    ("as-listing", "gcc", ["-Wa,-a=CANARY/listing"]),
    ("stack-usage", "gcc", ["-fstack-usage", "-dumpbase", "CANARY/su"]),
    ("split-dwarf-dumpdir", "gcc", ["-gsplit-dwarf", "-dumpdir", "CANARY/"]),
    ("xclang-dep", "clang", ["-Xclang", "-dependency-file", "-Xclang", "CANARY/d"]),
    ("mllvm-output", "clang", ["-mllvm", "-info-output-file=CANARY/info"]),
    ("time-trace", "clang", ["-ftime-trace=CANARY/trace.json"]),
    ("crash-dir", "clang", ["-fcrash-diagnostics-dir=CANARY"]),
    ("mj", "clang", ["-MJ", "CANARY/cdb.json"]),
]
# Plain mode only: clients strip -MF, so an -MF outside the job is refused there (pump
# mode re-roots it instead).
PLAIN_ONLY: list[tuple[str, str, list[str]]] = [
    ("mf-absolute", "gcc", ["-MD", "-MF", "CANARY/d"]),
    ("mf-relative", "gcc", ["-MD", "-MF../../../escaped.d"]),
]
# Rewritten by the daemon: they compile, and their output stays in the job.
CONTAINED: list[tuple[str, str, list[str]]] = [
    ("output-absolute", "gcc", ["-o", "CANARY/x.o"]),
    ("output-relative", "gcc", ["-o", "../../../escaped.o"]),
    ("split-dwarf-output", "gcc", ["-gsplit-dwarf", "-o", "CANARY/x.o"]),
]

# A specs file that, read through -B, makes cc1 write into the canary: the proof that -B
# is code execution rather than a harmless search path.
EVIL_SPECS = "*cc1_options:\n+ -fopt-info-all=CANARY/through-specs\n\n"


def _argv(compiler: str, options: Sequence[str], canary: Path) -> list[str]:
    return [compiler, "-c", "hello.c", *(o.replace(C, str(canary)) for o in options)]


def talk(daemon: Daemon, data: bytes) -> bytes:
    """Send a request (without half-closing: that reads as "client gone") and return
    everything the daemon answers before it closes; b"" when it closes at once."""
    with daemon.connect() as sock:
        try:
            sock.sendall(data)
        except OSError:  # closed on us mid-request: a refusal
            return b""
        parts = []
        try:
            while chunk := sock.recv(1 << 16):
                parts.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(parts)


class Client:
    """Sends one request in one protocol; says whether the daemon refused it."""

    def __init__(self, protocol: str, daemon: Daemon, project: Path, canary: Path) -> None:
        self.protocol = protocol
        self.daemon = daemon
        self.project = project
        self.canary = canary

    def send(self, argv: list[str]) -> tuple[bool, int]:
        """(refused, status): refused means no compile happened."""
        p = self.project
        specs = EVIL_SPECS.replace(C, str(self.canary)).encode()
        if self.protocol in ("1", "2"):
            version = int(self.protocol)
            data = request_v12(version, argv, SOURCE)
            raw = talk(self.daemon, data)
            if raw == b"":
                return True, -1
            return False, read_reply(Reader(io.BytesIO(raw)), version).status
        if self.protocol == "3":
            entries = [
                ("file", str(p / "hello.c"), SOURCE),
                ("file", str(p / "evil" / "specs"), specs),
            ]
            raw = talk(self.daemon, v3_request(str(p), argv, entries))
            if raw == b"":
                return True, -1
            return False, read_reply(Reader(io.BytesIO(raw)), 3).status
        entries_n = [
            NEntry("F", str(p / "hello.c"), SOURCE),
            NEntry("F", str(p / "evil" / "specs"), specs),
        ]
        reply = native_compile(self.daemon, str(p), argv, entries_n)
        if reply.error is not None:
            assert reply.error != "closed", "native refusals must be explicit (ERRR)"
            return True, -1
        return False, reply.status


def _idle(daemon: Daemon) -> None:
    daemon.wait_idle_but_store()


# Pump mode (protocol 3 and native) applies daemon.command.server_refusal too
# (daemon/pumpjob.py check_request), without plain mode's -MF rule: it re-roots -MF.
PROTOCOLS = ["1", "2", "3", "native"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_hostile_command_lines(
    start_daemon: StartDaemon, project: Path, canary: Path, protocol: str
) -> None:
    (canary / "evil").mkdir()
    (canary / "evil" / "specs").write_text(EVIL_SPECS.replace(C, str(canary)))
    daemon = start_daemon(*ALLOW)
    client = Client(protocol, daemon, project, canary)
    before = sorted(p.name for p in canary.iterdir())
    problems: list[str] = []

    def check(name: str, argv: list[str], want_refused: bool, want_status: int = 0) -> None:
        refused, status = client.send(argv)
        if want_refused and not refused:
            problems.append(f"{name}: not refused (status {status}): {argv}")
        if not want_refused and (refused or status != want_status):
            problems.append(f"{name}: should compile, got refused={refused} {status}")
        leaked = sorted(p.name for p in canary.iterdir())
        if leaked != before:
            problems.append(f"{name}: wrote {set(leaked) - set(before)} outside the job")
            for extra in set(leaked) - set(before):
                subprocess.run(["rm", "-rf", str(canary / extra)], check=True)
        _idle(daemon)
        if (daemon.tmp_dir.parent / "escaped.o").exists() or list(
            daemon.tmp_dir.parent.glob("escaped*")
        ):
            problems.append(f"{name}: wrote beside TMPDIR")
        assert daemon.alive(), f"{name} took the daemon down"

    for compiler in REFUSED_COMPILERS:
        check(f"compiler {compiler!r}", [compiler, "-c", "hello.c"], True)
    cases = REFUSED_OPTIONS + (PLAIN_ONLY if protocol in ("1", "2") else [])
    for name, compiler, options in cases:
        check(name, _argv(compiler, options, canary), True)
    for name, compiler, options in CONTAINED:
        # Protocol 3 cannot return a .dwo: such a job fails (status 100, the client then
        # compiles locally) instead of returning an object without its split debug info.
        fails = protocol == "3" and "-gsplit-dwarf" in options
        check(name, _argv(compiler, options, canary), False, 100 << 8 if fails else 0)
    # Still serving: a good request compiles.
    refused, status = client.send(["gcc", "-c", "hello.c", "-o", "hello.o"])
    assert (refused, status) == (False, 0)
    assert daemon.wait_log("client: ", 1)
    assert problems == [], "\n".join(problems)
