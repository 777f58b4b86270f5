"""The include graph of one search configuration, with memoised reachable sets.

Purpose: most translation units of a project share their headers (every redis ``.c`` file
includes ``server.h`` and its ~150 descendants).  The graph remembers, per node, its static
successors, and per *root* (a node a traversal started from) everything reachable from it,
so the second unit that includes ``server.h`` gets that whole subtree in one step.

Invariants:
- A node is (canonical file, canonical directory its quote includes start from, chain
  position, system flag, literal directory gcc names it by).  Everything a node contributes
  (successors, misses, computed-include sites, dependencies, symlinks crossed) is a function
  of the node, the configuration and the file system only, so memoising it per resolver is
  exact; the analyzer drops resolvers (and so graphs) on every relevant event.
- Computed includes are *not* followed here: they depend on the unit's macros.  A reach
  records the computed sites it contains; ``closure`` expands them per unit.
- ``reach(root)`` is complete: the full static closure of ``root``.  While computing one,
  a node that already has a reach is merged, not descended into.

Vocabulary: *succ*: static successors in directive order; *site*: (node, text, line, next)
of a computed include.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass

from include_server.deps import Deps
from include_server.filesystem import FileSystemView
from include_server.resolve import Hit, Resolver
from include_server.scanner import IncludeKind, ScanResult

Node = tuple[str, str, int, bool, str]  # canonical, dir, chain index, system, literal dir
Site = tuple[Node, str, int, bool]  # node, computed text, line, include_next


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # canonical
    opened: str  # the name gcc opens it by, first found (relative or absolute, as gcc forms it)
    size: int
    digest: str
    system: bool  # found in a system directory (gcc's -MM leaves it out)
    default: bool  # under a compiler default directory (stock pump mode never ships it)


@dataclass(frozen=True, slots=True)
class MissingInclude:
    file: str
    line: int
    name: str


@dataclass(frozen=True, slots=True)
class NodeInfo:
    succ: tuple[Node, ...]
    opened: tuple[str, ...]  # the name gcc opens each successor by (parallel to succ)
    sites: tuple[Site, ...]
    missing: tuple[MissingInclude, ...]
    deps: frozenset[str]
    links: tuple[tuple[str, str], ...]  # symlinks crossed reaching the successors
    through: tuple[str, ...]  # directories climbed out of with ".."
    scan: ScanResult | None  # for its #defines (None: it defines nothing)
    stable: bool
    error: str | None = None  # the file could not be read


@dataclass(frozen=True, slots=True)
class Reach:
    nodes: tuple[Node, ...]  # DFS discovery order, the root first
    opened: dict[str, str]  # canonical -> first opened name (for nodes after the root)
    sites: tuple[Site, ...]
    missing: tuple[MissingInclude, ...]
    deps: Deps  # the nodes' own dependency sets, shared
    links: dict[str, str]
    through: tuple[str, ...]
    scans: tuple[tuple[str, ScanResult], ...]  # (canonical, scan) of files with #defines
    stable: bool
    errors: tuple[tuple[str, str], ...]


def opened_name(resolver: Resolver, hit: Hit, includer_literal_dir: str, name: str) -> str:
    """The path gcc opens for ``name`` found as ``hit`` (its dir as written, then the name)."""
    if name.startswith("/"):
        return name
    if hit.chain_index >= 0:
        directory = resolver.chain[hit.chain_index].written
    else:
        directory = includer_literal_dir
    if not directory:
        return name
    return directory + name if directory.endswith("/") else directory + "/" + name


def node_for(resolver: Resolver, hit: Hit, parent_system: bool, opened: str) -> Node:
    walk = hit.walk
    assert walk.canonical is not None
    system = hit.system or (hit.chain_index < 0 and parent_system)
    return (
        walk.canonical,
        resolver.node_dir(walk),
        hit.chain_index,
        system,
        os.path.dirname(opened),
    )


class Graph:
    def __init__(self, fs: FileSystemView, resolver: Resolver) -> None:
        self.fs = fs
        self.resolver = resolver
        self._info: dict[Node, NodeInfo] = {}
        self._reach: dict[Node, Reach] = {}
        self._entries: dict[tuple[Node, str], FileEntry | None] = {}
        self._default_prefixes = tuple(d.rstrip("/") + "/" for d in resolver.default_dirs)

    def entry(self, node: Node, opened: str) -> FileEntry | None:
        """The closure entry of ``node``'s file (None if it cannot be read)."""
        key = (node, opened)
        try:
            return self._entries[key]
        except KeyError:
            pass
        canonical = node[0]
        try:
            data = self.fs.read(canonical)
        except OSError:
            return None
        result = FileEntry(
            canonical,
            opened,
            data.size,
            data.digest,
            node[3],
            canonical.startswith(self._default_prefixes),
        )
        if data.stable:
            self._entries[key] = result
        return result

    def info(self, node: Node) -> NodeInfo:
        try:
            return self._info[node]
        except KeyError:
            pass
        result = self._compute_info(node)
        if result.stable:
            self._info[node] = result
        return result

    def _compute_info(self, node: Node) -> NodeInfo:
        path, directory, index, system, literal = node
        try:
            data = self.fs.read(path)
        except OSError as exc:
            return NodeInfo(
                (),
                (),
                (),
                (),
                frozenset({path}),
                (),
                (),
                None,
                True,
                f"cannot read: {exc.strerror}",
            )
        resolver = self.resolver
        succ: list[Node] = []
        opened: list[str] = []
        sites: list[Site] = []
        missing: list[MissingInclude] = []
        deps: set[str] = {path}
        links: dict[str, str] = {}
        through: list[str] = []
        for inc in data.scan.includes:
            if inc.kind == IncludeKind.COMPUTED:
                sites.append((node, inc.text, inc.line, inc.next))
                continue
            res = resolver.resolve(inc.kind, inc.text, inc.next, directory, index)
            deps.update(res.deps)
            hit = res.hit
            if hit is None:
                if not inc.probe_only:
                    missing.append(MissingInclude(path, inc.line, inc.text))
                continue
            name = opened_name(resolver, hit, literal, inc.text)
            succ.append(node_for(resolver, hit, system, name))
            opened.append(name)
            for link, target in hit.walk.symlinks:
                links.setdefault(link, target)
            through.extend(hit.walk.through_dirs)
        return NodeInfo(
            tuple(succ),
            tuple(opened),
            tuple(sites),
            tuple(missing),
            frozenset(deps),
            tuple(links.items()),
            tuple(through),
            data.scan if data.scan.names else None,
            data.stable,
        )

    def reach(
        self, root: Node, budget: Callable[[], None] | None = None, split: bool = False
    ) -> Reach:
        """Everything statically reachable from ``root`` (memoised).

        ``split``: first compute (and memoise) the reach of each direct successor, so that
        other units including the same headers share them; used for translation units.
        """
        try:
            return self._reach[root]
        except KeyError:
            pass
        if split:
            for child in self.info(root).succ:
                if child != root:
                    self.reach(child, budget)
        order: list[Node] = []
        seen: set[Node] = set()
        opened: dict[str, str] = {}
        sites: list[Site] = []
        missing: list[MissingInclude] = []
        deps: list[Collection[str]] = []
        links: dict[str, str] = {}
        through: list[str] = []
        scans: list[tuple[str, ScanResult]] = []
        errors: list[tuple[str, str]] = []
        stable = True
        stack = [root]
        seen.add(root)
        memo = self._reach
        while stack:
            node = stack.pop()
            done = memo.get(node) if node is not root else None
            if done is not None:
                order.extend(done.nodes)  # duplicates go at the end (dict.fromkeys)
                seen.update(done.nodes)
                merged = dict(done.opened)
                merged.update(opened)  # earlier names win
                opened = merged
                sites.extend(done.sites)
                missing.extend(done.missing)
                deps.append(done.deps)
                links.update(done.links)
                through.extend(done.through)
                scans.extend(done.scans)
                errors.extend(done.errors)
                stable = stable and done.stable
                continue
            if budget is not None:
                budget()
            order.append(node)
            info = self.info(node)
            stable = stable and info.stable
            if info.error is not None:
                errors.append((node[0], info.error))
            sites.extend(info.sites)
            missing.extend(info.missing)
            deps.append(info.deps)
            links.update(info.links)
            through.extend(info.through)
            if info.scan is not None:
                scans.append((node[0], info.scan))
            for child, name in zip(reversed(info.succ), reversed(info.opened), strict=True):
                if child not in seen:
                    seen.add(child)
                    opened.setdefault(child[0], name)
                    stack.append(child)
        result = Reach(
            tuple(dict.fromkeys(order)),
            opened,
            tuple(sites),
            tuple(dict.fromkeys(missing)),
            Deps(deps),
            links,
            tuple(dict.fromkeys(through)),
            tuple(dict(scans).items()),
            stable,
            tuple(errors),
        )
        if stable:
            memo[root] = result
        return result
