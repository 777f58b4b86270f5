"""``classify(argv)``: a compiler command line -> ``CompileJob`` or ``RunLocally``.

Pure: the environment and the reader of ``@response`` files are passed in; nothing here
touches the file system unless the caller lets the default reader open response files.

Steps, in order (the first that fails decides the ``RunLocally`` reason):
1. *Normalise*: expand ``@file`` words with gcc's (libiberty's) quoting rules, nested up to
   ``MAX_RESPONSE_DEPTH``; turn ``-Wp,-MD,f`` into ``-MD -MF f`` (likewise ``-MMD`` and
   ``-MF``), keeping the other ``-Wp,`` items as ``-Wp,`` words.
2. *Parse* every option through ``options.lookup`` into a ``ParsedOption``; words that are
   not options are inputs.  Unknown ``-`` words are flags.  An option whose table entry has
   a ``local_reason`` sends the job local.  The reason reported: ``-E``/``-M``/``-MM``
   first, then "no ``-c``/``-S``" (a link), then the first local-only option in argv order.
3. *Decide*: exactly one source (by ``-x`` or by extension), ``-c`` or ``-S`` present
   (``-S`` beats ``-c``), no stray ``.o`` input, output not ``-``, not an autoconf probe.
   If there is no ``-o``, ``-o <basename>.o`` (``.s`` with ``-S``) is appended in the cwd.
4. *Side outputs*: the ``.d`` file (``DepInfo``) and the ``.dwo`` file as the real compiler
   names them.  gcc and clang differ (checked against both by differential tests):
   - ``.d`` path: ``-MF`` if given, else the output with its suffix replaced by ``.d``
     (suffix = from the last dot of the basename: ``hello.bar.foo`` -> ``hello.bar.d``,
     ``hello.`` -> ``hello.d``, ``d.x/y`` -> ``d.x/y.d``).
   - default target: with a driver-level ``-MD``/``-MMD`` and an explicit ``-o``, the output
     name (make-quoted); otherwise cpp's default, the source basename with ``.o``.  gcc
     hands ``-Wp,-MD,f`` straight to cc1, so it gets cpp's default even with ``-o``; clang
     rewrites it to ``-MD -MF f``, so it gets the output.  With ``-S`` and no ``-o`` the
     target is still ``foo.o``.
   - ``-MMD`` wins over ``-MD`` whatever their order (both compilers).
   - ``DEPENDENCIES_OUTPUT`` / ``SUNPRO_DEPENDENCIES`` ("FILE [TARGET]"): gcc only, only
     without ``-MD``/``-MMD``; gcc *appends* to FILE (``DepInfo.append``); ``-MF``,
     ``-MT``/``-MQ`` and ``-MP`` still apply (``-MF`` replaces FILE, still appended to).
   - gcc refuses ``-MF``/``-MT``/``-MQ``/``-MP`` without ``-MD``/``-MMD`` (local,
     BAD_ARGUMENTS); clang ignores them.
   - Already preprocessed input (``.i``, ``-x cpp-output``...): cpp does not run, so the
     ``-M`` options do nothing (no ``.d``, no error); gcc still honours the env vars.
   - ``.dwo``: gcc writes ``<output minus suffix>.dwo`` for ``-c -gsplit-dwarf`` (not for
     ``-S``), whatever the debug level; clang only when debug info is on and not for
     ``-gsplit-dwarf=single``, also for ``-S``: beside ``-o`` when both ``-c`` and ``-o``
     are given, else ``<source basename minus suffix>.dwo`` in the cwd (so ``clang -S
     -o sub/x.s`` writes ``foo.dwo``).

Vocabulary: *source* is the one input file compiled; *input* any non-option word;
*implied output* the ``-o`` classify appends; *cpp default target* as above.

Hot path: no dataclasses/enum/typing/re/logging imports (see common/values.py).
"""

from __future__ import annotations

from common.compiler.job import (
    CompileJob,
    DepInfo,
    Language,
    LocalReason,
    Meaning,
    OptionSpec,
    ParsedOption,
    RunLocally,
    Shape,
)
from common.compiler.options import lookup, split
from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

MAX_RESPONSE_DEPTH = 16

