"""The include search configuration of one compile command, as gcc builds it.

Purpose: from a classified job's parsed options (never argv again), the working directory and
the compiler's default directories, build the ordered chain of directories gcc searches, plus
the files forced in by ``-include``/``-imacros`` and the command-line macro definitions.

Invariants (gcc's ``incpath.c`` order):
- chain = quote dirs (``-iquote``, and ``-I`` given before ``-I-``), then bracket dirs
  (``-I``, ``-iwithprefixbefore``), then system dirs (``-isystem``, then the compiler's
  defaults unless the probe, run with ``-nostdinc``/``-nostdinc++``, returned none), then
  after dirs (``-idirafter``, ``-iwithprefix``).  ``#include <>`` starts at ``angle_start``.
- ``-I-`` also stops ``#include "..."`` from looking in the includer's own directory.
- Every directory is made absolute against ``cwd`` but otherwise kept as written: gcc opens
  ``dir/name`` literally, and duplicates are removed later, on canonical paths (see
  ``closure``), because that needs the file system.
- ``=dir`` and ``$SYSROOT/dir`` are relative to the sysroot (``--sysroot``; ``-isysroot``
  wins for headers).
- Anything this module cannot model soundly becomes a ``problems`` entry; the caller answers
  "not covered" instead of guessing.

Vocabulary: *default dirs* are the compiler's built-in system directories (from the probe).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from common.compiler.job import Meaning, ParsedOption


class DirRole:
    QUOTE = "quote"
    BRACKET = "bracket"
    SYSTEM = "system"
    DEFAULT = "default"  # compiler built-in system dir
    AFTER = "after"


@dataclass(frozen=True, slots=True)
class SearchDir:
    path: str  # absolute (made so against cwd)
    role: str  # a DirRole
    written: str = ""  # as on the command line (after sysroot substitution)

    @property
    def system(self) -> bool:
        return self.role in (DirRole.SYSTEM, DirRole.DEFAULT, DirRole.AFTER)


@dataclass(frozen=True, slots=True)
class SearchConfig:
    cwd: str
    chain: tuple[SearchDir, ...]
    angle_start: int
    quote_uses_includer_dir: bool  # False after -I-
    forced_includes: tuple[str, ...]  # -imacros then -include files, in command order
    defines: tuple[tuple[str, str | None], ...]  # -D name=value (None: -U)
    problems: tuple[str, ...]


# Options whose effect on the default directories the probe must see.  Predefined macros
# (also probed) additionally depend on -O, -std=, -f...: those are deliberately left out so
# one probe serves a whole project; they only matter to a computed include that names such
# a macro directly, and the closure treats every macro as possibly undefined anyway.
PROBE_MEANINGS = frozenset(
    {
        Meaning.SYSROOT,
        Meaning.STDLIB,
        Meaning.NO_STD_INC,
        Meaning.NO_STD_INC_CXX,
        Meaning.NO_STD_LIB_INC,
        Meaning.NO_BUILTIN_INC,
        Meaning.MULTILIB,
        Meaning.TARGET,
        Meaning.TOOLCHAIN,
    }
)
PROBE_PREFIXES = ("-m", "-ffreestanding")


# Options that change what the preprocessor opens in ways this module does not model.
_UNMODELLED = {
    Meaning.PREPROCESSOR_PASSTHROUGH: "options passed straight to the preprocessor",
    Meaning.FRAMEWORK_DIR: "framework directories (Darwin) are not modelled",
}


def probe_args(options: Sequence[ParsedOption], argv: Sequence[str]) -> tuple[str, ...]:
    """The words of ``argv`` the compiler probe must repeat (see ``compiler_probe``)."""
    out: list[str] = []
    for opt in options:
        spelled = opt.spelled
        keep = opt.spec.meaning in PROBE_MEANINGS or (
            opt.spec.meaning
            in (Meaning.OTHER, Meaning.PREPROCESSOR_ONLY_FLAG, Meaning.REFUSED_BY_SERVER)
            and spelled.startswith(PROBE_PREFIXES)
        )
        if keep:
            out.extend(argv[opt.index : opt.index + opt.words])
    return tuple(out)


def _absolute(cwd: str, path: str) -> str:
    return path if path.startswith("/") else os.path.join(cwd, path)


# Environment variables gcc reads as extra search directories, by language.
_SYSTEM_PATH_ENV = {
    "c": "C_INCLUDE_PATH",
    "c++": "CPLUS_INCLUDE_PATH",
    "objective-c": "OBJC_INCLUDE_PATH",
    "objective-c++": "OBJC_INCLUDE_PATH",
}


def env_dirs(env: Mapping[str, str], language: str) -> tuple[list[str], list[str]]:
    """(bracket dirs from CPATH, system dirs from C_INCLUDE_PATH & co.), as gcc reads them.

    An empty element means the current directory.  The compiler probe runs without these
    variables, so the directories keep their real role instead of looking like defaults.
    """

    def split(value: str | None) -> list[str]:
        if not value:
            return []
        return [p or "." for p in value.split(":")]

    return split(env.get("CPATH")), split(env.get(_SYSTEM_PATH_ENV.get(language, "")))


def build_config(
    options: Sequence[ParsedOption],
    cwd: str,
    default_dirs: Sequence[str],
    extra_dirs: tuple[Sequence[str], Sequence[str]] = ((), ()),
) -> SearchConfig:
    """The search configuration; ``extra_dirs`` come from ``env_dirs`` (if the caller
    knows the compile's environment)."""
    quote: list[str] = []
    before_dash: list[str] = []
    bracket: list[str] = []
    system: list[str] = []
    after: list[str] = []
    forced_macros: list[str] = []
    forced: list[str] = []
    defines: list[tuple[str, str | None]] = []
    problems: list[str] = []
    sysroot = ""
    isysroot = ""
    prefix: str | None = None
    dash_seen = False

    for opt in options:
        if opt.spec.meaning == Meaning.SYSROOT and opt.value is not None:
            if opt.spec.spelling.startswith("-isysroot"):
                isysroot = opt.value
            else:
                sysroot = opt.value
    header_root = isysroot or sysroot

    def rooted(value: str) -> str:
        if value.startswith("="):
            return header_root + value[1:]
        if value.startswith("$SYSROOT"):
            return header_root + value[len("$SYSROOT") :]
        return value

    for opt in options:
        meaning, value = opt.spec.meaning, opt.value
        if meaning == Meaning.SPLIT_INCLUDE or (meaning == Meaning.INCLUDE_DIR and value == "-"):
            if dash_seen:
                problems.append("-I- given twice")
            dash_seen = True
            before_dash.extend(bracket)
            bracket.clear()
            continue
        if meaning in _UNMODELLED:
            problems.append(f"{opt.spelled}: {_UNMODELLED[meaning]}")
            continue
        if value is None:
            continue
        if meaning == Meaning.INCLUDE_DIR:
            bracket.append(rooted(value))
        elif meaning == Meaning.QUOTE_DIR:
            quote.append(rooted(value))
        elif meaning == Meaning.SYSTEM_DIR:
            system.append(rooted(value))
        elif meaning == Meaning.AFTER_DIR:
            after.append(rooted(value))
        elif meaning == Meaning.PREFIX:
            prefix = value
        elif meaning in (Meaning.WITH_PREFIX, Meaning.WITH_PREFIX_BEFORE):
            if prefix is None:
                problems.append(f"{opt.spelled} without -iprefix (compiler-dependent prefix)")
                continue
            target = after if meaning == Meaning.WITH_PREFIX else bracket
            target.append(prefix + value)
        elif meaning == Meaning.INCLUDE_FILE:
            forced.append(value)
        elif meaning == Meaning.IMACROS_FILE:
            forced_macros.append(value)
        elif meaning == Meaning.DEFINE:
            name, eq, body = value.partition("=")
            defines.append((name, body if eq else "1"))
        elif meaning == Meaning.UNDEFINE:
            defines.append((value, None))

    def dirs(written: list[str], role: str) -> list[SearchDir]:
        return [SearchDir(_absolute(cwd, w), role, w) for w in written]

    chain: list[SearchDir] = []
    chain += dirs(quote + before_dash, DirRole.QUOTE)
    angle_start = len(chain)
    chain += dirs(bracket + list(extra_dirs[0]), DirRole.BRACKET)
    chain += dirs(system + list(extra_dirs[1]), DirRole.SYSTEM)
    chain += dirs(list(default_dirs), DirRole.DEFAULT)
    chain += dirs(after, DirRole.AFTER)
    return SearchConfig(
        cwd=cwd,
        chain=tuple(chain),
        angle_start=angle_start,
        quote_uses_includer_dir=not dash_seen,
        forced_includes=tuple(forced_macros + forced),
        defines=tuple(defines),
        problems=tuple(problems),
    )
