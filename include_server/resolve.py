"""Where one ``#include`` lands: gcc's search, over a memoising file-system view.

Purpose: given a search configuration, turn (kind, name, next?, includer) into the file the
compiler would open, and record every path probed on the way (misses included) so that a
header created earlier in the search path invalidates the answer.

Invariants (libcpp's ``search_path_head``/``find_file``):
- The chain is canonicalised once per resolver: missing directories are dropped (gcc does
  the same) but their walks stay in ``deps``; duplicates are removed on canonical paths, a
  non-system directory that is also a system one is dropped (gcc keeps the system one), and
  a quote directory that repeats a later bracket or system one is dropped.
- ``#include "x"`` looks in the includer's directory first (not after ``-I-``), then the
  whole chain; ``#include <x>`` starts at the first bracket directory; the first regular file
  wins.  A directory named like the header does not stop the search.
- ``#include_next`` from a file found at chain position *k* continues at *k+1*; from a file
  found any other way it searches the includer's directory and the whole chain (a superset
  of gcc's "behave like #include").
- Absolute names are opened as they are.

Vocabulary: *hit*: the resolved file with the chain position it came from (-1: not from the
chain); *includer dir*: canonical directory of the file that contains the directive.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from include_server.filesystem import FileSystemView, Kind, Walk
from include_server.search_paths import DirRole, SearchConfig


@dataclass(frozen=True, slots=True)
class ChainDir:
    written: str  # as on the command line (gcc names files found here written/name)
    canonical: str
    role: str

    @property
    def system(self) -> bool:
        return self.role in (DirRole.SYSTEM, DirRole.DEFAULT, DirRole.AFTER)


@dataclass(frozen=True, slots=True)
class Hit:
    walk: Walk  # kind == FILE
    chain_index: int  # -1 if not found through the chain
    system: bool  # found in a system directory


@dataclass(frozen=True, slots=True)
class Resolution:
    hit: Hit | None
    deps: tuple[str, ...]


def _join(directory: str, name: str) -> str:
    return directory + name if directory.endswith("/") else directory + "/" + name


class Resolver:
    """Resolution for one search configuration; memoised until the view is invalidated."""

    def __init__(self, fs: FileSystemView, config: SearchConfig) -> None:
        self.fs = fs
        self.config = config
        self.chain_walks: list[Walk] = []
        self._memo: dict[tuple[str, str, bool, str, int], Resolution] = {}
        cwd_walk = fs.walk(config.cwd)
        self.chain_walks.append(cwd_walk)
        self.cwd = cwd_walk.canonical or config.cwd
        found: list[ChainDir | None] = []
        for d in config.chain:
            w = fs.walk(d.path)
            self.chain_walks.append(w)
            found.append(
                ChainDir(d.written or d.path, w.canonical, d.role)
                if w.kind == Kind.DIR and w.canonical
                else None
            )
        system_dirs = {c.canonical for c in found if c is not None and c.system}
        angle = config.angle_start
        # Bracket and later part: keep first occurrences; system wins over non-system.
        seen: set[str] = set()
        tail: list[ChainDir] = []
        for c in found[angle:]:
            if c is None or c.canonical in seen:
                continue
            if not c.system and c.canonical in system_dirs:
                continue
            seen.add(c.canonical)
            tail.append(c)
        later = set(seen)
        head: list[ChainDir] = []
        head_seen: set[str] = set()
        for c in found[:angle]:
            if c is None or c.canonical in head_seen or c.canonical in later:
                continue
            head_seen.add(c.canonical)
            head.append(c)
        self.chain: tuple[ChainDir, ...] = tuple(head + tail)
        self.angle_start = len(head)
        self.default_dirs = tuple(c.canonical for c in tail if c.role == DirRole.DEFAULT)
        deps: list[str] = []
        for w in self.chain_walks:
            deps.extend(w.deps)
        self.deps = tuple(deps)
        self._node_dirs: dict[str, str] = {}
        self.node_dir_deps: set[str] = set()

    def node_dir_deps_frozen(self) -> frozenset[str]:
        return frozenset(self.node_dir_deps)

    def node_dir(self, walk: Walk) -> str:
        """Canonical directory gcc searches first for quote includes of the walked file.

        That is the directory of the path gcc *opened*, not of the link target.
        """
        try:
            return self._node_dirs[walk.path]
        except KeyError:
            pass
        assert walk.canonical is not None
        if walk.symlinks or "/.." in walk.path:
            dir_walk = self.fs.walk(os.path.dirname(walk.path))
            self.node_dir_deps.update(dir_walk.deps)
            directory = dir_walk.canonical or os.path.dirname(walk.canonical)
        else:
            directory = os.path.dirname(walk.canonical)
        self._node_dirs[walk.path] = directory
        return directory

    def resolve(
        self, kind: str, name: str, is_next: bool, includer_dir: str, includer_index: int
    ) -> Resolution:
        key = (kind, name, is_next, includer_dir, includer_index)
        try:
            return self._memo[key]
        except KeyError:
            pass
        result = self._resolve(kind, name, is_next, includer_dir, includer_index)
        self._memo[key] = result
        return result

    def _candidates(
        self, kind: str, is_next: bool, includer_dir: str, includer_index: int
    ) -> Sequence[tuple[str, int, bool]]:
        chain = self.chain
        if is_next and includer_index >= 0:
            return [(c.canonical, i, c.system) for i, c in enumerate(chain) if i > includer_index]
        out: list[tuple[str, int, bool]] = []
        if kind == "quote" or is_next:
            if self.config.quote_uses_includer_dir or is_next:
                out.append((includer_dir, -1, False))
            start = 0
        else:
            start = self.angle_start
        out.extend((c.canonical, i, c.system) for i, c in enumerate(chain) if i >= start)
        return out

    def _resolve(
        self, kind: str, name: str, is_next: bool, includer_dir: str, includer_index: int
    ) -> Resolution:
        if name.startswith("/"):
            w = self.fs.walk(name)
            hit = Hit(w, -1, False) if w.kind == Kind.FILE else None
            return Resolution(hit, w.deps)
        deps: list[str] = []
        for directory, index, system in self._candidates(
            kind, is_next, includer_dir, includer_index
        ):
            w = self.fs.walk_from(directory, name)
            deps.extend(w.deps)
            if w.kind == Kind.FILE:
                return Resolution(Hit(w, index, system), tuple(deps))
        return Resolution(None, tuple(deps))
