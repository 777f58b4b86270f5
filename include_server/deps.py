"""Dependency sets shared between closures: a union kept as its parts.

Purpose: every closure must know every path it consulted (so an event on any of them drops
it), and closures of one project share most of those paths.  Storing each closure's union
as a fresh set costs megabytes; a ``Deps`` keeps references to the parts (per-file sets,
which the include graph shares between units) and answers membership by asking each part.

Invariants: parts are immutable (frozensets or tuples) and never copied; ``in`` is exact.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator


class Deps:
    __slots__ = ("parts",)

    def __init__(self, parts: Iterable[Collection[str]]) -> None:
        unique: dict[int, Collection[str]] = {}
        for part in parts:
            if isinstance(part, Deps):
                for sub in part.parts:
                    unique.setdefault(id(sub), sub)
            elif part:
                unique.setdefault(id(part), part)
        self.parts: tuple[Collection[str], ...] = tuple(unique.values())

    def __contains__(self, path: object) -> bool:
        return any(path in part for part in self.parts)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for part in self.parts:
            for path in part:
                if path not in seen:
                    seen.add(path)
                    yield path

    def __len__(self) -> int:
        return sum(1 for _ in self)
