"""Directive scanner: one pass over a file's bytes, keeping what the include closure needs.

Purpose: turn a source or header file into the list of preprocessor directives that can make
the compiler open another file (``#include``, ``#include_next``, ``#import``, computed
``#include MACRO``, ``__has_include``/``__has_include_next``) and the macro definitions that
computed includes may expand (``#define``, ``#undef``).

Invariants:
- ``#if`` is never evaluated: every branch counts, so what the scanner reports is a superset
  of what any configuration of the file includes.
- Bytes are decoded as latin-1, which maps every byte to one code point and back, so files
  that are not UTF-8 scan the same as ASCII ones and names round-trip exactly.
- Translation phases 1-3 are honoured where they matter: ``\\r\\n`` is a newline, backslash
  newline splices lines, ``/* c */ #include "x.h"`` is a directive and ``// #include "y.h"``
  is not.  A directive inside a block comment is kept (a superset, and far cheaper than
  removing every comment of every file).  An include whose name follows a comment running
  past its line is reported as computed ``/*`` (the closure calls it not covered).  Line
  numbers are those of the physical line where the directive starts.
- Scanning is a pure function of the bytes; reading the file is the caller's business.

Vocabulary:
- *quote*/*angle* include: ``#include "x"`` / ``#include <x>``; *computed*: anything else
  after ``#include`` (macro tokens to expand later, see ``macros``).
- *next*: ``#include_next`` (search continues after the directory the includer came from).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

UNTERMINATED_COMMENT = "/*"  # computed-include text: the name is past a multi-line comment


class IncludeKind:
    QUOTE = "quote"
    ANGLE = "angle"
    COMPUTED = "computed"


@dataclass(frozen=True, slots=True)
class Include:
    kind: str  # an IncludeKind
    text: str  # the name inside "" or <>, or the raw tokens of a computed include
    line: int
    next: bool  # #include_next / __has_include_next
    probe_only: bool = False  # from __has_include: counts as possible, not certain


@dataclass(frozen=True, slots=True)
class Define:
    name: str
    params: tuple[str, ...] | None  # None for object-like macros
    body: str
    line: int


@dataclass(frozen=True, slots=True, eq=False)
class ScanResult:
    includes: tuple[Include, ...]
    # The names this file #defines, as "\0a\0b\0" (compact: headers define thousands of
    # macros and only computed includes ever look one up; bodies are re-read on demand by
    # ``definitions_in``).
    names: str
    undefs: tuple[str, ...]

    def has_macro(self, name: str) -> bool:
        return bool(self.names) and f"\0{name}\0" in self.names


# Used on directive lines only: strings and character literals are matched so that comment
# markers inside them are left alone; comments become a space.
_LITERAL_OR_COMMENT = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|/\*.*?(?:\*/|\Z)|//[^\n]*', re.DOTALL
)
# Every directive starts with '#': a pattern anchored on that literal is several times
# faster than one anchored on each line start; the line's prefix is checked afterwards.
_DIRECTIVE = re.compile(
    r"#[ \t\f\v]*(?:(include_next|include|import)\b([^\n]*)"
    r"|(define)[ \t\f\v]+([A-Za-z_$][\w$]*)([^\n]*)|(undef)[ \t\f\v]+([A-Za-z_$][\w$]*))"
)
_CONTINUATION = re.compile(r"\\[ \t\f\v]*\n")
_HAS_INCLUDE = re.compile(r"\b__has_include(_next)?\s*\(\s*(\"[^\"\n]*\"|<[^>\n]*>|[^)\n]*)\)")
_QUOTED = re.compile(r'\s*"([^"\n]*)"')
_ANGLED = re.compile(r"\s*<([^>\n]*)>")
_PARAMS = re.compile(r"\(([^)]*)\)(.*)", re.DOTALL)


def _strip_comment(match: re.Match[str]) -> str:
    text = match.group()
    return text if text[0] in "\"'" else " "


def _define(name: str, rest: str, line: int) -> Define:
    """``rest`` is what follows the name: ``(params) body`` (no space before '(') or body."""
    if "/" in rest:
        rest = _LITERAL_OR_COMMENT.sub(_strip_comment, rest)
    if rest.startswith("("):
        m = _PARAMS.match(rest)
        if m is not None:
            params = tuple(p.strip() for p in m.group(1).split(",") if p.strip())
            return Define(name, params, m.group(2).strip(), line)
    return Define(name, None, rest.strip(), line)


def _is_directive_start(text: str, hash_pos: int) -> bool:
    """True if only blanks, or comments closed on this line, come before '#' on its line."""
    line_start = text.rfind("\n", 0, hash_pos) + 1
    prefix = text[line_start:hash_pos]
    if not prefix or prefix.isspace():
        return True
    end = prefix.rfind("*/")
    # After a comment (begun on this line or an earlier one) only blanks may remain.
    return end >= 0 and (end + 2 == len(prefix) or prefix[end + 2 :].isspace())


def _prepare(data: bytes) -> tuple[str, list[int]]:
    """Text with CRLF normalised and continuations spliced, and where newlines were removed."""
    text = data.decode("latin-1")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    spliced: list[int] = []  # positions (in the spliced text) where a newline was removed
    if "\\" in text and _CONTINUATION.search(text):
        parts = _CONTINUATION.split(text)
        pos = 0
        for part in parts[:-1]:
            pos += len(part)
            spliced.append(pos)
        text = "".join(parts)
    return text, spliced


def _directives(text: str, spliced: list[int]) -> Iterator[tuple[re.Match[str], int]]:
    """Each directive match with the physical line it starts on."""
    line, counted = 1, 0
    for match in _DIRECTIVE.finditer(text):
        start = match.start()
        if not _is_directive_start(text, start):
            continue
        line += text.count("\n", counted, start)
        counted = start
        yield match, line + (bisect_right(spliced, start) if spliced else 0)


def scan(data: bytes) -> ScanResult:
    """Every include-relevant directive of ``data`` (see module docstring).

    Comments are not removed from the whole file (the costly part of a scan): a directive
    inside a block comment is kept (a superset), a directive after a comment on its line is
    recognised by its prefix, and comments are stripped from directive lines only.
    """
    text, spliced = _prepare(data)
    includes: list[Include] = []
    names: dict[str, None] = {}
    undefs: list[str] = []
    # _directives() inlined: this loop runs for every directive of every header.
    line, counted = 1, 0
    for match in _DIRECTIVE.finditer(text):
        start = match.start()
        if text[start - 1 : start] not in ("\n", "") and not _is_directive_start(text, start):
            continue
        if match.group(3) is not None:
            names[match.group(4)] = None  # defines need no line number: skip counting
        elif match.group(6) is not None:
            undefs.append(match.group(7))
        else:
            line += text.count("\n", counted, start)
            counted = start
            physical = line + (bisect_right(spliced, start) if spliced else 0)
            raw = match.group(2)
            rest = _LITERAL_OR_COMMENT.sub(_strip_comment, raw) if "/" in raw else raw
            inc = _include(rest, physical, match.group(1) == "include_next")
            if inc.kind == IncludeKind.COMPUTED and "/*" in raw and "*/" not in raw.split("/*")[-1]:
                # No name before a comment that runs past the line: gcc reads it after.
                inc = Include(IncludeKind.COMPUTED, UNTERMINATED_COMMENT, physical, inc.next)
            includes.append(inc)
    if "__has_include" in text:
        for match in _HAS_INCLUDE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            line += bisect_right(spliced, match.start()) if spliced else 0
            inc = _include(" " + match.group(2), line, match.group(1) is not None)
            includes.append(Include(inc.kind, inc.text, inc.line, inc.next, probe_only=True))
    joined = "\0" + "\0".join(names) + "\0" if names else ""
    return ScanResult(tuple(includes), joined, tuple(undefs))


def definitions_in(data: bytes, name: str | None = None) -> list[Define]:
    """The ``#define``s of ``data`` (of ``name`` only, if given), bodies parsed."""
    text, spliced = _prepare(data)
    out: list[Define] = []
    for match, physical in _directives(text, spliced):
        if match.group(3) is not None and (name is None or match.group(4) == name):
            out.append(_define(match.group(4), match.group(5), physical))
    return out


def _include(rest: str, line: int, is_next: bool) -> Include:
    m = _QUOTED.match(rest)
    if m is not None:
        return Include(IncludeKind.QUOTE, m.group(1), line, is_next)
    m = _ANGLED.match(rest)
    if m is not None:
        return Include(IncludeKind.ANGLE, m.group(1), line, is_next)
    return Include(IncludeKind.COMPUTED, rest.strip(), line, is_next)
