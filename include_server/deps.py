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
    """A union of parts; a part may itself be a ``Deps`` (nested, never flattened)."""

    __slots__ = ("parts",)

    def __init__(self, parts: Iterable[Collection[str]]) -> None:
        self.parts: tuple[Collection[str], ...] = tuple(
            p for p in parts if (p.parts if isinstance(p, Deps) else p)
        )

    def __contains__(self, path: object) -> bool:
        return any(path in part for part in self.parts)

    def leaves(self, seen: dict[int, Collection[str]]) -> Iterator[Collection[str]]:
        """The non-``Deps`` parts not in ``seen`` (by identity), recording them there."""
        for part in self.parts:
            if id(part) in seen:
                continue
            seen[id(part)] = part  # kept alive, so the id stays its own
            if isinstance(part, Deps):
                yield from part.leaves(seen)
            else:
                yield part

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for part in self.leaves({}):
            for path in part:
                if path not in seen:
                    seen.add(path)
                    yield path

    def __bool__(self) -> bool:
        return bool(self.parts)

    def __len__(self) -> int:
        return sum(1 for _ in self)
