"""The include closure of one translation unit: every file the compiler could open.

Purpose: starting from the source file and the forced includes, follow every directive of
every file (all ``#if`` branches), expand computed includes with every definition the unit
can see, and collect what a remote compile needs: each file with its size and digest, the
symlinks crossed, the directories that must exist, and what could not be covered.

Invariants:
- Sound: the closure is a superset of what any ``#if`` outcome makes the compiler open
  (checked against ``gcc -M`` by the differential tests).  What cannot be known soundly is a
  ``NotCovered`` entry (file, line, reason), and a closure with any is not to be used.
- Computed includes are expanded with the unit's own definitions (its closure, ``-D``, the
  compiler's predefined macros) to a fixed point: a newly reached file may define more.
- ``deps`` lists every canonical path consulted (misses included): a file-system event on any
  other path cannot change this closure.
- Pure over its inputs: the file-system view, the resolver (and its include ``graph``, which
  memoises what each header reaches) and the predefined macros.

Vocabulary:
- *node*: see ``graph``: a file as reached from one directory, chain position, system-ness
  and literal directory; the same file reached two ways is two nodes (its quote includes
  may differ).
- *system*: found in a system directory (``-isystem``, defaults, ``-idirafter``), as gcc's
  ``-MM`` understands it; *default*: under a compiler default directory (stock pump mode
  never ships those).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from include_server import macros
from include_server.deps import Deps
from include_server.filesystem import FileSystemView
from include_server.graph import FileEntry, Graph, Node, Site, node_for, opened_name
from include_server.resolve import Hit, Resolver
from include_server.scanner import UNTERMINATED_COMMENT, Define, IncludeKind, ScanResult
from include_server.search_paths import SearchConfig


class BudgetExceeded(Exception):
    """The request used up its CPU budget; the caller answers "not covered"."""


@dataclass(frozen=True, slots=True)
class NotCovered:
    file: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Missing:
    file: str
    line: int
    name: str


@dataclass(frozen=True, slots=True)
class Closure:
    source: str
    files: tuple[FileEntry, ...]  # the source first
    symlinks: tuple[tuple[str, str], ...]
    must_exist: tuple[str, ...]
    missing: tuple[Missing, ...]
    not_covered: tuple[NotCovered, ...]
    default_dirs: tuple[str, ...]  # canonical
    search_dirs: tuple[str, ...]  # canonical, existing, in chain order
    edges: tuple[tuple[str, str], ...]  # (includer, included); empty unless asked for
    deps: Deps = field(repr=False)
    cacheable: bool = True

    @property
    def covered(self) -> bool:
        return not self.not_covered


# Macros the preprocessor defines per position: their value is not in any table.
_DYNAMIC = frozenset(
    {
        "__FILE__",
        "__BASE_FILE__",
        "__FILE_NAME__",
        "__LINE__",
        "__COUNTER__",
        "__INCLUDE_LEVEL__",
        "__TIMESTAMP__",
        "__DATE__",
        "__TIME__",
    }
)  # canonical file, includer dir, chain index


class MacroView(Mapping[str, Sequence[Define]]):
    """Every definition of a name in the unit: predefined, ``-D``, then each file's.

    Bodies are re-read from the files that define the name (``FileSystemView.definitions``).
    """

    def __init__(
        self,
        base: dict[str, list[Define]],
        scans: dict[str, ScanResult],
        fs: FileSystemView,
    ) -> None:
        self._base = base
        self._scans = scans
        self._fs = fs
        self._cache: dict[str, list[Define]] = {}

    def __getitem__(self, name: str) -> Sequence[Define]:
        try:
            return self._cache[name]
        except KeyError:
            pass
        found = list(self._base.get(name, ()))
        needle = f"\0{name}\0"
        for path in [p for p, scan in self._scans.items() if needle in scan.names]:
            found.extend(self._fs.definitions(path, name))
        if not found:
            raise KeyError(name)
        self._cache[name] = found
        return found

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self[name]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        names = set(self._base)
        for scan in self._scans.values():
            names.update(n for n in scan.names.split("\0") if n)
        return iter(names)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def compute(
    source: str,
    fs: FileSystemView,
    resolver: Resolver,
    predefined: Iterable[Define] = (),
    budget: Callable[[], None] | None = None,
    graph: Graph | None = None,
    want_edges: bool = False,
) -> Closure:
    """The closure of ``source`` (absolute or relative to the config's cwd).

    ``budget`` is called once per file visited; it raises (``BudgetExceeded``) to stop.
    ``graph`` carries memoised reachable sets from earlier units of the same configuration.
    ``want_edges``: also list who includes whom (for ``include-analysis --format tree``).
    """
    config = resolver.config
    graph = graph or Graph(fs, resolver)
    not_covered = [NotCovered("<command line>", 0, p) for p in config.problems]
    missing: dict[Missing, None] = {}
    deps: list[Collection[str]] = [resolver.deps]
    order: dict[Node, None] = {}
    opened: dict[str, str] = {}
    links: dict[str, str] = {}
    through: dict[str, None] = {}
    scans: dict[str, ScanResult] = {}
    sites: dict[Site, None] = {}
    stable = True
    links.update(w for walk in resolver.chain_walks for w in walk.symlinks)

    def take(root: Node, name: str, split: bool = False) -> None:
        nonlocal stable
        if root in order:
            return
        reach = graph.reach(root, budget, split)
        opened.setdefault(root[0], name)
        order.update(dict.fromkeys(reach.nodes))
        merged = dict(reach.opened)
        merged.update(opened)  # earlier names win
        opened.clear()
        opened.update(merged)
        for m in reach.missing:
            missing.setdefault(Missing(m.file, m.line, m.name), None)
        deps.append(reach.deps)
        links.update(reach.links)
        through.update(dict.fromkeys(reach.through))
        scans.update(reach.scans)
        for site in reach.sites:
            sites.setdefault(site, None)
        for file, error in reach.errors:
            not_covered.append(NotCovered(file, 0, error))
        stable = stable and reach.stable

    src_walk = fs.walk(os.path.join(config.cwd, source))
    deps.append(src_walk.deps)
    links.update(src_walk.symlinks)
    if src_walk.canonical is None or src_walk.kind != "file":
        not_covered.append(NotCovered(source, 0, "source file not found"))
    else:
        take(node_for(resolver, Hit(src_walk, -1, False), False, source), source, split=True)
    # gcc (and clang on glibc systems) pre-include <stdc-predef.h> unless -nostdinc: it is
    # looked up like an angle include and silently skipped when absent.
    implicit = [(IncludeKind.ANGLE, "stdc-predef.h", True)]
    implicit += [(IncludeKind.QUOTE, f, False) for f in config.forced_includes]
    for kind, name, optional in implicit:
        res = resolver.resolve(kind, name, False, resolver.cwd, -1)
        deps.append(res.deps)
        if res.hit is not None:
            opened_as = opened_name(resolver, res.hit, "", name)
            links.update(res.hit.walk.symlinks)
            take(node_for(resolver, res.hit, res.hit.system, opened_as), opened_as)
        elif not optional:
            missing.setdefault(Missing("<command line>", 0, name), None)

    # Computed includes, to a fixed point: newly reached files may define more macros.
    problems: list[NotCovered] = []
    done_sizes = (-1, -1)
    while sites and (len(order), len(sites)) != done_sizes:
        done_sizes = (len(order), len(sites))
        problems, found = _expand_computed(list(sites), resolver, predefined, config, scans, fs)
        for m in found.missing:
            missing.setdefault(m, None)
        deps.extend(found.deps)
        for hit, parent_system, name in found.hits:
            links.update(hit.walk.symlinks)
            through.update(dict.fromkeys(hit.walk.through_dirs))
            take(node_for(resolver, hit, parent_system, name), name)
    not_covered.extend(problems)
    deps.append(resolver.node_dir_deps_frozen())

    files: dict[str, FileEntry] = {}
    entry_for = graph.entry
    for node in order:
        canonical = node[0]
        entry = files.get(canonical)
        if entry is None:
            made = entry_for(node, opened.get(canonical, canonical))
            if made is not None:
                files[canonical] = made
        elif entry.system and not node[3]:
            files[canonical] = FileEntry(
                entry.path, entry.opened, entry.size, entry.digest, False, entry.default
            )
    edges: dict[str, tuple[str, str]] = {}
    if want_edges:
        if src_walk.canonical is not None:
            edges[src_walk.canonical] = ("", src_walk.canonical)
        for node in order:
            for child in graph.info(node).succ:
                edges.setdefault(child[0], (node[0], child[0]))
        for canonical in files:
            edges.setdefault(canonical, ("", canonical))
    must_exist = dict(through)
    for c in resolver.chain:
        if c.role != "default":
            must_exist.setdefault(c.canonical, None)
    return Closure(
        source=src_walk.canonical or source,
        files=tuple(files.values()),
        symlinks=tuple(sorted(links.items())),
        must_exist=tuple(must_exist),
        missing=tuple(missing),
        not_covered=tuple(not_covered),
        default_dirs=resolver.default_dirs,
        search_dirs=tuple(c.canonical for c in resolver.chain),
        edges=tuple(edges[c] for c in files if c in edges),
        deps=Deps(deps),
        cacheable=stable,
    )


@dataclass
class _Found:
    hits: list[tuple[Hit, bool, str]] = field(default_factory=list)  # hit, parent system, name
    missing: list[Missing] = field(default_factory=list)
    deps: list[tuple[str, ...]] = field(default_factory=list)


# (id of the probe's macros, -D/-U) -> (those macros, kept alive so the id stays theirs; table)
_BASE_TABLES: dict[
    tuple[int, tuple[tuple[str, str | None], ...]], tuple[object, dict[str, list[Define]]]
] = {}


def _base_table(predefined: Iterable[Define], config: SearchConfig) -> dict[str, list[Define]]:
    """Predefined and command-line macros by name (memoised per probe and -D set)."""
    key = (id(predefined), config.defines)
    cached = _BASE_TABLES.get(key)
    if cached is not None and cached[0] is predefined:
        return cached[1]
    base: dict[str, list[Define]] = {}
    for d in predefined:
        base.setdefault(d.name, []).append(d)
    for name, value in config.defines:
        if value is not None:
            base.setdefault(name, []).append(Define(name, None, value, 0))
    if len(_BASE_TABLES) > 256:
        _BASE_TABLES.clear()
    _BASE_TABLES[key] = (predefined, base)
    return base


def _expand_computed(
    sites: list[Site],
    resolver: Resolver,
    predefined: Iterable[Define],
    config: SearchConfig,
    scans: dict[str, ScanResult],
    fs: FileSystemView,
) -> tuple[list[NotCovered], _Found]:
    """Resolve every computed include with the unit's macros; return what stays uncovered."""
    problems: list[NotCovered] = []
    found = _Found()
    table = MacroView(_base_table(predefined, config), scans, fs)
    for node, text, line, is_next in sites:
        path, directory, index, system, literal = node
        if text == UNTERMINATED_COMMENT:
            reason = "include name after a comment that spans lines"
            problems.append(NotCovered(path, line, reason))
            continue
        try:
            names = macros.header_names(text, table)
            dynamic = _DYNAMIC.intersection(macros.identifiers(text, table))
        except macros.ExpansionTooLarge as exc:
            problems.append(NotCovered(path, line, f"computed include {text!r}: {exc}"))
            continue
        except OSError as exc:
            problems.append(NotCovered(path, line, f"computed include {text!r}: {exc}"))
            continue
        if dynamic:
            reason = f"computed include {text!r} uses {', '.join(sorted(dynamic))}"
            if all((n.file, n.line) != (path, line) for n in problems):
                problems.append(NotCovered(path, line, reason))
            continue
        if not names:
            # No definition the unit can see makes a header name: the line is dead code or
            # a compile error under every configuration, so it opens nothing.
            found.missing.append(Missing(path, line, f"computed include {text!r}: no header name"))
            continue
        for kind, name in sorted(names):
            res = resolver.resolve(kind, name, is_next, directory, index)
            found.deps.append(res.deps)
            if res.hit is not None:
                found.hits.append((res.hit, system, opened_name(resolver, res.hit, literal, name)))
    return problems, found
