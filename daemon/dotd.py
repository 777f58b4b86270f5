"""Rewrite a ``.d`` file written in the mirror root into the one the client would get.

The compiler in the root names absolute headers ``ROOT/home/u/x.h``; the client must see
``/home/u/x.h``.  distcc deletes the root string and leaves the line breaks where the
longer names put them (reference §5.3); but gcc and clang wrap ``.d`` lines by length,
so the result differs from a local build.  Here the file is parsed into its rule (targets,
prerequisites) and its phony rules (``-MP``), the root removed from each name, and the file
written again with the compiler's own wrapping rule:

- gcc (libcpp ``mkdeps.cc``, ``make_write``, 72 columns): a name is preceded by
  ``" \\\\\\n"`` when the column plus its (quoted) length would pass 72; continuation lines
  start with one space; ``-MP`` adds ``name:`` for every prerequisite but the first;
- clang (``DependencyFileGenerator``, 75 columns): targets wrap when ``col + len + 2 > 75``
  and continue with two spaces; a prerequisite wraps when ``col + len + 3 > 75`` (its
  *unquoted* length) and continues with two spaces; ``-MP`` rules are each preceded by an
  empty line.

Names stay in the quoted form the compiler wrote (``\\ ``, ``\\#``, ``$$``); only the
root prefix is removed.  Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DepFile:
    targets: list[str]
    prereqs: list[str]
    phony: list[str]  # names of the -MP rules, in order


def _tokens(line: str) -> list[str]:
    """Split one logical line into make words, keeping escapes (``\\ ``) inside words."""
    words: list[str] = []
    cur: list[str] = []
    i = 0
    n = len(line)
    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n:
            cur.append(c)
            cur.append(line[i + 1])
            i += 2
            continue
        if c in " \t":
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(c)
        i += 1
    if cur:
        words.append("".join(cur))
    return words


def _logical_lines(text: str) -> list[str]:
    return [line for line in text.replace("\\\n", " ").split("\n") if line.strip()]


def parse(text: str) -> DepFile | None:
    """The rule and phony rules of a compiler-written ``.d``; None if it is not one."""
    lines = _logical_lines(text)
    if not lines:
        return None
    words = _tokens(lines[0])
    targets: list[str] = []
    prereqs: list[str] = []
    seen_colon = False
    for w in words:
        if seen_colon:
            prereqs.append(w)
        elif w.endswith(":") and not w.endswith("\\:"):
            if w[:-1]:
                targets.append(w[:-1])
            seen_colon = True
        elif w == ":":
            seen_colon = True
        else:
            targets.append(w)
    if not seen_colon:
        return None
    phony: list[str] = []
    for line in lines[1:]:
        ws = _tokens(line)
        if len(ws) != 1 or not ws[0].endswith(":"):
            return None
        phony.append(ws[0][:-1])
    return DepFile(targets, prereqs, phony)


def _quote_path(path: str) -> str:
    """How both compilers quote a path in a .d (spaces, ``#``, ``$``)."""
    return path.replace("$", "$$").replace("#", "\\#").replace(" ", "\\ ")


def _unquoted_len(word: str) -> int:
    n = 0
    i = 0
    while i < len(word):
        escaped = word[i] == "\\" and i + 1 < len(word) and word[i + 1] in " #"
        if escaped or word.startswith("$$", i):
            i += 2
        else:
            i += 1
        n += 1
    return n


def strip_root(word: str, root: str) -> str:
    q = _quote_path(root)
    if word.startswith(q + "/"):
        return word[len(q) :]
    if word == q:
        return "/"
    return word


def write_gcc(dep: DepFile, colmax: int = 72) -> str:
    out: list[str] = []
    col = 0

    def name(word: str, col: int) -> int:
        size = len(word)
        if col:
            if colmax and col + size > colmax:
                out.append(" \\\n")
                col = 0
            col += 1
            out.append(" ")
        out.append(word)
        return col + size

    for t in dep.targets:
        col = name(t, col)
    out.append(":")
    col += 1
    for p in dep.prereqs:
        col = name(p, col)
    out.append("\n")
    for p in dep.phony:
        out.append(f"{p}:\n")
    return "".join(out)


def write_clang(dep: DepFile, max_columns: int = 75) -> str:
    out: list[str] = []
    columns = 0
    for t in dep.targets:
        n = len(t)
        if columns == 0:
            columns += n
        elif columns + n + 2 > max_columns:
            columns = n + 2
            out.append(" \\\n  ")
        else:
            columns += n + 1
            out.append(" ")
        out.append(t)
    out.append(":")
    columns += 1
    for p in dep.prereqs:
        n = _unquoted_len(p)
        if columns + (n + 1) + 2 > max_columns:
            out.append(" \\\n ")
            columns = 2
        out.append(" ")
        out.append(p)
        columns += n + 1
    out.append("\n")
    for p in dep.phony:
        out.append(f"\n{p}:\n")
    return "".join(out)


def rewrite(text: str, root: str, clang: bool) -> str:
    """The client's ``.d``: ``root`` removed from every name, wrapped as the compiler does.

    A file that does not parse as a compiler ``.d`` gets the root removed textually.
    """
    dep = parse(text)
    if dep is None:
        return text.replace(_quote_path(root) + "/", "/")
    fixed = DepFile(
        [strip_root(t, root) for t in dep.targets],
        [strip_root(p, root) for p in dep.prereqs],
        [strip_root(p, root) for p in dep.phony],
    )
    return write_clang(fixed) if clang else write_gcc(fixed)