# The entry recorded for options the table does not know: kept as flags.
UNKNOWN = OptionSpec("", Shape.FLAG, Meaning.OTHER)

_EXTENSION_LANGUAGE = {
    ".c": Language.C,
    ".i": Language.C_PREPROCESSED,
    ".ii": Language.CXX_PREPROCESSED,
    ".cc": Language.CXX,
    ".cp": Language.CXX,
    ".cxx": Language.CXX,
    ".cpp": Language.CXX,
    ".CPP": Language.CXX,
    ".c++": Language.CXX,
    ".C": Language.CXX,
    ".m": Language.OBJC,
    ".mi": Language.OBJC_PREPROCESSED,
    ".mm": Language.OBJCXX,
    ".M": Language.OBJCXX,
    ".mii": Language.OBJCXX_PREPROCESSED,
}
_X_LANGUAGE = {
    "c": Language.C,
    "c++": Language.CXX,
    "objective-c": Language.OBJC,
    "objective-c++": Language.OBJCXX,
    "cpp-output": Language.C_PREPROCESSED,
    "c++-cpp-output": Language.CXX_PREPROCESSED,
    "objective-c-cpp-output": Language.OBJC_PREPROCESSED,
    "objc-cpp-output": Language.OBJC_PREPROCESSED,
    "objective-c++-cpp-output": Language.OBJCXX_PREPROCESSED,
    "objc++-cpp-output": Language.OBJCXX_PREPROCESSED,
}
# Inputs that compile, but not to something we distribute.
_HEADER_EXTENSIONS = frozenset(
    (".h", ".hh", ".hp", ".hpp", ".hxx", ".h++", ".H", ".HPP", ".tcc", ".hm")
)
# fmt: off
_OTHER_LANGUAGE_EXTENSIONS = frozenset((
    ".s", ".S", ".sx", ".asm", ".f", ".F", ".for", ".FOR", ".ftn", ".fpp", ".FPP", ".f90",
    ".F90", ".f95", ".F95", ".f03", ".F03", ".f08", ".F08", ".go", ".d", ".di", ".adb", ".ads",
    ".cu", ".cuh", ".hip", ".cl", ".m2", ".mod", ".cppm", ".ixx",
))
_CLANG_DEBUG_ON = frozenset((
    "", "1", "2", "3", "gdb", "gdb1", "gdb2", "gdb3", "dwarf", "dwarf-2", "dwarf-3", "dwarf-4",
    "dwarf-5", "line-tables-only", "line-directives-only", "mlt", "full", "used", "lldb", "sce",
    "dbx", "codeview",
))
# fmt: on
_CLANG_DEBUG_OFF = frozenset(("0", "gdb0"))
_CLANG_PLUGIN_ARGS = frozenset(("-load", "-plugin", "-add-plugin", "-load-pass-plugin"))
_WP_DEP_WITH_FILE = ("-MD", "-MMD", "-MF")


# ---------------------------------------------------------------- helpers on file names


def _extension(path: str) -> str:
    base = path[path.rfind("/") + 1 :]
    dot = base.rfind(".")
    return base[dot:] if dot > 0 or (dot == 0 and len(base) > 1) else ""


def language_of(path: str) -> str | None:
    """The language gcc gives ``path`` from its extension, if it is one we distribute."""
    return _EXTENSION_LANGUAGE.get(_extension(path))


def is_source(path: str) -> bool:
    """distcc's ``dcc_is_source``: a C/C++/ObjC file, preprocessed or not (not ``.s``)."""
    return _extension(path) in _EXTENSION_LANGUAGE


def is_preprocessed(path: str) -> bool:
    """True for ``.i``, ``.ii``, ``.mi`` and ``.mii`` files."""
    return _extension(path) in (".i", ".ii", ".mi", ".mii")


def strip_suffix(path: str) -> str:
    """``path`` without the suffix of its basename (from the last dot), as gcc's ``%b``."""
    slash = path.rfind("/")
    dot = path.rfind(".")
    return path[:dot] if dot > slash else path


def basename(path: str) -> str:
    return path[path.rfind("/") + 1 :]


