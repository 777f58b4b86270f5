"""Result records shared by the backends, the API and the CLI.

- ``Hit``: one occurrence of a searched prefix: section, offset (in the decompressed
  section), the whole NUL-terminated string around it, and whether the section is a debug
  section (rewritable) or data (``__FILE__`` in ``.rodata``: reportable, never rewritten).
- ``PathEntry``: one path-valued string in debug info (for ``--list``): section, form
  (``DW_FORM_strp``, ``inline``...), what holds it (``DW_AT_comp_dir``, ``line dir``...).
- ``RewriteReport``: what a rewrite did (``changed``, strings rewritten) and what it
  left (``remaining`` in debug sections: an error for the caller; ``data_hits``: warnings).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Hit:
    section: str
    offset: int
    text: str
    debug: bool

    def describe(self) -> str:
        return f"{self.section}+{self.offset:#x}: {self.text}"


@dataclass(frozen=True)
class PathEntry:
    section: str
    form: str
    holder: str
    text: str


@dataclass
class RewriteReport:
    format: str = ""
    changed: bool = False
    rewritten: int = 0
    remaining: list[Hit] = field(default_factory=list)
    data_hits: list[Hit] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.remaining
