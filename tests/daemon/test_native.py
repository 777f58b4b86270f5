"""The native protocol end to end (docs/protocol.md), with a small client written here.

Files go by digest: the first request ships the project's files, the second the same
job gets ``NEED 0``; entries named in parts (``PRTS``) are asked for only where the daemon
lacks the part; system headers are announced by digest and taken from the server's
own disk when they match; a header the server lacks (or has in another version) is
received and used.  Refusals are explicit ``ERRR``.
"""

from __future__ import annotations

import subprocess
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lz4.frame
import pytest

from common.protocol import (
    CDIR,
    DIST,
    DONE,
    DOTD,
    DOTO,
    LINK,
    NAME,
    NATIVE_VERSION,
    NFIL,
    SERR,
    SOUT,
    STAT,
    Reader,
    argv_packets,
    header,
    parts_packet,
    string_packet,
)
from daemon.results import RESULTS_NAME
from daemon.store import STORE_NAME, digest_of
from tests.daemon.helpers import Daemon
from tests.daemon.pumphelpers import make_project

StartDaemon = Callable[..., Daemon]
NATIVE = NATIVE_VERSION
INSECURE = "--enable-tcp-insecure"


@dataclass
class NEntry:
    kind: str  # F S L D
    path: str
    data: bytes = b""
    target: str = ""


@dataclass
class NReply:
    needed: list[str]
    parts_needed: list[str] = field(default_factory=list)
    status: int = -1
    stderr: bytes = b""
    obj: bytes = b""
    dotd: bytes = b""
    dwo: bytes = b""
    error: str | None = None


def entry_bytes(entries: Sequence[NEntry]) -> bytes:
    out = b""
    for e in entries:
        out += string_packet(NAME, e.path)
        if e.kind in "FS":
            token = b"FDIG" if e.kind == "F" else b"SDIG"
            out += string_packet(token, f"{digest_of(e.data)}:{len(e.data)}")
        elif e.kind == "L":
            out += string_packet(LINK, e.target)
        else:
            out += header(b"MDIR", 0)
    return out


def request(
    cwd: str, argv: Sequence[str], entries: Sequence[NEntry], parts: Sequence[bytes] = ()
) -> bytes:
    """Entries inline (``NFIL``), or, with ``parts``, the parts by digest (``PRTS``)."""
    out = header(DIST, NATIVE) + string_packet(CDIR, cwd) + argv_packets(argv)
    if parts:
        ids = [(bytes.fromhex(digest_of(p)[len("blake2b:") :]), len(p)) for p in parts]
        return out + parts_packet(ids)
    return out + header(NFIL, len(entries)) + entry_bytes(entries)


def _blob(data: bytes) -> bytes:
    packed = zlib.compress(data)
    return header(b"BLOB", len(packed)) + packed


def _frame(reader: Reader, token: bytes) -> bytes:
    n = reader.expect(token)
    return bytes(lz4.frame.decompress(reader.read_bulk_body(token, n, False))) if n else b""


def native_compile(
    daemon: Daemon,
    cwd: str,
    argv: Sequence[str],
    entries: Sequence[NEntry],
    corrupt: bool = False,
    parts: Sequence[Sequence[NEntry]] = (),
) -> NReply:
    """One job; with ``parts``, its entries go as those parts (``PRTS``), else inline."""
    by_digest = {digest_of(e.data): e.data for e in entries if e.kind in "FS"}
    raw_parts = [entry_bytes(p) for p in parts]
    with daemon.connect() as sock:
        sock.sendall(request(cwd, argv, entries, raw_parts))
        reader = Reader(sock.makefile("rb"))
        parts_needed: list[str] = []
        if parts:
            token, value = reader.read_header()
            if token == b"ERRR":
                return NReply([], error=reader.read_string_body(token, value))
            assert token == b"NEED"
            parts_needed = [reader.read_string(b"DGST") for _ in range(value)]
            by_part = {digest_of(p): p for p in raw_parts}
            sock.sendall(b"".join(_blob(by_part[d]) for d in parts_needed))
        token, value = reader.read_header()
        if token == b"ERRR":
            return NReply([], parts_needed, error=reader.read_string_body(token, value))
        assert token == b"NEED"
        needed = [reader.read_string(b"DGST") for _ in range(value)]
        for d in needed:
            sock.sendall(_blob(by_digest[d] + (b"!" if corrupt else b"")))
        try:
            token, value = reader.read_header()
        except Exception:
            return NReply(needed, parts_needed, error="closed")
        if token == b"ERRR":
            return NReply(needed, parts_needed, error=reader.read_string_body(token, value))
        assert (token, value) == (DONE, NATIVE)
        reply = NReply(needed, parts_needed, status=reader.expect(STAT))
        reply.stderr = _frame(reader, SERR)
        _frame(reader, SOUT)
        reply.obj = _frame(reader, DOTO)
        reply.dotd = _frame(reader, DOTD)
        reply.dwo = _frame(reader, b"DDWO")
        return reply