def make_quote(target: str) -> str:
    """Quote a target for make as gcc's -MQ does (``$`` -> ``$$``, ``#`` -> ``\\#``, and
    backslashes before a blank doubled, the blank escaped)."""
    if not any(c in target for c in " \t$#"):
        return target
    out: list[str] = []
    for i, c in enumerate(target):
        if c == " " or c == "\t":
            j = i - 1
            while j >= 0 and target[j] == "\\":
                out.append("\\")
                j -= 1
            out.append("\\")
        elif c == "$":
            out.append("$")
        elif c == "#":
            out.append("\\")
        out.append(c)
    return "".join(out)


def implicit_compiler(args: Sequence[str]) -> list[str]:
    """``distcc -c x.c``: insert ``cc`` when the first word is an option, a source or an
    object file (distcc's ``dcc_find_compiler``)."""
    if args and (args[0][:1] == "-" or is_source(args[0]) or args[0].endswith(".o")):
        return ["cc", *args]
    return list(args)


# ---------------------------------------------------------------- normalisation


def parse_response_file(text: str) -> list[str]:
    """Split a response file as libiberty's ``buildargv``: blanks separate words, single
    and double quotes group, a backslash escapes the next character (even in quotes)."""
    words: list[str] = []
    cur: list[str] = []
    in_word = squote = dquote = bsquote = False
    for c in text:
        if bsquote:
            bsquote = False
            cur.append(c)
        elif c == "\\":
            bsquote = True
            in_word = True
        elif squote:
            if c == "'":
                squote = False
            else:
                cur.append(c)
        elif dquote:
            if c == '"':
                dquote = False
            else:
                cur.append(c)
        elif c in " \t\n\r\f\v":
            if in_word:
                words.append("".join(cur))
                cur = []
                in_word = False
            continue
        elif c == "'":
            squote = True
        elif c == '"':
            dquote = True
        else:
            cur.append(c)
        in_word = True
    if in_word:
        words.append("".join(cur))
    return words


