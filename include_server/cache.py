"""The analyzer: closures for compile commands, memoised and kept true by file-system events.

Purpose: one long-lived object that answers "what does this command include?" from memory
whenever nothing relevant changed, and recomputes exactly what an event could have changed.

Invariants:
- Three layers of memory: the file-system view (lstat, readlink, parsed files, keyed by
  canonical path), resolvers and include graphs (one pair per search configuration, holding
  resolution memos and memoised reachable sets), and closures (keyed by configuration and
  source, each with the set of paths it consulted).
- ``on_event(path)``: the view forgets ``path`` and everything below it; resolvers are
  rebuilt (cheap, the view is still warm); a closure is dropped iff ``path`` is in its deps.
  Every dep of a memoised closure is known to the view, so an event on a path the view
  never looked at returns at once.
  Since deps include every probed path (misses too) and every file read, no closure can
  survive an event that changes it.
- ``drop_all(reason)``: everything goes (watcher overflow, watcher error); counted by reason.
- A closure computed while a file was being modified (``cacheable`` False) is returned but
  not memoised.
- Analyses only add to the memo tables, so several may run at once; ``on_event`` and
  ``drop_all`` remove entries and must run alone (the server's readers-writer lock).

Vocabulary: *analysis*: a closure, or a reason why there is none (``Analysis.reason``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from common.compiler.job import CompileJob, is_preprocessed_language
from include_server.closure import BudgetExceeded, Closure, NotCovered, compute
from include_server.command import classify_command
from include_server.compiler_probe import CompilerProbe, ProbeError
from include_server.filesystem import FileSystemView
from include_server.graph import Graph
from include_server.resolve import Resolver
from include_server.search_paths import SearchConfig, build_config, env_dirs, probe_args


@dataclass(frozen=True, slots=True)
class Analysis:
    closure: Closure | None
    reason: str | None  # why there is no usable closure
    job: CompileJob | None
    key: tuple[object, ...] | None = None  # the memo key (see ``Analyzer.current``)
    compiler: tuple[str, int, int] | None = None  # (realpath, mtime_ns, size) probed

    @property
    def covered(self) -> bool:
        return self.closure is not None and self.closure.covered and self.reason is None


class Analyzer:
    def __init__(self, probe: CompilerProbe | None = None) -> None:
        self.fs = FileSystemView()
        self.probe = probe or CompilerProbe()
        self._resolvers: dict[SearchConfig, tuple[Resolver, Graph]] = {}
        self._closures: dict[tuple[object, ...], Closure] = {}
        self.counters: Counter[str] = Counter()
        self.watched_dirs: set[str] = set()  # directories whose entries were consulted
        self._parts_seen: dict[int, Collection[str]] = {}
        self._paths_seen: set[str] = set()

    def analyze(
        self,
        argv: Sequence[str],
        cwd: str,
        env: Mapping[str, str] | None = None,  # the compile's (CPATH & co.), if known
        budget: Callable[[], None] | None = None,
        want_edges: bool = False,
    ) -> Analysis:
        job = classify_command(argv, env)
        if not isinstance(job, CompileJob):
            self.counters["not-compile"] += 1
            return Analysis(None, f"not a remote compile: {job.reason} ({job.detail})", None)
        if is_preprocessed_language(job.language):
            return Analysis(None, "already preprocessed", job)
        try:
            probe = self.probe.probe(
                job.compiler, job.language, probe_args(job.options, job.argv), cwd
            )
        except ProbeError as exc:
            self.counters["probe-error"] += 1
            return Analysis(None, f"compiler probe failed: {exc}", job)
        extra = env_dirs(env, job.language) if env is not None else ((), ())
        config = build_config(job.options, cwd, probe.default_dirs, extra)
        key = (config, job.source, id(probe))
        compiler = self.probe.compiler_stamp(job.compiler, cwd)
        closure = self._closures.get(key)
        if closure is not None:
            self.counters["closure-hit"] += 1
            return Analysis(closure, None, job, key, compiler)
        self.counters["closure-miss"] += 1
        pair = self._resolvers.get(config)
        if pair is None:
            resolver = Resolver(self.fs, config)
            pair = (resolver, Graph(self.fs, resolver))
            self._resolvers[config] = pair
        resolver, graph = pair
        try:
            closure = compute(
                job.source, self.fs, resolver, probe.predefined, budget, graph, want_edges
            )
        except BudgetExceeded as exc:
            self.counters["budget-exceeded"] += 1
            return Analysis(None, f"CPU budget exceeded: {exc}", job)
        if closure.cacheable:
            self._closures[key] = closure
        else:
            self.counters["not-cacheable"] += 1
        for part in closure.deps.leaves(self._parts_seen):
            fresh = set(part)
            fresh -= self._paths_seen
            if fresh:
                self._paths_seen |= fresh
                self.watched_dirs.update(os.path.dirname(dep) for dep in fresh)
        if not closure.covered:
            self.counters["not-covered"] += 1
        return Analysis(closure, None, job, key if closure.cacheable else None, compiler)

    def current(self, key: tuple[object, ...]) -> Closure | None:
        """The memoised closure for ``key`` if it is still valid (no event dropped it)."""
        return self._closures.get(key)

    # -- invalidation -----------------------------------------------------------------
    def on_event(self, path: str) -> int:
        """A file-system event on ``path``; returns how many closures were dropped."""
        self.counters["events"] += 1
        if not self.fs.forget(path):
            # Every dependency of a memoised closure was lstat-ed by the view and is still
            # known to it (forgetting a path drops the closures that depend on it), so a
            # path the view does not know cannot matter: the common case of files written
            # next to sources, or of activity in /tmp.
            return 0
        self._resolvers.clear()
        self._parts_seen.clear()  # the dropped graphs' parts may go
        stale = [k for k, c in self._closures.items() if path in c.deps]
        for k in stale:
            del self._closures[k]
        self.counters["closures-invalidated"] += len(stale)
        return len(stale)

    def drop_all(self, reason: str) -> None:
        self.counters[f"drop-all:{reason}"] += 1
        self.fs.forget_all()
        self._parts_seen.clear()
        self._paths_seen.clear()
        self._resolvers.clear()
        self._closures.clear()

    def sizes(self) -> dict[str, int]:
        return {**self.fs.sizes(), "closures": len(self._closures)}


__all__ = ["Analysis", "Analyzer", "NotCovered"]
