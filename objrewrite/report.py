"""Result records shared by the backends, the API and the CLI.

- ``Hit``: one occurrence of a searched prefix: section, offset (in the decompressed
  section), the whole NUL-terminated string around it, and whether the section is a debug
  section (rewritable) or data (``__FILE__`` in ``.rodata``: reportable, never rewritten).
- ``PathEntry``: one path-valued string in debug info (for ``--list``): section, form
  (``DW_FORM_strp``, ``inline``...), what holds it (``DW_AT_comp_dir``, ``line dir``...).
- ``RewriteReport``: what a rewrite did (``changed``, strings rewritten) and what it
  left (``remaining`` in debug sections: an error for the caller; ``data_hits``: warnings).

Plain ``__slots__`` classes rather than dataclasses: the command starts in ~10 ms and
``dataclasses`` alone would cost ~6 ms of it.
"""

from __future__ import annotations


class _Record:
    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({inner})"


class Hit(_Record):
    __slots__ = ("section", "offset", "text", "debug")

    def __init__(self, section: str, offset: int, text: str, debug: bool) -> None:
        self.section, self.offset, self.text, self.debug = section, offset, text, debug

    def describe(self) -> str:
        return f"{self.section}+{self.offset:#x}: {self.text}"


class PathEntry(_Record):
    __slots__ = ("section", "form", "holder", "text")

    def __init__(self, section: str, form: str, holder: str, text: str) -> None:
        self.section, self.form, self.holder, self.text = section, form, holder, text


class RewriteReport(_Record):
    __slots__ = ("format", "changed", "rewritten", "remaining", "data_hits")

    def __init__(self, format: str = "") -> None:
        self.format = format
        self.changed = False
        self.rewritten = 0
        self.remaining: list[Hit] = []
        self.data_hits: list[Hit] = []

    __hash__ = None  # type: ignore[assignment]

    @property
    def ok(self) -> bool:
        return not self.remaining
