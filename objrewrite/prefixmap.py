"""Prefix maps: which bytes of a path string are replaced by what.

A ``PrefixMap`` is an ordered list of ``(old, new)`` byte pairs.  Vocabulary:

- *match*: an occurrence of ``old`` in a NUL-terminated string that ends at a path
  boundary (the next byte is ``/``, NUL, the end of the string, or ``old`` itself ends
  with ``/``) and that starts either the string (debugedit's semantics) or a word inside
  it (after a space, ``=``, ``:``, ``,``, ``;``, a quote, or a two-byte option such as
  ``-I``), which is how paths appear in ``DW_AT_producer`` with ``-grecord-command-line``.
- Among maps, the first whose ``old`` matches at a position wins; maps do not chain (the
  output of one is never matched again).  Matches do not overlap.

``/tmp/root`` therefore never matches ``/tmp/root2/x``.  All functions are pure.
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy treats this name as True; typing itself costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


_WORD_BEFORE = frozenset(b" \t=:,;\"'")
_BOUNDARY_AFTER = frozenset(b"/\x00 \t\"':,;=")


class PrefixMap:
    """Ordered (old, new) prefix pairs; ``old`` is never empty."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: Iterable[tuple[str | bytes, str | bytes]]) -> None:
        out: list[tuple[bytes, bytes]] = []
        for old, new in pairs:
            ob = old.encode() if isinstance(old, str) else bytes(old)
            nb = new.encode() if isinstance(new, str) else bytes(new)
            if not ob:
                raise ValueError("an empty OLD prefix would match everything")
            if b"\x00" in ob or b"\x00" in nb:
                raise ValueError("prefixes cannot contain NUL bytes")
            if len(ob) > 1 and ob.endswith(b"/"):
                ob = ob.rstrip(b"/") or b"/"
                nb = nb.rstrip(b"/") if len(nb) > 1 else nb
            out.append((ob, nb))
        self.pairs: tuple[tuple[bytes, bytes], ...] = tuple(out)

    @classmethod
    def parse(cls, specs: Sequence[str]) -> PrefixMap:
        """Build from ``OLD=NEW`` strings (split at the last ``=``; NEW may be empty)."""
        pairs = []
        for spec in specs:
            if "=" not in spec:
                raise ValueError(f"map {spec!r} is not OLD=NEW")
            old, new = spec.rsplit("=", 1)
            pairs.append((old, new))
        return cls(pairs)

    def olds(self) -> list[bytes]:
        return [old for old, _ in self.pairs]


def is_match_at(data: bytes | bytearray, pos: int, old: bytes, lo: int, hi: int) -> bool:
    """True if ``old`` found at ``pos`` (inside the string ``data[lo:hi]``) is a match."""
    end = pos + len(old)
    if end < hi and old[-1:] != b"/" and data[end] not in _BOUNDARY_AFTER:
        return False
    if pos == lo:
        return True
    before = data[pos - 1]
    if before in _WORD_BEFORE:
        return True
    # ``-I/path``: an option letter that itself starts a word.
    return pos - 2 >= lo and data[pos - 2] == 0x2D and (pos - 3 < lo or data[pos - 3] == 0x20)


def find_matches(
    data: bytes | bytearray,
    pmap: PrefixMap,
    lo: int = 0,
    hi: int | None = None,
    *,
    starts_only: bool = False,
) -> list[tuple[int, int, bytes]]:
    """Matches inside ``data[lo:hi]`` (a region of NUL-terminated strings).

    Returns sorted, non-overlapping ``(pos, len(old), new)`` edits.  With ``starts_only``
    only matches at the start of a string count.
    """
    if hi is None:
        hi = len(data)
    cands: list[tuple[int, int, int, bytes]] = []
    for rank, (old, new) in enumerate(pmap.pairs):
        pos = data.find(old, lo, hi)
        while pos >= 0:
            s = data.rfind(b"\x00", lo, pos) + 1
            if s == 0:
                s = lo
            e = data.find(b"\x00", pos, hi)
            if e < 0:
                e = hi
            if (not starts_only or pos == s) and is_match_at(data, pos, old, s, e):
                cands.append((pos, rank, len(old), new))
            pos = data.find(old, pos + 1, hi)
    cands.sort()
    out: list[tuple[int, int, bytes]] = []
    last_end = -1
    for pos, _rank, olen, new in cands:
        if pos < last_end:
            continue
        out.append((pos, olen, new))
        last_end = pos + olen
    return out


def rewrite_string(s: bytes, pmap: PrefixMap) -> bytes:
    """``s`` (one string, no NUL) with every match replaced."""
    edits = find_matches(s, pmap)
    if not edits:
        return s
    parts = []
    prev = 0
    for pos, olen, new in edits:
        parts.append(s[prev:pos])
        parts.append(new)
        prev = pos + olen
    parts.append(s[prev:])
    return b"".join(parts)
