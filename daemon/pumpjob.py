"""Pump mode on the daemon: compile a client's tree in a mirror root, reply client paths.

Shared by protocol 3 (``serve_v3``: files arrive as ``NAME`` + ``FILE``/``LINK``) and the
native protocol (daemon/native.py: files by digest).  The order of a job:

1. ``CDIR`` and the argv are read and checked (the shared command-line model, the compiler
   policy) before anything touches the disk; the compiler's default include directories
   are probed (once per compiler, daemon/sysdirs.py) so that links to them can be judged;
2. a private job directory ``<TMPDIR>/distccd_XXXXXX`` is made; ``<job>/root`` stands for
   the client's ``/`` (daemon/mirror.py), ``<job>/deps.d`` receives the ``.d`` file;
3. entries are received into the root, every name validated (daemon/names.py); a bad
   name or a link leaving the root closes the connection (stock wire behaviour) with a
   log line; links are checked again with ``realpath`` when the root is complete;
4. the command is re-rooted (daemon/reroot.py) and run in ``root + cwd``; under
   ``distccd --sandbox`` it keeps the client's paths instead and runs chrooted in the
   root, in the client's cwd (daemon/chroot.py, daemon/sandbox.py), so that steps 5 and 6
   find nothing to rewrite;
5. on success the object (and ``.dwo``) are checked for the root string: with the prefix
   map there is normally none; if there is, ``objrewrite`` rewrites it away, and if any is
   still left the job *fails* (status 100<<8 and a message: the client compiles locally
   and counts it) rather than ship an object naming server paths;
6. the ``.d`` is rewritten to client paths and re-wrapped (daemon/dotd.py); the root is
   also removed from the compiler's stderr; (protocol 3 cannot carry a ``.dwo``, so a
   ``-gsplit-dwarf`` job fails there with a message and the client compiles it locally;
   the native protocol returns it);
7. the job directory is removed whatever happened (unless DISTCC_SAVE_TEMPS=1).

Vocabulary: *root* is the mirror root; *cwd* the client's working directory; *client path*
and *server path* as in daemon/mirror.py.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from common.compiler.classify import classify
from common.compiler.job import CompileJob, Meaning, RunLocally
from common.exitcodes import ExitCode
from common.protocol import FILE, LINK, NAME, NFIL, ProtocolError, Reader, Reply, reply_packets
from daemon import dotd, runner
from daemon.allowlist import Refusal
from daemon.chroot import DEP_FILE
from daemon.command import server_refusal
from daemon.mirror import MirrorRoot
from daemon.names import BadName, normal
from daemon.reroot import mirror_argv
from daemon.stats import Result
from daemon.sysdirs import CompilerFacts, Prober

log = logging.getLogger(__name__)

ROOT_NAME = "root"
DEP_NAME = "deps.d"
MAX_TOTAL_BYTES = 1 << 31  # all files of one job, inflated
# Words that change a compiler's default include directories (the probe repeats them).
_PROBE_MEANINGS = frozenset(
    {
        Meaning.TARGET,
        Meaning.SYSROOT,
        Meaning.TOOLCHAIN,
        Meaning.STDLIB,
        Meaning.NO_STD_INC,
        Meaning.NO_STD_INC_CXX,
        Meaning.NO_STD_LIB_INC,
        Meaning.NO_BUILTIN_INC,
    }
)


class JobRefused(Exception):
    """Refuse the job before compiling: no reply (protocol 3) or ``ERRR`` (native)."""

    def __init__(self, result: str, ret: int, message: str) -> None:
        super().__init__(message)
        self.result = result
        self.ret = ret


@dataclass
class Compiled:
    status: int
    ended: str
    stdout: bytes
    stderr: bytes
    obj: bytes
    dotd: bytes
    dwo: bytes


@dataclass
class PumpRequest:
    """A checked pump request, before its files arrive."""

    cwd: str
    job: CompileJob
    program: str
    facts: CompilerFacts


def check_request(
    cwd_text: str, argv: list[str], policy_check: Callable[[str], str | Refusal], prober: Prober
) -> PumpRequest:
    try:
        cwd = normal(cwd_text, "CDIR", allow_root=True)
    except BadName as exc:
        raise JobRefused(Result.REJ_BAD_REQ, ExitCode.PROTOCOL_ERROR, str(exc)) from None
    if not argv or not argv[0] or argv[0].startswith("-"):
        raise JobRefused(Result.OTHER, ExitCode.BAD_ARGUMENTS, "no compiler name")
    why = server_refusal(argv, plain=False)  # the daemon's own list, as in plain mode
    if why:
        raise JobRefused(Result.OTHER, ExitCode.BAD_ARGUMENTS, f"refused {argv[0]}: {why}")
    job = classify(argv, {}, _no_files)
    if isinstance(job, RunLocally):
        raise JobRefused(
            Result.OTHER, ExitCode.BAD_ARGUMENTS, f"refused {argv[0]}: {job.reason}: {job.detail}"
        )
    if any(po.spec.meaning == Meaning.REFUSED_BY_SERVER for po in job.options):
        raise JobRefused(Result.OTHER, ExitCode.BAD_ARGUMENTS, "refused: insecure option")
    program = policy_check(job.compiler)
    if isinstance(program, Refusal):
        raise JobRefused(Result.OTHER, ExitCode.BAD_ARGUMENTS, f"refused: {program.reason}")
    extra: list[str] = []
    for po in job.options:
        if po.spec.meaning in _PROBE_MEANINGS:
            extra.extend(job.argv[po.index : po.index + po.words])
    facts = prober.probe(program, job.language, tuple(extra))
    return PumpRequest(cwd, job, program, facts)


def _no_files(path: str) -> bytes:
    raise OSError(f"response file {path} refused on the server")


class Workspace:
    """The job directory: the mirror root and the ``.d`` file beside it."""

    def __init__(self, tmp_dir: str, facts: CompilerFacts) -> None:
        self.job_dir = tempfile.mkdtemp(prefix="distccd_", dir=tmp_dir)
        self.root = os.path.join(self.job_dir, ROOT_NAME)
        os.mkdir(self.root, 0o755)
        self.dep_file = os.path.join(self.job_dir, DEP_NAME)
        self.mirror = MirrorRoot(self.root, facts.allows)

    def remove(self, keep: bool) -> None:
        if keep:
            log.info("DISTCC_SAVE_TEMPS: keeping %s", self.job_dir)
        else:
            shutil.rmtree(self.job_dir, ignore_errors=True)


def read_v3_entries(reader: Reader, mirror: MirrorRoot) -> None:
    """``NFIL`` n, then n x ``NAME`` + (``FILE`` | ``LINK``), into the mirror root."""
    count = reader.expect(NFIL)
    if count > reader.limits.max_files:
        raise ProtocolError(f"NFIL {count} exceeds limit {reader.limits.max_files}")
    total = 0
    for _ in range(count):
        name = reader.read_string(NAME)
        token, length = reader.read_header()
        if token == FILE:
            data = reader.read_bulk_body(FILE, length, True)
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                raise ProtocolError(f"files larger than {MAX_TOTAL_BYTES} bytes in all")
            mirror.write_file(name, data)
        elif token == LINK:
            mirror.add_link(name, reader.read_string_body(LINK, length))
        else:
            raise ProtocolError(f"protocol derailment: expected FILE or LINK, got {token!r}")
    mirror.verify_links()


def compile_in_root(
    request: PumpRequest,
    space: Workspace,
    run: Callable[[list[str], str], runner.Run],
    front: tuple[str, ...] = (),
    back: tuple[str, ...] = (),
    chrooted: bool = False,
) -> Compiled:
    """Re-root the command, run it (``run(argv, cwd)``), fix and collect its outputs.

    ``front`` words go right after the prefix map, ``back`` words at the end (the native
    protocol's own system directories).  ``chrooted``: ``run`` runs the compiler with
    the root as its ``/`` (daemon/chroot.py), so the command keeps the client's paths and
    the ``.d`` goes to ``chroot.DEP_FILE``; ``run`` still gets the server cwd."""
    root = space.root
    mirror = space.mirror
    cwd_server = mirror.make_dir(request.cwd)
    dep_file = root + DEP_FILE if chrooted else space.dep_file
    command = mirror_argv(
        request.job,
        "" if chrooted else root,
        request.cwd,
        DEP_FILE if chrooted else space.dep_file,
        lambda p: os.path.lexists(root + normal(p, allow_root=True)),
        prefix_map=not chrooted,
    )
    out_dir = mirror.make_output_dir(posixpath.dirname(command.output))
    _make_room(os.path.join(out_dir, posixpath.basename(command.output)))
    if command.dwo is not None:
        dwo_dir = mirror.make_output_dir(posixpath.dirname(command.dwo))
        _make_room(os.path.join(dwo_dir, posixpath.basename(command.dwo)))
    argv = [request.program, command.argv[1], *front, *command.argv[2:], *back]
    ran = run(argv, cwd_server)
    stderr = _strip_root(ran.stderr, root)
    if ran.status != 0:
        return Compiled(ran.status, ran.ended, ran.stdout, stderr, b"", b"", b"")
    obj_path = os.path.join(out_dir, posixpath.basename(command.output))
    problems: list[str] = []
    obj = _fixed(_read(obj_path), root, command.output, problems)
    dwo = b""
    if command.dwo is not None:
        dwo = _fixed(_read(mirror.server_path(command.dwo)), root, command.dwo, problems)
    if problems:
        message = "".join(
            f"distccd: {p}: server path left after rewriting; compile locally\n" for p in problems
        )
        log.info("%s", message.strip())
        return Compiled(
            ExitCode.DISTCC_FAILED << 8,
            ran.ended,
            ran.stdout,
            stderr + message.encode(),
            b"",
            b"",
            b"",
        )
    dep = _read(dep_file)
    if dep and not chrooted:  # chrooted, the compiler wrote client paths itself
        text = dep.decode("utf-8", "surrogateescape")
        dep = dotd.rewrite(text, root, request.facts.clang).encode("utf-8", "surrogateescape")
    return Compiled(0, ran.ended, ran.stdout, stderr, obj, dep, dwo)


SPLIT_DWARF_MESSAGE = (
    b"distccd: -gsplit-dwarf writes a .dwo file that protocol 3 cannot return;"
    b" compile locally (or use a ,native host)\n"
)


def split_dwarf_refusal() -> Compiled:
    """Protocol 3 has no packet for the ``.dwo``: rather than return an object whose
    split debug info is lost, fail the job so that the client compiles it locally."""
    log.info("%s", SPLIT_DWARF_MESSAGE.decode().strip())
    return Compiled(
        ExitCode.DISTCC_FAILED << 8, runner.Ended.EXITED, b"", SPLIT_DWARF_MESSAGE, b"", b"", b""
    )


def _make_room(path: str) -> None:
    """The compiler must never write into a file hard-linked from the content store: if
    a client shipped a file where an output goes, it gets a private copy first."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    import stat

    if stat.S_ISDIR(st.st_mode):
        raise BadName(f"{path}: the output is a directory")
    if not stat.S_ISREG(st.st_mode) or st.st_nlink == 1:
        if not stat.S_ISREG(st.st_mode):
            os.unlink(path)  # a link: the compiler would write through it
        return
    tmp = path + ".distccd-copy"
    shutil.copyfile(path, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _fixed(data: bytes, root: str, name: str, problems: list[str]) -> bytes:
    """``data`` with no trace of ``root``: the safety net, then the final scan."""
    needle = root.encode()
    if needle not in data:
        return data
    try:
        import objrewrite

        data, _report = objrewrite.rewrite_bytes(data, [(root, "")])
    except Exception as exc:  # not ELF/Mach-O (an .s file), or a rewrite it cannot do
        log.info("objrewrite on %s: %s", name, exc)
    if needle in data:
        problems.append(name)
    return data


def _strip_root(text: bytes, root: str) -> bytes:
    needle = root.encode() + b"/"
    return text.replace(needle, b"/") if needle in text else text


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def v3_reply(version: int, done: Compiled) -> bytes:
    ok = done.status == 0
    return reply_packets(
        Reply(
            version,
            done.status,
            stderr=done.stderr,
            stdout=done.stdout,
            obj=done.obj if ok else b"",
            dotd=done.dotd if ok else None,
        )
    )
