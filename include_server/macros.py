"""Multi-valued macro expansion for computed includes (``#include MACRO``).

Purpose: given the tokens after ``#include`` and every definition each macro received anywhere
the translation unit can see (its closure, ``-D``, the compiler's predefined macros), list
every header name the directive could denote.

Invariants:
- Multi-valued: a macro with several definitions expands to each of them in turn, and also
  stays unexpanded (it may be undefined at that point), so the answer is a superset of what
  any ``#if`` outcome produces.
- Function-like macros follow C's rules closely enough for include names: arguments are
  collected with balanced parentheses, ``#`` stringises, ``##`` pastes, and the result is
  rescanned with a hide set per token (a macro never expands inside itself).
- Expansion is bounded (``MAX_STATES`` partial expansions): past the bound the caller gets
  ``ExpansionTooLarge`` and reports the include as not covered, never a partial list.

Vocabulary:
- *token*: (spelling, hide set, preceded-by-space); *header name*: ("quote"|"angle", name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from include_server.scanner import Define

MAX_STATES = 20000
MAX_DEPTH = 200

_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<tok>[A-Za-z_$][\w$]*|"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?"""
    r"""|\.?\d(?:[eEpP][+-]|[\w.$])*|\#\#|\#|.)""",
    re.DOTALL,
)
_IDENT = re.compile(r"[A-Za-z_$][\w$]*\Z")

Token = tuple[str, frozenset[str], bool]
MacroTable = Mapping[str, Sequence[Define]]


class ExpansionTooLarge(Exception):
    """The expansion did not finish within MAX_STATES partial expansions."""


def tokenize(text: str, hide: frozenset[str] = frozenset()) -> list[Token]:
    out: list[Token] = []
    space = False
    for m in _TOKEN.finditer(text):
        tok = m.group("tok")
        if tok is None:
            space = True
            continue
        out.append((tok, hide, space))
        space = False
    return out


def build_table(defines: Iterable[Define]) -> dict[str, list[Define]]:
    table: dict[str, list[Define]] = {}
    for d in defines:
        entries = table.setdefault(d.name, [])
        if all((e.params, e.body) != (d.params, d.body) for e in entries):
            entries.append(d)
    return table


def header_names(text: str, table: MacroTable) -> set[tuple[str, str]]:
    """Every (kind, name) that ``#include <text>`` can mean; kind is "quote" or "angle"."""
    names: set[tuple[str, str]] = set()
    for tokens in expand(tokenize(text), table):
        names.update(_as_header_names(tokens))
    return names


def identifiers(text: str, table: MacroTable) -> set[str]:
    """Every identifier that appears in ``text`` or in any expansion step of it."""
    seen: set[str] = set()
    todo = [t[0] for t in tokenize(text)]
    while todo:
        name = todo.pop()
        if name in seen or not _IDENT.match(name):
            continue
        seen.add(name)
        for d in table.get(name, ()):
            todo.extend(t[0] for t in tokenize(d.body))
    return seen


def _as_header_names(tokens: Sequence[Token]) -> list[tuple[str, str]]:
    if not tokens:
        return []
    first = tokens[0][0]
    if first.startswith('"') and first.endswith('"') and len(first) >= 2:
        return [("quote", first[1:-1])]
    if first == "<":
        parts: list[tuple[str, bool]] = []
        for spelling, _hide, space in tokens[1:]:
            if spelling == ">":
                spaced = "".join((" " if sp and i else "") + s for i, (s, sp) in enumerate(parts))
                tight = "".join(s for s, _ in parts)
                return [("angle", spaced), ("angle", tight)]
            parts.append((spelling, space))
    return []


def expand(tokens: list[Token], table: MacroTable) -> list[tuple[Token, ...]]:
    """Every full expansion of ``tokens`` (see module docstring)."""
    results: list[tuple[Token, ...]] = []
    seen: set[tuple[str, ...]] = set()
    # Each state: (tokens already final, tokens still to scan).
    stack: list[tuple[tuple[Token, ...], tuple[Token, ...]]] = [((), tuple(tokens))]
    states = 0
    while stack:
        states += 1
        if states > MAX_STATES:
            raise ExpansionTooLarge(f"more than {MAX_STATES} partial expansions")
        done, rest = stack.pop()
        # Advance over tokens that cannot expand.
        i = 0
        while i < len(rest):
            spelling, hide, _space = rest[i]
            if spelling in table and spelling not in hide and _IDENT.match(spelling):
                break
            i += 1
        done = done + rest[:i]
        rest = rest[i:]
        if not rest:
            key = tuple(t[0] for t in done)
            if key not in seen:
                seen.add(key)
                results.append(done)
            continue
        name, hide, space = rest[0]
        # The "not defined here" alternative: the identifier stays as it is.
        stack.append(((*done, (name, hide | {name}, space)), rest[1:]))
        for definition in table[name]:
            if definition.params is None:
                body = tokenize(definition.body, hide | {name})
                if body:
                    body[0] = (body[0][0], body[0][1], space)
                stack.append((done, tuple(_paste(body)) + rest[1:]))
                continue
            call = _collect_args(rest, 1)
            if call is None:
                continue
            args, end = call
            for expanded in _substitute(definition, args, hide | {name}, space, table):
                stack.append((done, tuple(expanded) + rest[end:]))
    return results


