"""A memoising view of the file system that records what every answer depended on.

Purpose: resolve paths the way the kernel does (component by component, following symlinks,
``..`` applied to the directory reached so far), remember each ``lstat``/``readlink``, read
and scan files once, and report for every walk the *canonical* paths it consulted, so the
cache layer can invalidate exactly the answers a file-system event could change.

Invariants:
- Every path this module stores is absolute and canonical up to its last component (its
  directory part has no symlink, ``.`` or ``..``): the form in which a directory watcher
  reports events, so an event path can be compared with recorded dependencies as strings.
- A walk's ``deps`` holds every canonical path it ``lstat``-ed, misses included: creating,
  deleting, renaming or retargeting any of them can change the walk's answer, and nothing
  else can.
- A file whose stat changes while it is read is returned but never remembered
  (``FileData.stable`` is False), so a half-written header cannot poison the cache.
- ``forget(path)`` drops what is known about ``path`` and everything below it.

Vocabulary:
- *walk*: the resolution of one absolute path; *symlinks*: (path, target) pairs crossed;
  *through_dirs*: directories a ``..`` climbed out of (they must exist on the server too).
"""

from __future__ import annotations

import os
import stat as stat_mod
from _blake2 import blake2b  # builtin: hashlib would load OpenSSL (~4 MB of RSS)
from dataclasses import dataclass

from include_server.scanner import Define, ScanResult, definitions_in, scan

MAX_SYMLINK_HOPS = 40


class FileChanged(OSError):
    """A file's bytes differ from those its scan was made from."""


class Kind:
    FILE = "file"
    DIR = "dir"
    LINK = "link"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class StatInfo:
    kind: str
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


@dataclass(frozen=True, slots=True)
class Walk:
    path: str  # the path asked for, as given
    canonical: str | None  # None if it does not resolve
    kind: str | None  # Kind.FILE or Kind.DIR (None if missing)
    symlinks: tuple[tuple[str, str], ...]
    through_dirs: tuple[str, ...]
    deps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileData:
    canonical: str
    size: int
    digest: str  # "blake2b:<hex of 32 bytes>" (see ``content_digest``)
    scan: ScanResult
    stable: bool


def content_digest(data: bytes) -> str:
    """The digest files are known by: BLAKE2b-256, self-describing ("blake2b:<hex>")."""
    return "blake2b:" + blake2b(data, digest_size=32).hexdigest()


