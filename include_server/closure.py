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
- Pure over its inputs: the file-system view, the resolver and the predefined macros.

Vocabulary:
- *node*: (canonical file, canonical directory it was opened from, chain position); the
  same file reached from two directories is two nodes (its quote includes differ).
- *system*: found in a system directory (``-isystem``, defaults, ``-idirafter``), as gcc's
  ``-MM`` understands it; *default*: under a compiler default directory (stock pump mode
  never ships those).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from include_server import macros
from include_server.filesystem import FileSystemView, Walk
from include_server.resolve import Hit, Resolution, Resolver
from include_server.scanner import UNTERMINATED_COMMENT, Define, IncludeKind, ScanResult


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # canonical
    opened: str  # the name gcc opens it by, first found (relative or absolute, as gcc forms it)
    size: int
    digest: str
    system: bool
    default: bool


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
    edges: tuple[tuple[str, str], ...]  # (includer, included), first discovery of each file
    deps: frozenset[str] = field(repr=False)
    cacheable: bool = True

    @property
    def covered(self) -> bool:
        return not self.not_covered


Node = tuple[str, str, int]

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


@dataclass
class _State:
    nodes: set[Node] = field(default_factory=set)
    order: list[str] = field(default_factory=list)
    opened: dict[str, str] = field(default_factory=dict)  # canonical -> first opened name
    literal_dir: dict[Node, str] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    system: dict[str, bool] = field(default_factory=dict)
    deps: set[str] = field(default_factory=set)
    resolutions: dict[int, Resolution] = field(default_factory=dict)  # id -> memoised answer
    walks: dict[str, Walk] = field(default_factory=dict)
    missing: list[Missing] = field(default_factory=list)
    not_covered: list[NotCovered] = field(default_factory=list)
    computed: list[tuple[Node, str, str, int, bool, bool]] = field(default_factory=list)
    scans: list[ScanResult] = field(default_factory=list)
    cacheable: bool = True