def _collect_args(rest: Sequence[Token], start: int) -> tuple[list[list[Token]], int] | None:
    """Arguments of a call whose name is at ``start - 1``, and the index past ``)``."""
    if start >= len(rest) or rest[start][0] != "(":
        return None
    depth = 0
    args: list[list[Token]] = [[]]
    for i in range(start, len(rest)):
        spelling = rest[i][0]
        if spelling == "(":
            depth += 1
            if depth == 1:
                continue
        elif spelling == ")":
            depth -= 1
            if depth == 0:
                return args, i + 1
        elif spelling == "," and depth == 1:
            args.append([])
            continue
        args[-1].append(rest[i])
    return None


def _substitute(
    definition: Define,
    args: list[list[Token]],
    hide: frozenset[str],
    space: bool,
    table: MacroTable,
) -> list[list[Token]]:
    """Every body of a function-like call, one per combination of expanded arguments."""
    params = definition.params or ()
    variadic = bool(params) and params[-1].endswith("...")
    names = [(p[:-3].strip() or "__VA_ARGS__") if p.endswith("...") else p for p in params]
    if variadic:
        fixed = len(names) - 1
        if len(args) < fixed:
            return []
        head = args[:fixed]
        tail: list[Token] = []
        for j, a in enumerate(args[fixed:]):
            if j:
                tail.append((",", frozenset(), False))
            tail.extend(a)
        args = [*head, tail]
    elif len(args) != len(names) and not (not names and args == [[]]):
        return []
    bound = dict(zip(names, args, strict=False))
    body = tokenize(definition.body, hide)
    # A parameter next to # or ## takes its argument as written; elsewhere, fully expanded.
    raw_uses: set[int] = set()
    for i, (spelling, _h, _s) in enumerate(body):
        if spelling in ("#", "##"):
            raw_uses.add(i + 1)
            if spelling == "##":
                raw_uses.add(i - 1)
    expanded_params = sorted(
        {t[0] for i, t in enumerate(body) if t[0] in bound and i not in raw_uses}
    )
    choices: list[dict[str, list[Token]]] = [{}]
    for name in expanded_params:
        alternatives = expand(list(bound[name]), table)
        choices = [{**c, name: list(alt)} for c in choices for alt in alternatives]
        if len(choices) > MAX_STATES:
            raise ExpansionTooLarge(f"more than {MAX_STATES} argument combinations")
    bodies: list[list[Token]] = []
    for chosen in choices:
        out: list[Token] = []
        i = 0
        while i < len(body):
            spelling, _h, sp = body[i]
            if spelling == "#" and i + 1 < len(body) and body[i + 1][0] in bound:
                arg = bound[body[i + 1][0]]
                text = "".join((" " if s and j else "") + t for j, (t, _x, s) in enumerate(arg))
                text = text.replace("\\", "\\\\").replace('"', '\\"')
                out.append(('"' + text + '"', hide, sp))
                i += 2
                continue
            if spelling in bound:
                source = bound[spelling] if i in raw_uses else chosen[spelling]
                arg = [(t, hide | h, s) for t, h, s in source]
                if arg:
                    arg[0] = (arg[0][0], arg[0][1], sp)
                out.extend(arg if arg else [("", hide, sp)])  # placemarker
                i += 1
                continue
            out.append(body[i])
            i += 1
        if out:
            out[0] = (out[0][0], out[0][1], space)
        bodies.append([t for t in _paste(out) if t[0] != ""])
    return bodies


def _paste(tokens: list[Token]) -> list[Token]:
    """Apply ``##``: glue the spellings on both sides and re-tokenise the result."""
    if not any(t[0] == "##" for t in tokens):
        return tokens
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok[0] == "##" and out and i + 1 < len(tokens):
            left = out.pop()
            right = tokens[i + 1]
            glued = tokenize(left[0] + right[0], left[1] | right[1])
            if glued:
                glued[0] = (glued[0][0], glued[0][1], left[2])
            out.extend(glued or [("", left[1], left[2])])
            i += 2
            continue
        out.append(tok)
        i += 1
    return out