def _stat_info(st: os.stat_result) -> StatInfo:
    mode = st.st_mode
    if stat_mod.S_ISLNK(mode):
        kind = Kind.LINK
    elif stat_mod.S_ISDIR(mode):
        kind = Kind.DIR
    elif stat_mod.S_ISREG(mode):
        kind = Kind.FILE
    else:
        kind = Kind.OTHER
    return StatInfo(kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _join(directory: str, name: str) -> str:
    return directory + name if directory.endswith("/") else directory + "/" + name


class FileSystemView:
    """Memoised lstat/readlink/walk/read over the real file system."""

    def __init__(self) -> None:
        self._lstat: dict[str, StatInfo | None] = {}
        self._links: dict[str, str] = {}
        self._walks: dict[str, Walk] = {}
        self._walks_from: dict[tuple[str, str], Walk] = {}
        self._files: dict[str, FileData] = {}
        self._definitions: dict[tuple[str, str], list[Define]] = {}
        self.stats = {"lstat": 0, "read": 0, "unstable": 0}

    # -- primitives -------------------------------------------------------------------
    def lstat(self, path: str) -> StatInfo | None:
        try:
            return self._lstat[path]
        except KeyError:
            pass
        self.stats["lstat"] += 1
        try:
            info: StatInfo | None = _stat_info(os.lstat(path))
        except OSError:
            info = None
        self._lstat[path] = info
        return info

    def readlink(self, path: str) -> str:
        try:
            return self._links[path]
        except KeyError:
            target = os.readlink(path)
            self._links[path] = target
            return target

    # -- walks ------------------------------------------------------------------------
    def walk(self, path: str) -> Walk:
        """Resolve the absolute ``path`` (see module docstring)."""
        try:
            return self._walks[path]
        except KeyError:
            pass
        result = self._walk(path)
        self._walks[path] = result
        return result

    def walk_from(self, directory: str, name: str) -> Walk:
        """``walk(directory/name)`` for a *canonical* existing ``directory``.

        Only ``name``'s components are looked at: the directory's own were consulted (and
        recorded as dependencies) when it was found.
        """
        key = (directory, name)
        try:
            return self._walks_from[key]
        except KeyError:
            pass
        # Kept apart from ``_walks``: this walk's deps start at ``directory``.
        result = self._walk(_join(directory, name), directory, name)
        self._walks_from[key] = result
        return result

    def _walk(self, path: str, start: str = "/", rest: str | None = None) -> Walk:
        deps: list[str] = []
        symlinks: list[tuple[str, str]] = []
        through: list[str] = []
        remaining = [c for c in reversed((path if rest is None else rest).split("/")) if c]
        cur = start
        hops = 0

        def missing() -> Walk:
            return Walk(path, None, None, tuple(symlinks), tuple(through), tuple(deps))

        while remaining:
            comp = remaining.pop()
            if comp == ".":
                continue
            if comp == "..":
                through.append(cur)
                cur = os.path.dirname(cur) if cur != "/" else "/"
                continue
            cand = _join(cur, comp)
            info = self.lstat(cand)
            deps.append(cand)
            if info is None:
                return missing()
            if info.kind == Kind.LINK:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return missing()
                try:
                    target = self.readlink(cand)
                except OSError:
                    return missing()
                symlinks.append((cand, target))
                if target.startswith("/"):
                    cur = "/"
                remaining.extend(c for c in reversed(target.split("/")) if c)
                continue
            if info.kind == Kind.DIR:
                cur = cand
                continue
            if any(c not in ("", ".") for c in remaining):
                return missing()  # ENOTDIR
            if info.kind != Kind.FILE:
                return missing()
            return Walk(path, cand, Kind.FILE, tuple(symlinks), tuple(through), tuple(deps))
        return Walk(path, cur, Kind.DIR, tuple(symlinks), tuple(through), tuple(deps))

    # -- contents ---------------------------------------------------------------------
    def read(self, canonical: str) -> FileData:
        """Scan result, digest and size of the regular file at ``canonical``."""
        try:
            return self._files[canonical]
        except KeyError:
            pass
        self.stats["read"] += 1
        self.walk(canonical)  # every component is lstat-ed, so ``forget`` finds this file
        before = os.stat(canonical)
        with open(canonical, "rb") as f:
            data = f.read()
            after = os.fstat(f.fileno())
        stable = (before.st_mtime_ns, before.st_size, before.st_ino, before.st_ctime_ns) == (
            after.st_mtime_ns,
            after.st_size,
            after.st_ino,
            after.st_ctime_ns,
        ) and len(data) == after.st_size
        result = FileData(
            canonical,
            len(data),
            content_digest(data),
            scan(data),
            stable,
        )
        if stable:
            self._files[canonical] = result
        else:
            self.stats["unstable"] += 1
        return result

    def definitions(self, canonical: str, name: str) -> list[Define]:
        """The ``#define``s of ``name`` in the file, re-read from disk (scans keep names only).

        Raises ``FileChanged`` if the bytes no longer match what the scan saw.
        """
        key = (canonical, name)
        try:
            return self._definitions[key]
        except KeyError:
            pass
        with open(canonical, "rb") as f:
            data = f.read()
        known = self._files.get(canonical)
        if known is not None and content_digest(data) != known.digest:
            raise FileChanged(f"{canonical} changed while being analysed")
        result = definitions_in(data, name)
        if len(self._definitions) > 100_000:
            self._definitions.clear()
        self._definitions[key] = result
        return result

    # -- invalidation -----------------------------------------------------------------
    def forget(self, path: str) -> bool:
        """Drop everything known about ``path`` and below it; derived walks all go.

        Returns False, doing nothing, when ``path`` was never looked at: every walk
        ``lstat``-s each component it crosses, so nothing known can lie below such a path
        (the common case of object files written next to sources).
        """
        if path not in self._lstat:
            return False
        info = self._lstat.pop(path)
        self._definitions.clear()
        self._links.pop(path, None)
        self._files.pop(path, None)
        if info is not None and info.kind == Kind.DIR:
            prefix = path.rstrip("/") + "/"
            for table in (self._lstat, self._links, self._files):
                stale = [k for k in table if k.startswith(prefix)]
                for k in stale:
                    del table[k]
        self._walks.clear()
        self._walks_from.clear()
        return True

    def forget_all(self) -> None:
        self._lstat.clear()
        self._links.clear()
        self._walks.clear()
        self._walks_from.clear()
        self._files.clear()
        self._definitions.clear()

    def sizes(self) -> dict[str, int]:
        return {
            "lstat": len(self._lstat),
            "walks": len(self._walks) + len(self._walks_from),
            "files": len(self._files),
        }
