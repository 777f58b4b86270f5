"""NUL-terminated string tables (``.debug_str``, ``.debug_line_str``, ``*.dwo``).

Two ways to rewrite one:

- *splice* (relocatable objects): every match is replaced at any length; the table is
  rebuilt and ``StrTab.map`` (an ``OffsetMap``) carries old offsets to new ones.  A
  reference that points strictly inside a replaced prefix (a tail-merged suffix) gets a
  copy of its old bytes appended to the table, so it still reads the same string.
- *in place* (linked files, Mach-O): a string whose prefix is replaced by a shorter one is
  rewritten as ``NEW + rest`` followed by NUL bytes up to its old length, so no offset
  changes; a longer replacement raises ``UnsupportedError``.  Matches inside a string (not
  at its start) are handled the same way from the match onwards.

Invariant: with no match, ``changed`` is False and ``data()`` is the input.
"""

from __future__ import annotations

from objrewrite.errors import UnsupportedError
from objrewrite.prefixmap import PrefixMap, find_matches
from objrewrite.splices import OffsetMap, apply_edits


class StrTab:
    """A rewritten string table and the offset map from the old one."""

    def __init__(
        self, old: bytes | bytearray, pmap: PrefixMap, *, in_place: bool, name: str = ".debug_str"
    ) -> None:
        self.name = name
        self._old = old
        edits = find_matches(old, pmap)
        self.changed = bool(edits)
        self._extra = bytearray()
        if not edits:
            self._new: bytes | bytearray = old
            self.map = OffsetMap([], name)
            return
        if in_place:
            self._new = self._pad(old, edits)
            self.map = OffsetMap([], name)
        else:
            self._new = apply_edits(old, edits)
            self.map = OffsetMap(edits, name, interior=self._append_tail)

    def _pad(self, old: bytes | bytearray, edits: list[tuple[int, int, bytes]]) -> bytearray:
        out = bytearray(old)
        strings: dict[tuple[int, int], list[tuple[int, int, bytes]]] = {}
        for pos, olen, new in edits:
            start = old.rfind(b"\x00", 0, pos) + 1
            end = old.find(b"\x00", pos)
            end = len(old) if end < 0 else end
            strings.setdefault((start, end), []).append((pos - start, olen, new))
        for (start, end), local in strings.items():
            text = bytes(old[start:end])
            repl = apply_edits(text, local)
            if len(repl) > len(text):
                raise UnsupportedError(
                    f"{self.name}: {text.decode(errors='replace')!r} would grow by "
                    f"{len(repl) - len(text)} bytes; growing in place is not possible here"
                )
            out[start:end] = repl + b"\x00" * (len(text) - len(repl))
        return out

    def _append_tail(self, old_off: int) -> int:
        end = self._old.find(b"\x00", old_off)
        if end < 0:
            end = len(self._old)
        at = len(self._new) + len(self._extra)
        self._extra += self._old[old_off:end] + b"\x00"
        return at

    def data(self) -> bytes | bytearray:
        if self._extra:
            return bytes(self._new) + bytes(self._extra)
        return self._new
