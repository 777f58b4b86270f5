"""The client root: the on-disk mirror a stock distcc 3.4 client reads a reply from.

Purpose: turn a closure into the list of paths distcc's pump client expects (reference §4.2,
§4.3): LZO copies of the files, symlinks, and placeholder files for directories that must
exist, all under a private directory of exactly three path components.

Invariants:
- The root is ``mkdtemp(dir=$DISTCC_CLIENT_TMP or /dev/shm or /tmp,
  suffix=".include_server-<pid>-<generation>")`` padded with ``/padding`` to exactly 3
  components: the C client strips 3 components from every path.
- ``<root><realpath>.lzo`` holds the file's bytes, LZO1X-compressed (headerless, as distcc's
  miniLZO); ``.lzo.abs`` copies start with ``#line 1 "<opened>"`` (gcc opened the file by an
  absolute name, which on the server lives under its temporary root).
- Files under a compiler default directory are never copied; instead ``<root><dir>`` is a
  symlink ``../`` x (20 + depth) + ``<dir>`` that climbs out of the server's root to its own
  system directory, made once per top-most default directory.
- Other symlinks crossed are mirrored pointing at their absolute canonical target (distccd
  re-roots absolute link targets).  Directories that must exist get an empty
  ``forcing_technique_271828`` file.
- A copy is written once per (path, digest); it is written to a temporary name and renamed,
  so a client reading an older copy never sees a half-written file.  If the bytes on disk no
  longer match the closure's digest, ``reply`` returns None: the caller answers "not
  covered" rather than ship a file the analysis did not see.
- Reply order: files, then system links, then mirrored links, then forcing files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading

import lzo  # type: ignore[import-not-found,unused-ignore]  # noqa: F401  (warm: the first reply)

from common.compress import lzo_compress
from include_server.closure import Closure
from include_server.filesystem import content_digest

MAX_COMPONENTS_IN_SERVER_ROOT = 20
FORCING_NAME = "forcing_technique_271828"
ROOT_DEPTH = 3


def default_tmp_base(env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    base = env.get("DISTCC_CLIENT_TMP")
    if base:
        if not base.startswith("/") or len([c for c in base.split("/") if c]) > 2:
            raise ValueError("DISTCC_CLIENT_TMP must be absolute with at most 2 components")
        return base
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else "/tmp"


def make_root(base: str, generation: int) -> tuple[str, str]:
    """(the directory made, the root under it padded to exactly 3 components)."""
    made = tempfile.mkdtemp(suffix=f".include_server-{os.getpid()}-{generation}", dir=base)
    depth = len([c for c in made.split("/") if c])
    if depth > ROOT_DEPTH:
        shutil.rmtree(made, ignore_errors=True)
        raise ValueError(f"client root {made} has more than {ROOT_DEPTH} components")
    root = made + "/padding" * (ROOT_DEPTH - depth)
    os.makedirs(root, exist_ok=True)
    return made, root


class ClientRoot:
    def __init__(self, base: str, generation: int = 1) -> None:
        self.base = base
        self.top, self.root = make_root(base, generation)
        self._written: dict[str, str] = {}  # path under root -> digest written
        self._lock = threading.Lock()
        self._made: set[str] = set()
        self._dirs: set[str] = set()

    def _write_copy(self, dest: str, source: str, digest: str, prefix: bytes) -> bool:
        with open(source, "rb") as f:
            data = f.read()
        if content_digest(data) != digest:
            return False
        directory = os.path.dirname(dest)
        if directory not in self._dirs:
            os.makedirs(directory, exist_ok=True)
            self._dirs.add(directory)
        # A name private to this thread (the root is private to this process).
        tmp = f"{dest}.tmp-{threading.get_ident()}"
        with open(tmp, "wb") as out:
            out.write(lzo_compress(prefix + data))
        os.replace(tmp, dest)
        return True

    def _ensure(self, key: str, make: object) -> None:
        with self._lock:
            if key in self._made:
                return
        assert callable(make)
        make()
        with self._lock:
            self._made.add(key)

    def reply(self, closure: Closure) -> list[str] | None:
        """Paths for the stock client, or None if a file changed since the analysis."""
        root = self.root
        defaults = tuple(d.rstrip("/") + "/" for d in closure.default_dirs)
        files: list[str] = []
        for f in closure.files:
            if f.default:
                continue
            absolute = f.opened.startswith("/") and f.path != closure.source
            dest = root + f.path + (".lzo.abs" if absolute else ".lzo")
            files.append(dest)
            with self._lock:
                done = self._written.get(dest) == f.digest
            if done:
                continue
            prefix = f'#line 1 "{f.opened}"\n'.encode("latin-1") if absolute else b""
            try:
                ok = self._write_copy(dest, f.path, f.digest, prefix)
            except OSError:
                return None
            if not ok:
                return None
            with self._lock:
                self._written[dest] = f.digest

        system_links: list[str] = []
        for d in closure.default_dirs:
            if any(d.startswith(other) for other in defaults if other != d.rstrip("/") + "/"):
                continue  # a parent default dir's link covers it
            link = root + d
            target = "../" * (MAX_COMPONENTS_IN_SERVER_ROOT + d.count("/")) + d.lstrip("/")

            def make_system(link: str = link, target: str = target) -> None:
                os.makedirs(os.path.dirname(link), exist_ok=True)
                _symlink(target, link)

            self._ensure("sys:" + link, make_system)
            system_links.append(link)

        mirrored: list[str] = []
        for path, _target in closure.symlinks:
            if path.startswith(defaults):
                continue
            link = root + path
            canonical = os.path.realpath(path)

            def make_link(link: str = link, canonical: str = canonical) -> None:
                os.makedirs(os.path.dirname(link), exist_ok=True)
                _symlink(canonical, link)

            self._ensure("link:" + link, make_link)
            mirrored.append(link)

        forcing: list[str] = []
        for d in closure.must_exist:
            if d.startswith(defaults) or d.rstrip("/") + "/" in defaults:
                continue
            name = root + d.rstrip("/") + "/" + FORCING_NAME

            def make_forcing(name: str = name) -> None:
                os.makedirs(os.path.dirname(name), exist_ok=True)
                open(name, "a").close()

            self._ensure("force:" + name, make_forcing)
            forcing.append(name)
        return files + system_links + mirrored + forcing

    def remove(self) -> None:
        shutil.rmtree(self.top, ignore_errors=True)


def _symlink(target: str, link: str) -> None:
    """Make ``link``; one that exists already (made by another request's thread a moment
    earlier: replies are built concurrently) is left as it is."""
    try:
        os.symlink(target, link)
    except FileExistsError:
        pass