class MacroView(Mapping[str, Sequence[Define]]):
    """Every definition of a name in the unit: predefined, ``-D``, then each file's."""

    def __init__(self, base: dict[str, list[Define]], scans: list[ScanResult]) -> None:
        self._base = base
        self._scans = scans
        self._cache: dict[str, list[Define]] = {}

    def __getitem__(self, name: str) -> Sequence[Define]:
        try:
            return self._cache[name]
        except KeyError:
            pass
        found = list(self._base.get(name, ()))
        for scan in self._scans:
            found.extend(scan.definitions(name))
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
        for scan in self._scans:
            names.update(scan.macros)
        return iter(names)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def compute(
    source: str,
    fs: FileSystemView,
    resolver: Resolver,
    predefined: Iterable[Define] = (),
    budget: Callable[[], None] | None = None,
) -> Closure:
    """The closure of ``source`` (absolute or relative to the config's cwd).

    ``budget`` is called once per file visited; it raises (``BudgetExceeded``) to stop.
    """
    config = resolver.config
    st = _State()
    st.deps.update(resolver.deps)
    for w in resolver.chain_walks:
        st.walks[w.path] = w
    for problem in config.problems:
        st.not_covered.append(NotCovered("<command line>", 0, problem))
    work: list[tuple[Node, bool]] = []
    nodes = st.nodes
    node_dir = resolver.node_dir

    def add(hit: Hit, system: bool, includer_literal: str, name: str, parent: str = "") -> None:
        walk = hit.walk
        canonical = walk.canonical
        assert canonical is not None
        node = (canonical, node_dir(walk), hit.chain_index)
        if node in nodes:
            if not system and st.system.get(canonical):
                st.system[canonical] = False
            return
        nodes.add(node)
        st.walks[walk.path] = walk
        opened = opened_name(resolver, hit, includer_literal, name)
        st.literal_dir[node] = os.path.dirname(opened)
        if canonical not in st.system:
            st.opened[canonical] = opened
            st.order.append(canonical)
            st.edges.append((parent, canonical))
            st.system[canonical] = system
        elif not system:
            st.system[canonical] = False
        work.append((node, system))

    src_walk = fs.walk(os.path.join(config.cwd, source))
    st.deps.update(src_walk.deps)
    if src_walk.canonical is None or src_walk.kind != "file":
        st.not_covered.append(NotCovered(source, 0, "source file not found"))
    else:
        add(Hit(src_walk, -1, False), False, "", source)
    # gcc (and clang on glibc systems) pre-include <stdc-predef.h> unless -nostdinc: it is
    # looked up like an angle include and silently skipped when absent.
    implicit = [(IncludeKind.ANGLE, "stdc-predef.h", True)]
    implicit += [(IncludeKind.QUOTE, f, False) for f in config.forced_includes]
    for kind, name, optional in implicit:
        res = resolver.resolve(kind, name, False, resolver.cwd, -1)
        st.resolutions[id(res)] = res
        if res.hit is not None:
            add(res.hit, res.hit.system, "", name)
        elif not optional:
            st.missing.append(Missing("<command line>", 0, name))

    seen_sizes = (-1, -1)
    problems: list[NotCovered] = []
    resolve = resolver.resolve
    resolutions = st.resolutions
    computed_kind = IncludeKind.COMPUTED
    while True:
        while work:
            node, system = work.pop()
            if budget is not None:
                budget()
            path, directory, index = node
            literal = st.literal_dir[node]
            try:
                data = fs.read(path)
            except OSError as exc:
                st.not_covered.append(NotCovered(path, 0, f"cannot read: {exc.strerror}"))
                continue
            st.deps.add(path)
            if not data.stable:
                st.cacheable = False
            if data.scan.macros:
                st.scans.append(data.scan)
            for inc in data.scan.includes:
                if inc.kind == computed_kind:
                    st.computed.append((node, literal, inc.text, inc.line, inc.next, system))
                    continue
                res = resolve(inc.kind, inc.text, inc.next, directory, index)
                resolutions[id(res)] = res
                hit = res.hit
                if hit is None:
                    if not inc.probe_only:
                        st.missing.append(Missing(path, inc.line, inc.text))
                    continue
                add(hit, hit.system or (hit.chain_index < 0 and system), literal, inc.text, path)
        if not st.computed or (len(st.nodes), len(st.computed)) == seen_sizes:
            break
        seen_sizes = (len(st.nodes), len(st.computed))
        problems = _expand_computed(st, resolver, predefined, add)
        if not work:
            break
    st.not_covered.extend(problems)
    for res in resolutions.values():
        st.deps.update(res.deps)
    for walk in st.walks.values():
        st.deps.update(walk.deps)
    st.deps.update(resolver.node_dir_deps)

    files: list[FileEntry] = []
    default_prefixes = tuple(d.rstrip("/") + "/" for d in resolver.default_dirs)
    for path in st.order:
        try:
            data = fs.read(path)
        except OSError:
            continue
        files.append(
            FileEntry(
                path,
                st.opened[path],
                data.size,
                data.digest,
                st.system[path],
                path.startswith(default_prefixes),
            )
        )
    symlinks: dict[str, str] = {}
    through: dict[str, None] = {}
    for w in st.walks.values():
        for link, target in w.symlinks:
            symlinks.setdefault(link, target)
        for d in w.through_dirs:
            through.setdefault(d, None)
    must_exist = dict(through)
    for c in resolver.chain:
        if c.role != "default":
            must_exist.setdefault(c.canonical, None)
    return Closure(
        source=src_walk.canonical or source,
        files=tuple(files),
        symlinks=tuple(sorted(symlinks.items())),
        must_exist=tuple(must_exist),
        missing=tuple(st.missing),
        not_covered=tuple(st.not_covered),
        default_dirs=resolver.default_dirs,
        search_dirs=tuple(c.canonical for c in resolver.chain),
        edges=tuple(st.edges),
        deps=frozenset(st.deps),
        cacheable=st.cacheable,
    )


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


def _expand_computed(
    st: _State,
    resolver: Resolver,
    predefined: Iterable[Define],
    add: Callable[[Hit, bool, str, str, str], None],
) -> list[NotCovered]:
    """Resolve every computed include with the current table; return what stays uncovered."""
    problems: list[NotCovered] = []
    base: dict[str, list[Define]] = {}
    for d in predefined:
        base.setdefault(d.name, []).append(d)
    for name, value in resolver.config.defines:
        if value is not None:
            base.setdefault(name, []).append(Define(name, None, value, 0))
    table = MacroView(base, st.scans)
    for (path, directory, index), literal, text, line, is_next, system in st.computed:
        if text == UNTERMINATED_COMMENT:
            reason = "include name after a comment that spans lines"
            problems.append(NotCovered(path, line, reason))
            continue
        try:
            names = macros.header_names(text, table)
        except macros.ExpansionTooLarge as exc:
            problems.append(NotCovered(path, line, f"computed include {text!r}: {exc}"))
            continue
        dynamic = _DYNAMIC.intersection(macros.identifiers(text, table))
        if dynamic:
            reason = f"computed include {text!r} uses {', '.join(sorted(dynamic))}"
            if all((n.file, n.line) != (path, line) for n in problems):
                problems.append(NotCovered(path, line, reason))
            continue
        if not names:
            # No definition the unit can see makes a header name: the line is dead code or
            # a compile error under every configuration, so it opens nothing.
            entry = Missing(path, line, f"computed include {text!r}: no header name")
            if entry not in st.missing:
                st.missing.append(entry)
            continue
        for kind, name in sorted(names):
            res = resolver.resolve(kind, name, is_next, directory, index)
            st.resolutions[id(res)] = res
            if res.hit is not None:
                hit = res.hit
                add(hit, hit.system or (hit.chain_index < 0 and system), literal, name, path)
    return problems
