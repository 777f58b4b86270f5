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
  newline splices lines, and comments (outside string and character literals) become a
  space, so ``/* c */ #include "x.h"`` is a directive and ``// #include "y.h"`` is not.
  Line numbers reported are those of the line where the directive starts.
- Scanning is a pure function of the bytes; reading the file is the caller's business.

Vocabulary:
- *quote*/*angle* include: ``#include "x"`` / ``#include <x>``; *computed*: anything else
  after ``#include`` (macro tokens to expand later, see ``macros``).
- *next*: ``#include_next`` (search continues after the directory the includer came from).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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
    defines: tuple[Define, ...]
    undefs: tuple[str, ...]
    macros: dict[str, tuple[Define, ...]]  # defines by name, for computed includes


# Strings and character literals are matched so that comment markers inside them are left
# alone; comments are replaced by a space plus the newlines they spanned (line numbers stay).
_LITERAL_OR_COMMENT = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|/\*.*?(?:\*/|\Z)|//[^\n]*', re.DOTALL
)
_DIRECTIVE = re.compile(
    r"^[ \t\f\v]*#[ \t\f\v]*(include_next|include|import|define|undef)\b([^\n]*)", re.MULTILINE
)
_HAS_INCLUDE = re.compile(r"\b__has_include(_next)?\s*\(\s*(\"[^\"\n]*\"|<[^>\n]*>|[^)\n]*)\)")
_QUOTED = re.compile(r'\s*"([^"\n]*)"')
_ANGLED = re.compile(r"\s*<([^>\n]*)>")
_DEFINE = re.compile(r"\s+([A-Za-z_$][\w$]*)(\([^)]*\))?(.*)", re.DOTALL)
_IDENT = re.compile(r"\s+([A-Za-z_$][\w$]*)")


def _strip_comment(match: re.Match[str]) -> str:
    text = match.group()
    if text[0] in "\"'":
        return text
    if text[1] == "/":
        return " "
    return " " + "\n" * text.count("\n")


def _splice(text: str) -> str:
    """Join backslash-newline continuations, moving the newlines to the end of the line."""
    out: list[str] = []
    pending = 0
    for line in text.split("\n"):
        if line.endswith("\\"):
            out.append(line[:-1])
            pending += 1
            continue
        out.append(line)
        out.append("\n" * (pending + 1))
        pending = 0
    joined = "".join(out)
    return joined[:-1]  # split() added one newline too many at the end


def scan(data: bytes) -> ScanResult:
    """Every include-relevant directive of ``data`` (see module docstring)."""
    text = data.decode("latin-1")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if "\\\n" in text:
        text = _splice(text)
    if "/" in text:
        text = _LITERAL_OR_COMMENT.sub(_strip_comment, text)
    includes: list[Include] = []
    defines: list[Define] = []
    undefs: list[str] = []
    line, counted = 1, 0
    for match in _DIRECTIVE.finditer(text):
        word, rest = match.group(1), match.group(2)
        line += text.count("\n", counted, match.start())
        counted = match.start()
        if word == "define":
            d = _DEFINE.match(rest)
            if d is not None:
                params = None
                if d.group(2) is not None:
                    params = tuple(p.strip() for p in d.group(2)[1:-1].split(",") if p.strip())
                defines.append(Define(d.group(1), params, d.group(3).strip(), line))
        elif word == "undef":
            u = _IDENT.match(rest)
            if u is not None:
                undefs.append(u.group(1))
        else:
            includes.append(_include(rest, line, word == "include_next"))
    if "__has_include" in text:
        for match in _HAS_INCLUDE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            inc = _include(" " + match.group(2), line, match.group(1) is not None)
            includes.append(Include(inc.kind, inc.text, inc.line, inc.next, probe_only=True))
    by_name: dict[str, list[Define]] = {}
    for definition in defines:
        by_name.setdefault(definition.name, []).append(definition)
    return ScanResult(
        tuple(includes),
        tuple(defines),
        tuple(undefs),
        {name: tuple(ds) for name, ds in by_name.items()},
    )


def _include(rest: str, line: int, is_next: bool) -> Include:
    m = _QUOTED.match(rest)
    if m is not None:
        return Include(IncludeKind.QUOTE, m.group(1), line, is_next)
    m = _ANGLED.match(rest)
    if m is not None:
        return Include(IncludeKind.ANGLE, m.group(1), line, is_next)
    return Include(IncludeKind.COMPUTED, rest.strip(), line, is_next)