def closure(project: Path, argv: Sequence[str]) -> list[NEntry]:
    """The files ``argv`` reads (``gcc -M``): system headers as S, the rest as F."""
    deps = subprocess.run(
        [*argv, "-M"],
        cwd=project,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    words = deps.replace("\\\n", " ").split()[1:]
    out = []
    for w in words:
        path = (project / w).resolve()
        kind = "S" if str(path).startswith("/usr/") else "F"
        out.append(NEntry(kind, str(path), path.read_bytes()))
    return out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


def test_round_trip_second_request_needs_nothing(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    inc = f"-I{project.parent}/inc"
    argv = ["gcc", "-g", "-O2", inc, "-c", "hello.c", "-o", "hello.o", "-MD"]
    entries = closure(project, ["gcc", inc, "hello.c"])
    assert {e.kind for e in entries} == {"F", "S"}
    first = native_compile(daemon, str(project), argv, entries)
    assert first.error is None and first.status == 0, first.stderr
    assert len(first.needed) == 3  # hello.c, hello.h, inc.h: system headers are the server's
    # Another command on the same files: compiled again, every file from the store.
    third_argv = [*argv, "-DANOTHER"]
    second = native_compile(daemon, str(project), third_argv, entries)
    assert second.needed == [] and second.status == 0
    subprocess.run(argv, cwd=project, check=True)
    assert first.obj == second.obj == (project / "hello.o").read_bytes()
    assert first.dotd == (project / "hello.d").read_bytes()
    assert first.dwo == b""
    daemon.wait_log("native job", 2)
    assert daemon.log_lines("identical job") == []
    assert sorted(p.name for p in daemon.tmp_dir.iterdir()) == [RESULTS_NAME, STORE_NAME]


def test_split_dwarf_returns_the_dwo(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    argv = ["gcc", "-g", "-O2", "-gsplit-dwarf", f"-I{project.parent}/inc", "-c", "hello.c"]
    entries = closure(project, ["gcc", f"-I{project.parent}/inc", "hello.c"])
    reply = native_compile(daemon, str(project), argv, entries)
    assert reply.status == 0, reply.stderr
    subprocess.run(argv, cwd=project, check=True)
    assert reply.obj == (project / "hello.o").read_bytes()
    assert reply.dwo == (project / "hello.dwo").read_bytes()


def test_system_header_the_server_lacks_is_received(
    start_daemon: StartDaemon, project: Path
) -> None:
    """A header under a system directory that differs here: the client's copy is used."""
    daemon = start_daemon(INSECURE)
    (project / "sys.c").write_text(
        "#include <stdio.h>\n#include <zz_distcc_py_test.h>\nint v = ZZ_VALUE;\n"
        "#ifndef ZZ_FROM_CLIENT_STDIO\n#error the server's own stdio.h was used\n#endif\n"
    )
    argv = ["gcc", "-O2", "-c", "sys.c", "-MD"]
    entries = closure(project, ["gcc", "-O2", f"-I{project.parent}/inc", "hello.c"])
    entries = [e for e in entries if e.kind == "S"]
    entries.append(NEntry("F", str(project / "sys.c"), (project / "sys.c").read_bytes()))
    fake = "/usr/include/zz_distcc_py_test.h"
    entries.append(NEntry("S", fake, b"#define ZZ_VALUE 42\n"))
    stdio = next(e for e in entries if e.path == "/usr/include/stdio.h")
    stdio.data += b"\n#define ZZ_FROM_CLIENT_STDIO 1\n"  # the client's stdio.h differs
    reply = native_compile(daemon, str(project), argv, entries)
    assert reply.status == 0, reply.stderr
    assert len(reply.needed) == 3
    assert f"{fake}".encode() in reply.dotd
    assert str(daemon.tmp_dir).encode() not in reply.obj + reply.dotd
    assert daemon.wait_log("system headers sent by the client")
    obj = project / "sys.o"
    obj.write_bytes(reply.obj)
    syms = subprocess.run(["nm", str(obj)], capture_output=True, check=True).stdout
    assert b" D v\n" in syms


def test_refusals_are_explicit(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    hello = NEntry("F", str(project / "hello.c"), (project / "hello.c").read_bytes())
    bad_name = native_compile(daemon, str(project), ["gcc", "-c", "hello.c"],
                              [NEntry("F", "/../etc/passwd", b"x")])  # fmt: skip
    assert bad_name.error and "'..'" in bad_name.error
    plugin = native_compile(
        daemon, str(project), ["gcc", "-fplugin=x.so", "-c", "hello.c"], [hello]
    )
    assert plugin.error and "refused" in plugin.error
    escape = native_compile(daemon, str(project), ["gcc", "-c", "hello.c"],
                            [hello, NEntry("L", "/up", target="../../../../x")])  # fmt: skip
    assert escape.error and "leaves the root" in escape.error
    fresh = NEntry("F", str(project / "hello.c"), b"int fresh;\n")
    corrupt = native_compile(daemon, str(project), ["gcc", "-c", "hello.c"], [fresh], corrupt=True)
    assert corrupt.error is not None
    daemon.wait_log("client: ", 4)
    daemon.wait_idle_but_store()


def test_store_is_all_that_is_left(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    good = NEntry("F", str(project / "hello.c"), b"int main(void) { return 0; }\n")
    assert native_compile(daemon, str(project), ["gcc", "-c", "hello.c"], [good]).status == 0
    broken = NEntry("F", str(project / "hello.c"), b"syntax error\n")
    assert native_compile(daemon, str(project), ["gcc", "-c", "hello.c"], [broken]).status != 0
    bad = native_compile(daemon, str(project), ["gcc", "-c", "hello.c"], [NEntry("F", "x", b"")])
    assert bad.error
    daemon.wait_log("client: ", 3)
    daemon.wait_idle_but_store()
    assert sorted(p.name for p in daemon.tmp_dir.iterdir()) == [RESULTS_NAME, STORE_NAME]
    assert len(list((daemon.tmp_dir / STORE_NAME).rglob("*"))) == 4  # 2 dirs, 2 files
    assert len(list((daemon.tmp_dir / RESULTS_NAME).iterdir())) == 1  # the good compile


@pytest.mark.parametrize("flags", [["-g", "-O2", "-MD"], ["-g", "-MMD"]])
def test_client_system_headers_build_the_same_object(
    start_daemon: StartDaemon, project: Path, flags: list[str]
) -> None:
    """Through the root (``-nostdinc``, ``-isystem ROOT/dir``...), the same headers give the
    same object and ``.d`` as a local build."""
    daemon = start_daemon(INSECURE)
    inc = f"-I{project.parent}/inc"
    argv = ["gcc", *flags, inc, "-c", "hello.c", "-o", "hello.o"]
    entries = closure(project, ["gcc", "-O2", inc, "hello.c"])
    entries.append(NEntry("S", "/usr/include/zz_distcc_py_unused.h", b"int unused;\n"))
    reply = native_compile(daemon, str(project), argv, entries)
    assert reply.status == 0, reply.stderr
    assert daemon.wait_log("system headers sent by the client")
    subprocess.run(argv, cwd=project, check=True)
    assert reply.obj == (project / "hello.o").read_bytes()
    assert reply.dotd == (project / "hello.d").read_bytes()


def test_output_over_a_shipped_file_leaves_the_store_intact(
    start_daemon: StartDaemon, project: Path
) -> None:
    daemon = start_daemon(INSECURE)
    header_text = b"#define X 1\n"
    entries = [
        NEntry("F", str(project / "a.c"), b'#include "x.h"\nint a = X;\n'),
        NEntry("F", str(project / "x.h"), header_text),
    ]
    reply = native_compile(daemon, str(project), ["gcc", "-c", "a.c", "-o", "x.h"], entries)
    assert reply.status == 0, reply.stderr
    stored = daemon.tmp_dir / STORE_NAME / digest_of(header_text)[8:10] / digest_of(header_text)[8:]
    assert stored.read_bytes() == header_text
    again = native_compile(daemon, str(project), ["gcc", "-c", "a.c", "-o", "a.o"], entries)
    assert again.needed == [] and again.status == 0


def test_server_files_outside_system_dirs_are_never_consulted(
    start_daemon: StartDaemon, project: Path
) -> None:
    """An SDIG for /etc/passwd with its true digest is still asked for: no oracle."""
    daemon = start_daemon(INSECURE)
    passwd = Path("/etc/passwd").read_bytes()
    entries = [
        NEntry("F", str(project / "a.c"), b"int a;\n"),
        NEntry("S", "/etc/passwd", passwd),
    ]
    reply = native_compile(daemon, str(project), ["gcc", "-c", "a.c"], entries)
    assert digest_of(passwd) in reply.needed


def test_output_leaving_the_root_gets_errr(start_daemon: StartDaemon, project: Path) -> None:
    daemon = start_daemon(INSECURE)
    entries = [
        NEntry("F", str(project / "a.c"), b"int a;\n"),
        NEntry("L", "/out", target="../" * 30 + "tmp"),
    ]
    reply = native_compile(daemon, str(project), ["gcc", "-c", "a.c", "-o", "/out/a.o"], entries)
    assert reply.error and "leaves the root" in reply.error
    reply = native_compile(
        daemon, str(project), ["gcc", "-c", "a.c", "-o", "/out/a.o"], entries[:1]
    )
    assert reply.status == 0  # /out is then an ordinary directory inside the root
    assert not Path("/out").exists()


def test_parts_are_asked_for_only_where_the_daemon_lacks_them(
    start_daemon: StartDaemon, project: Path
) -> None:
    """``PRTS``: a daemon that has every part asks for none; one that lacks some asks for
    exactly those, and the job is the same as with its entries inline."""
    daemon = start_daemon(INSECURE)
    inc = f"-I{project.parent}/inc"
    argv = ["gcc", "-O2", inc, "-c", "hello.c", "-o", "hello.o", "-MD"]
    entries = closure(project, ["gcc", inc, "hello.c"])
    system = [e for e in entries if e.kind == "S"]
    own = [e for e in entries if e.kind != "S"]
    first = native_compile(daemon, str(project), argv, entries, parts=[system, own])
    assert first.error is None and first.status == 0, first.stderr
    assert first.parts_needed == [digest_of(entry_bytes(system)), digest_of(entry_bytes(own))]
    # Every part known: nothing is asked for, neither parts nor files.
    again = native_compile(daemon, str(project), argv, entries, parts=[system, own])
    assert again.parts_needed == [] and again.needed == [] and again.obj == first.obj
    # Another TU sharing the system part: only its own part travels (and its new file).
    (project / "other.c").write_text("#include <stdio.h>\nint other;\n")
    other = NEntry("F", str(project / "other.c"), (project / "other.c").read_bytes())
    reply = native_compile(
        daemon, str(project), ["gcc", "-c", "other.c"], [*system, other], parts=[system, [other]]
    )
    assert reply.status == 0, reply.stderr
    assert reply.parts_needed == [digest_of(entry_bytes([other]))]
    assert reply.needed == [digest_of(other.data)]
    subprocess.run(argv, cwd=project, check=True)
    assert first.obj == (project / "hello.o").read_bytes()
    assert first.dotd == (project / "hello.d").read_bytes()


def test_a_part_that_does_not_match_its_digest_gets_errr(
    start_daemon: StartDaemon, project: Path
) -> None:
    daemon = start_daemon(INSECURE)
    hello = NEntry("F", str(project / "hello.c"), (project / "hello.c").read_bytes())
    raw = entry_bytes([hello])
    with daemon.connect() as sock:
        sock.sendall(request(str(project), ["gcc", "-c", "hello.c"], [], [raw]))
        reader = Reader(sock.makefile("rb"))
        assert reader.expect(b"NEED") == 1
        assert reader.read_string(b"DGST") == digest_of(raw)
        sock.sendall(_blob(raw.replace(b"hello.c", b"hellO.c")))
        token, value = reader.read_header()
        assert token == b"ERRR"
        assert "BLOB" in reader.read_string_body(token, value)
    daemon.wait_log("client: ", 1)
    daemon.wait_idle_but_store()


def test_parts_ending_inside_an_entry_are_a_bad_request(tmp_path: Path) -> None:
    """Not a ``TruncatedError`` (that would mean the client went away: no ``ERRR``)."""
    import io

    from common.protocol import ProtocolError, TruncatedError
    from daemon.native import read_request_entries
    from daemon.store import Store

    half = string_packet(NAME, "/src/a.c")  # an entry without its FDIG
    sent: list[bytes] = []
    stream = request("/src", ["gcc"], [], [half]) + _blob(half)
    reader = Reader(io.BytesIO(stream))
    reader.expect(DIST)
    reader.read_string(CDIR)
    reader.read_argv()
    with pytest.raises(ProtocolError, match="inside an entry") as info:
        read_request_entries(reader, Store(str(tmp_path)), sent.append)
    assert not isinstance(info.value, TruncatedError)
    assert sent == [header(b"NEED", 1) + string_packet(b"DGST", digest_of(half))]
