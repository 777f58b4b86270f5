"""Compile results the daemon remembers: the same native pump job twice is compiled once.

A pump job's inputs are all named on the wire: the compiler (resolved by the daemon's own
policy), the client's argv and working directory, and every file of the closure by
content digest (plus links and must-exist directories).  Two jobs with the same inputs on
the same compiler give the same outputs, so after a successful compile the daemon keeps
the whole native reply (``DONE`` .. ``DDWO``, already LZ4-framed) under a key made of
those inputs; a later job with the same key gets that reply without compiling and without
its missing files being sent (``NEED 0``).  This is what ``make clean && pump make``
saves on a server that built the tree before.

The key (``job_key``) covers: a format version, whether compilers run in the sandbox, the
resolved compiler program and its file identity (device, inode, size, mtime: an upgraded
compiler gives new keys), the same of the programs it runs (``cc1``, ``cc1plus``, ``as``,
found once per driver with ``-print-prog-name``), the argv, the cwd, and every entry
(kind, path, digest, size, link target) in the order sent. Not cached: failed compiles,
replies that carry the daemon's own warnings, and jobs whose sources use ``__DATE__``,
``__TIME__`` or ``__TIMESTAMP__`` or whose command line does (their objects legitimately
differ from run to run; ``TimeMacros`` remembers the answer per digest so a file is read
once). A time macro spelt by token pasting (``CAT(__TI, ME__)``) is not seen, as in
ccache's direct mode. The client's environment is not part of a distcc request, so it
cannot change the compile.

Storage: ``<TMPDIR>/distccd-results/<64 hex>``, each file written to a temporary name and
renamed; a size-bounded LRU (``DISTCCD_RESULT_CACHE_SIZE`` MiB, default 256, 0 disables);
emptied when the daemon starts, so nothing outlives the process that wrote it (an
upgraded daemon never serves its predecessor's replies).

Vocabulary: a *reply* is the exact byte string a native client reads after ``NEED``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from hashlib import blake2b

from daemon.native import Entry
from daemon.store import private_dir

RESULTS_NAME = "distccd-results"
DEFAULT_MAX_BYTES = 256 << 20
MAX_ENTRIES = 1 << 16  # also bounds the directory and the index, however small the replies
KEY_FORMAT = b"distccd-result-1"
TIME_MACROS = (b"__DATE__", b"__TIME__", b"__TIMESTAMP__")


def job_key(
    *,
    sandboxed: bool,
    program: str,
    search_path: str,
    argv: Sequence[str],
    cwd: str,
    entries: Iterable[Entry],
) -> str | None:
    """The hex key of a job, or None if the compiler cannot be identified.  ``program``
    is found on ``search_path`` (the daemon's PATH) when it is a bare name, as it will be
    when it runs."""
    found = program if "/" in program else shutil.which(program, path=search_path)
    if found is None:
        return None
    try:
        st = os.stat(found)
        parts = [_identity(p) for p in _helpers(found, st, search_path)]
    except OSError:
        return None
    h = blake2b(digest_size=32)

    def field(*parts: object) -> None:
        for part in parts:
            data = str(part).encode("utf-8", "surrogateescape")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)

    field(KEY_FORMAT.decode(), int(sandboxed), found)
    field(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    field(len(parts), *parts)
    field(cwd, len(argv), *argv)
    for e in entries:
        field(e.kind, e.path, e.digest, e.size, e.target)
    return h.hexdigest()


# The programs the driver runs for a compile: a cc1 or an assembler changed by an upgrade
# that leaves the driver alone must give new keys too.
_HELPER_NAMES = ("cc1", "cc1plus", "as")
_helpers_seen: dict[tuple[str, int, int, int], tuple[str, ...]] = {}
_helpers_lock = threading.Lock()


def _helpers(driver: str, st: os.stat_result, search_path: str) -> tuple[str, ...]:
    """The paths of the driver's cc1, cc1plus and as (``-print-prog-name``), asked once
    per driver file; names it cannot place are left out (clang has no cc1 program)."""
    import subprocess

    ident = (driver, st.st_ino, st.st_size, st.st_mtime_ns)
    with _helpers_lock:
        known = _helpers_seen.get(ident)
    if known is not None:
        return known
    found: list[str] = []
    for name in _HELPER_NAMES:
        try:
            out = subprocess.run(
                [driver, f"-print-prog-name={name}"],
                capture_output=True,
                text=True,
                timeout=30,
                env={"PATH": search_path, "LC_ALL": "C"},
                stdin=subprocess.DEVNULL,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        path = out if "/" in out else shutil.which(out, path=search_path) or ""
        if path and os.path.exists(path):
            found.append(os.path.realpath(path))
    result = tuple(found)
    with _helpers_lock:
        _helpers_seen[ident] = result
    return result


def _identity(path: str) -> str:
    st = os.stat(path)
    return f"{path}:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def uses_time_macros(argv: Sequence[str]) -> bool:
    """Does the command line itself name a time macro (``-DSTAMP=__TIME__``)?"""
    return any(m.decode() in word for word in argv for m in TIME_MACROS)


class TimeMacros:
    """Whether a file's content uses a time macro, remembered by digest."""

    def __init__(self, limit: int = 1 << 16) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, bool] = {}
        self._limit = limit

    def any_in(self, files: Iterable[tuple[str, str]]) -> bool:
        """``files``: (digest, path holding that content).  An unreadable file counts as
        using one (the job is then simply not cached)."""
        for digest, path in files:
            with self._lock:
                known = self._known.get(digest)
            if known is None:
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    return True
                known = any(m in data for m in TIME_MACROS)
                with self._lock:
                    if len(self._known) >= self._limit:
                        self._known.clear()
                    self._known[digest] = known
            if known:
                return True
        return False


class ResultCache:
    def __init__(self, directory: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._lru: OrderedDict[str, int] = OrderedDict()  # key -> size, oldest first
        self.total = 0
        self.hits = 0
        mine = os.path.isdir(directory) and not os.path.islink(directory)
        if mine and os.lstat(directory).st_uid == os.geteuid():
            shutil.rmtree(directory, ignore_errors=True)  # a previous daemon's replies
        directory = private_dir(directory)
        self.directory = directory

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            if key not in self._lru:
                return None
            self._lru.move_to_end(key)
        try:
            with open(self._path(key), "rb") as f:
                data = f.read()
        except OSError:
            return None
        with self._lock:
            self.hits += 1
        return data

    def put(self, key: str, reply: bytes) -> None:
        if len(reply) > self.max_bytes:
            return
        dest = self._path(key)
        tmp = f"{dest}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o400)
            with os.fdopen(fd, "wb") as f:
                f.write(reply)
            os.replace(tmp, dest)
        except OSError:  # a full disk costs the cache entry, never the job
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return
        with self._lock:  # unlinks too: a put of the same key must not race its removal
            old = self._lru.pop(key, None)
            if old is not None:
                self.total -= old
            self._lru[key] = len(reply)
            self.total += len(reply)
            while self._lru and (self.total > self.max_bytes or len(self._lru) > MAX_ENTRIES):
                victim, size = self._lru.popitem(last=False)
                self.total -= size
                with contextlib.suppress(OSError):
                    os.unlink(self._path(victim))

    def __len__(self) -> int:
        with self._lock:
            return len(self._lru)
