"""Splices: byte edits on one section and the monotone offset map they induce.

Vocabulary:
- *edit* ``(pos, old_len, new_bytes)``: replace ``old_len`` bytes at old offset ``pos``.
  Edits are sorted and never overlap.
- *offset map*: old offset -> new offset.  An offset before an edit, or at its first
  byte, keeps its distance to the edit start; an offset at or after an edit's end is
  shifted by the sum of the length changes so far.  An offset strictly *inside* an edited
  span has no image: ``OffsetMap`` hands it to an ``interior`` callback (a string table
  appends a copy of the old tail there) or raises ``UnsupportedError``.

Invariants: the map is monotone; with no edits it is the identity (``identity`` is True and
callers skip work).
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import repeat
from operator import add

from objrewrite.errors import UnsupportedError

TYPE_CHECKING = False  # mypy treats this name as True; typing itself costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Edit = tuple[int, int, bytes]


def apply_edits(data: bytes | bytearray, edits: Sequence[Edit]) -> bytes:
    """``data`` with ``edits`` (sorted, non-overlapping) applied."""
    parts: list[bytes | bytearray | memoryview] = []
    prev = 0
    mv = memoryview(data)
    for pos, olen, new in edits:
        parts.append(mv[prev:pos])
        parts.append(new)
        prev = pos + olen
    parts.append(mv[prev:])
    return b"".join(parts)


class OffsetMap:
    """The offset map of a list of edits (see module docstring)."""

    def __init__(
        self,
        edits: Sequence[Edit],
        name: str = "section",
        interior: Callable[[int], int] | None = None,
    ) -> None:
        self.name = name
        self._starts = [pos for pos, _, _ in edits]
        self._ends = [pos + olen for pos, olen, _ in edits]
        cum = [0]
        total = 0
        for _, olen, new in edits:
            total += len(new) - olen
            cum.append(total)
        self._cum = cum
        self._interior = interior
        self._overrides: dict[int, int] = {}
        self.identity = total == 0 and all(len(new) == olen for _, olen, new in edits)
        self.delta = total
        self._points: list[int] = []
        self._shifts: list[int | None] = [0]
        for (pos, olen, _), c in zip(edits, cum[1:], strict=True):
            self._points += [pos + 1, pos + max(olen, 1)]
            self._shifts += [None, c]

    def _inside(self, value: int) -> int:
        got = self._overrides.get(value)
        if got is None:
            if self._interior is None:
                raise UnsupportedError(
                    f"a reference points inside a rewritten span of {self.name} (offset {value:#x})"
                )
            got = self._interior(value)
            self._overrides[value] = got
        return got

    def map(self, value: int) -> int:
        if self.identity:
            return value  # same-length edits: nothing moves, not even inside an edit
        k = bisect_right(self._ends, value)
        if k < len(self._starts) and self._starts[k] < value:
            return self._inside(value)
        return value + self._cum[k]

    def map_many(self, values: list[int]) -> list[int]:
        """``[self.map(v) for v in values]``, as C-level loops (no Python frame per value).

        ``points`` alternate (start+1, end) of each edit, so ``bisect_right`` gives an even
        index (the shift to add) or an odd one (strictly inside an edit: shift ``None``,
        which makes ``add`` raise and sends us to the careful path).
        """
        if self.identity or not values:
            return values
        ks = map(bisect_right, repeat(self._points, len(values)), values)
        try:
            return list(map(add, values, map(self._shifts.__getitem__, ks)))
        except TypeError:
            return [self.map(v) for v in values]