def _read_path(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def expand_response_files(
    words: Sequence[str], read_file: Callable[[str], bytes] | None = None
) -> list[str] | RunLocally:
    """argv with every ``@file`` word (after argv[0]) replaced by the file's words."""
    reader = read_file if read_file is not None else _read_path
    out = [words[0]]
    problem = _expand_into(out, words[1:], reader, ())
    return problem if problem is not None else out


def _expand_into(
    out: list[str],
    words: Sequence[str],
    reader: Callable[[str], bytes],
    stack: tuple[str, ...],
) -> RunLocally | None:
    for w in words:
        if len(w) < 2 or w[0] != "@":
            out.append(w)
            continue
        path = w[1:]
        if path in stack:
            return RunLocally(LocalReason.RESPONSE_FILE, f"response file {path} includes itself")
        if len(stack) >= MAX_RESPONSE_DEPTH:
            return RunLocally(LocalReason.RESPONSE_FILE, f"response files nested too deep at {w}")
        try:
            data = reader(path)
        except OSError as e:
            why = e.strerror or str(e)
            return RunLocally(LocalReason.RESPONSE_FILE, f"cannot read response file {path}: {why}")
        inner = parse_response_file(data.decode("utf-8", "surrogateescape"))
        problem = _expand_into(out, inner, reader, (*stack, path))
        if problem is not None:
            return problem
    return None


def _expand_wp(words: list[str], is_clang: bool) -> tuple[list[str], set[int], RunLocally | None]:
    """Expand the dependency items of ``-Wp,`` words.

    Returns the new argv, the indices (in it) of ``-MD``/``-MMD`` words that came from a
    ``-Wp,`` (gcc passes those to cc1 directly, which changes the default target), and a
    ``RunLocally`` for ``-Wp,`` items we do not model.
    """
    if not any(w.startswith("-Wp,") for w in words):
        return words, set(), None
    out: list[str] = []
    from_wp: set[int] = set()
    for w in words:
        if not w.startswith("-Wp,") or "-M" not in w:
            out.append(w)
            continue
        items = w[4:].split(",")
        if is_clang and (len(items) != 2 or items[0] not in ("-MD", "-MMD")):
            # clang's driver rewrites exactly -Wp,-MD,FILE and -Wp,-MMD,FILE; anything
            # else reaches cc1 in ways we do not model.
            return (
                out,
                from_wp,
                RunLocally(LocalReason.DEPENDENCY_SIDE_EFFECT, f"{w}: not modelled for clang"),
            )
        kept: list[str] = []
        k = 0
        while k < len(items):
            item = items[k]
            if item in _WP_DEP_WITH_FILE:
                if k + 1 >= len(items) or not items[k + 1]:
                    return (
                        out,
                        from_wp,
                        RunLocally(LocalReason.BAD_ARGUMENTS, f"{w}: {item} needs a file name"),
                    )
                if kept:
                    out.append("-Wp," + ",".join(kept))
                    kept = []
                if item != "-MF":
                    from_wp.add(len(out))
                    out.append(item)
                out.extend(("-MF", items[k + 1]))
                k += 2
                continue
            if item.startswith("-M") and item not in ("-MP", "-MG"):
                return (
                    out,
                    from_wp,
                    RunLocally(
                        LocalReason.DEPENDENCY_SIDE_EFFECT,
                        f"{w}: {item} through -Wp is not modelled",
                    ),
                )
            kept.append(item)
            k += 1
        if kept:
            out.append("-Wp," + ",".join(kept))
    return out, from_wp, None


# ---------------------------------------------------------------- classification


def classify(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    read_file: Callable[[str], bytes] | None = None,
) -> CompileJob | RunLocally:
    """Classify a compiler command (``argv[0]`` is the compiler); see the module doc."""
    if not argv:
        return RunLocally(LocalReason.BAD_ARGUMENTS, "empty command line")
    words: list[str]
    if any(w[:1] == "@" for w in argv[1:]):
        expanded = expand_response_files(argv, read_file)
        if isinstance(expanded, RunLocally):
            return expanded
        words = expanded
    else:
        words = list(argv)
    is_clang = "clang" in basename(words[0])
    words, from_wp, wp_problem = _expand_wp(words, is_clang)
    if wp_problem is not None:
        return wp_problem

    n = len(words)
    options: list[ParsedOption] = []
    inputs: list[tuple[int, str, str | None]] = []  # (index, word, -x language or None)
    local: RunLocally | None = None  # the first option that makes the job local
    cpp_only: RunLocally | None = None  # the first -E, -M, -MM (distcc's cpp lock pool)
    seen_c = seen_s = emit_llvm = aux_names = phony = comp_dir = False
    x_lang: str | None = None
    output_opt: ParsedOption | None = None
    md: list[tuple[str, bool]] = []  # (meaning, came from -Wp)
    dep_file: str | None = None
    dep_targets: list[str] = []
    split_dwarf = False
    clang_debug = False

    i = 1
    while i < n:
        w = words[i]
        if w[:1] != "-" or w == "-":
            inputs.append((i, w, x_lang))
            i += 1
            continue
        spec = lookup(w)
        if spec is None:
            options.append(ParsedOption(UNKNOWN, None, i, 1, w))
            i += 1
            continue
        value, separate = split(spec, w)
        count = 1
        if separate:
            if i + 1 >= n:
                return RunLocally(LocalReason.BAD_ARGUMENTS, f"{w} is missing its argument")
            value = words[i + 1]
            count = 2
        po = ParsedOption(spec, value, i, count, w)
        options.append(po)
        i += count
        meaning = spec.meaning
        if spec.local_reason is not None:
            if spec.local_reason == LocalReason.PREPROCESS_ONLY:
                if cpp_only is None:
                    cpp_only = RunLocally(spec.local_reason, w)
            elif local is None:
                local = RunLocally(spec.local_reason, f"{w} {value or ''}".rstrip())
            continue
        if meaning == Meaning.OTHER or meaning == Meaning.DEFINE or meaning == Meaning.INCLUDE_DIR:
            continue
        if meaning == Meaning.COMPILE_ONLY:
            seen_c = True
        elif meaning == Meaning.ASSEMBLY_ONLY:
            seen_s = True
        elif meaning == Meaning.OUTPUT:
            if output_opt is not None:
                return RunLocally(LocalReason.BAD_ARGUMENTS, "more than one -o")
            output_opt = po
        elif meaning == Meaning.LANGUAGE:
            x_lang = None if value == "none" else value
        elif meaning == Meaning.DEP_MD or meaning == Meaning.DEP_MMD:
            md.append((meaning, po.index in from_wp))
        elif meaning == Meaning.DEP_FILE:
            dep_file = value
        elif meaning == Meaning.DEP_TARGET:
            dep_targets.append(value or "")
        elif meaning == Meaning.DEP_TARGET_QUOTED:
            dep_targets.append(make_quote(value or ""))
        elif meaning == Meaning.DEP_PHONY:
            phony = True
        elif meaning == Meaning.PREPROCESSOR_PASSTHROUGH:
            if w.startswith("-Wp,"):
                phony = phony or "-MP" in w[4:].split(",")
            elif value is not None and value.startswith("-M") and local is None:
                local = RunLocally(LocalReason.DEPENDENCY_SIDE_EFFECT, f"{w} {value}")
        elif meaning == Meaning.SPLIT_DWARF:
            if w == "-gsplit-dwarf":
                split_dwarf = True
            elif w == "-gno-split-dwarf":
                split_dwarf = False
            elif not is_clang:
                return RunLocally(LocalReason.BAD_ARGUMENTS, f"{w}: gcc does not accept it")
            else:
                split_dwarf = value == "split"
        elif meaning == Meaning.DEBUG_INFO:
            if value in _CLANG_DEBUG_OFF:
                clang_debug = False
            elif value in _CLANG_DEBUG_ON:
                clang_debug = True
        elif meaning == Meaning.AUX_NAME:
            aux_names = True
        elif meaning == Meaning.PREFIX_MAP:
            comp_dir = comp_dir or "compilation-dir" in w
        elif meaning == Meaning.EMIT_LLVM:
            emit_llvm = True
        elif meaning == Meaning.ASSEMBLER_PASSTHROUGH:
            # distcc's test: a ",-a" item (listings) or "--MD" (assembler deps file).
            if count == 1:
                listing = ",-a" in w or "--MD" in w
            else:
                listing = (value or "").startswith("-a") or "--MD" in (value or "")
            if listing and local is None:
                local = RunLocally(LocalReason.ASSEMBLER_LISTING, f"{w} {value}")
        elif meaning == Meaning.COMPILER_PASSTHROUGH:
            plugin = value in _CLANG_PLUGIN_ARGS or (value or "").startswith("-plugin-arg")
            if w == "-Xclang" and plugin and local is None:
                local = RunLocally(LocalReason.PLUGIN, f"-Xclang {value}")

    # Which reason is reported (and counted): preprocessing first (it takes distcc's cpp
    # lock pool), then "not a compile" (so a link never counts as, say, native-arch), then
    # the first local-only option.
    if cpp_only is not None:
        return cpp_only
    if not seen_c and not seen_s:
        return RunLocally(LocalReason.NOT_COMPILE, "no -c or -S: link or other")
    if local is not None:
        return local

    source: tuple[int, str, str] | None = None
    explicit_language = False
    for index, word, lang in inputs:
        problem = None
        language: str | None = None
        if word == "-":
            problem = RunLocally(LocalReason.UNKNOWN_INPUT, "source read from standard input")
        elif lang is not None:
            language = _X_LANGUAGE.get(lang)
            if language is None:
                reason = (
                    LocalReason.PRECOMPILED_HEADER
                    if "header" in lang
                    else LocalReason.UNSUPPORTED_LANGUAGE
                )
                problem = RunLocally(reason, f"-x {lang} {word}")
        else:
            ext = _extension(word)
            language = _EXTENSION_LANGUAGE.get(ext)
            if language is None:
                if ext == ".o":
                    problem = RunLocally(LocalReason.LINK_OUTPUT, f"object file input {word}")
                elif ext in _OTHER_LANGUAGE_EXTENSIONS:
                    problem = RunLocally(LocalReason.UNSUPPORTED_LANGUAGE, word)
                elif ext in _HEADER_EXTENSIONS:
                    problem = RunLocally(LocalReason.PRECOMPILED_HEADER, word)
                else:
                    problem = RunLocally(LocalReason.UNKNOWN_INPUT, f"input {word}")
        if problem is not None or language is None:
            return problem or RunLocally(LocalReason.UNKNOWN_INPUT, word)
        if source is not None:
            return RunLocally(LocalReason.MULTIPLE_SOURCES, f"{source[1]} and {word}")
        source = (index, word, language)
        explicit_language = lang is not None
    if source is None:
        return RunLocally(LocalReason.NO_SOURCE, "no source file")
    source_index, source_word, language = source
    base = basename(source_word)
    if base.startswith(("conftest.", "tmp.conftest.")):
        return RunLocally(LocalReason.AUTOCONF, source_word)

    mode = "-S" if seen_s else "-c"
    if output_opt is not None:
        output = output_opt.value or ""
        if output == "-":
            return RunLocally(LocalReason.OUTPUT_TO_STDOUT, "-o -")
        if not output:
            return RunLocally(LocalReason.BAD_ARGUMENTS, "empty output name")
        output_index = output_opt.index + (output_opt.words - 1)
        output_implied = False
    else:
        suffix = (".ll" if seen_s else ".bc") if emit_llvm else (".s" if seen_s else ".o")
        output = strip_suffix(base) + suffix
        words.append("-o")
        words.append(output)
        output_index = n + 1
        output_implied = True
        out_spec = lookup("-o")
        if out_spec is not None:
            options.append(ParsedOption(out_spec, output, n, 2, "-o"))

    # The .d file.
    dep: DepInfo | None = None
    cpp_default_target = make_quote(strip_suffix(base) + ".o")
    preprocessed = language.endswith("cpp-output")
    if md and not preprocessed:
        system_headers = all(m == Meaning.DEP_MD for m, _ in md)
        path = dep_file if dep_file is not None else strip_suffix(output) + ".d"
        if dep_targets:
            targets = tuple(dep_targets)
        elif not output_implied and (is_clang or any(not wp for _, wp in md)):
            targets = (make_quote(output),)
        else:
            targets = (cpp_default_target,)
        dep = DepInfo(path, targets, bool(dep_targets), system_headers, phony)
    elif not is_clang:
        spec_text = env.get("DEPENDENCIES_OUTPUT") if env else None
        system_headers = False
        if not spec_text and env:
            spec_text = env.get("SUNPRO_DEPENDENCIES")
            system_headers = True
        if spec_text:
            # -MF overrides the file (still appended to), -MT/-MQ/-MP apply as usual.
            env_path, _, env_target = spec_text.partition(" ")
            if env_target and dep_targets:
                return RunLocally(
                    LocalReason.DEPENDENCY_SIDE_EFFECT,
                    "-MT/-MQ together with a DEPENDENCIES_OUTPUT target: order not modelled",
                )
            if dep_targets:
                targets = tuple(dep_targets)
            else:
                targets = (env_target,) if env_target else (cpp_default_target,)
            dep = DepInfo(
                dep_file if dep_file is not None else env_path,
                targets,
                bool(dep_targets) or bool(env_target),
                system_headers,
                phony,
                True,
            )
        elif (dep_file is not None or dep_targets or phony) and not preprocessed and not md:
            return RunLocally(
                LocalReason.BAD_ARGUMENTS, "-MF/-MT/-MQ/-MP without -MD or -MMD: gcc refuses"
            )

    # The .dwo file.
    dwo: str | None = None
    if split_dwarf:
        if is_clang:
            if not clang_debug:
                pass
            elif seen_c and not output_implied:
                dwo = strip_suffix(output) + ".dwo"
            elif comp_dir:
                return RunLocally(
                    LocalReason.DEPENDENCY_SIDE_EFFECT,
                    "-gsplit-dwarf with a compilation dir and no -c -o",
                )
            else:
                dwo = strip_suffix(base) + ".dwo"
        elif mode == "-c":
            if aux_names:
                return RunLocally(
                    LocalReason.DEPENDENCY_SIDE_EFFECT, "-gsplit-dwarf with -dumpbase/-dumpdir"
                )
            dwo = strip_suffix(output) + ".dwo"

    return CompileJob(
        argv=tuple(words),
        source=source_word,
        source_index=source_index,
        language=language,
        explicit_language=explicit_language,
        output=output,
        output_index=output_index,
        output_implied=output_implied,
        mode=mode,
        options=tuple(options),
        dep=dep,
        dwo=dwo,
    )
