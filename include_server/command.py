"""Turn a compile command into a ``CompileJob`` through the shared command-line model.

Purpose: the include server never parses argv itself; it asks
``common.compiler.classify.classify``.  Until that module exists in this checkout, a small
stand-in table below (only options that matter to the preprocessor, each with its arity)
keeps the include server usable; it is dropped once the shared model lands.

Invariant: an option whose arity is not known is never taken for a source file unless it
looks like one (by extension); a command with no or several sources is not a compile.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from common.compiler.job import (
    CompileJob,
    Language,
    LocalReason,
    Meaning,
    OptionSpec,
    ParsedOption,
    RunLocally,
    Shape,
)


def classify_command(
    argv: Sequence[str], env: Mapping[str, str] | None = None
) -> CompileJob | RunLocally:
    try:
        from common.compiler.classify import classify  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _interim_classify(tuple(argv))
    result: CompileJob | RunLocally = classify(list(argv), env=env)
    return result


# -- stand-in (see module docstring) ---------------------------------------------------------
_S = Shape
_M = Meaning
_TABLE = [
    OptionSpec("--sysroot", _S.EQUALS_OR_SEPARATE, _M.SYSROOT),
    OptionSpec("-D", _S.JOINED_OR_SEPARATE, _M.DEFINE),
    OptionSpec("-I", _S.JOINED_OR_SEPARATE, _M.INCLUDE_DIR),
    OptionSpec("-MF", _S.JOINED_OR_SEPARATE, _M.DEP_FILE),
    OptionSpec("-MQ", _S.JOINED_OR_SEPARATE, _M.DEP_TARGET_QUOTED),
    OptionSpec("-MT", _S.JOINED_OR_SEPARATE, _M.DEP_TARGET),
    OptionSpec("-U", _S.JOINED_OR_SEPARATE, _M.UNDEFINE),
    OptionSpec("-idirafter", _S.JOINED_OR_SEPARATE, _M.AFTER_DIR),
    OptionSpec("-imacros", _S.JOINED_OR_SEPARATE, _M.IMACROS_FILE),
    OptionSpec("-imultilib", _S.JOINED_OR_SEPARATE, _M.MULTILIB),
    OptionSpec("-include", _S.JOINED_OR_SEPARATE, _M.INCLUDE_FILE),
    OptionSpec("-iprefix", _S.JOINED_OR_SEPARATE, _M.PREFIX),
    OptionSpec("-iquote", _S.JOINED_OR_SEPARATE, _M.QUOTE_DIR),
    OptionSpec("-isysroot", _S.JOINED_OR_SEPARATE, _M.SYSROOT),
    OptionSpec("-isystem", _S.JOINED_OR_SEPARATE, _M.SYSTEM_DIR),
    OptionSpec("-iwithprefix", _S.JOINED_OR_SEPARATE, _M.WITH_PREFIX),
    OptionSpec("-iwithprefixbefore", _S.JOINED_OR_SEPARATE, _M.WITH_PREFIX_BEFORE),
    OptionSpec("-nostdinc", _S.FLAG, _M.NO_STD_INC),
    OptionSpec("-nostdinc++", _S.FLAG, _M.NO_STD_INC_CXX),
    OptionSpec("-o", _S.JOINED_OR_SEPARATE, _M.OUTPUT),
    OptionSpec("-stdlib=", _S.JOINED, _M.STDLIB),
    OptionSpec("-x", _S.JOINED_OR_SEPARATE, _M.LANGUAGE),
    OptionSpec("-Xpreprocessor", _S.SEPARATE, _M.PREPROCESSOR_PASSTHROUGH),
    OptionSpec("-target", _S.SEPARATE, _M.OTHER),
    OptionSpec("-arch", _S.SEPARATE, _M.OTHER),
    OptionSpec("-G", _S.JOINED_OR_SEPARATE, _M.OTHER),
    OptionSpec("-L", _S.JOINED_OR_SEPARATE, _M.LINKER),
    OptionSpec("-l", _S.JOINED_OR_SEPARATE, _M.LINKER),
    OptionSpec("-Xlinker", _S.SEPARATE, _M.LINKER),
    OptionSpec("-Xassembler", _S.SEPARATE, _M.OTHER),
    OptionSpec("-aux-info", _S.SEPARATE, _M.OTHER),
    OptionSpec("-c", _S.FLAG, _M.COMPILE_ONLY),
    OptionSpec("-S", _S.FLAG, _M.ASSEMBLY_ONLY),
    OptionSpec("-E", _S.FLAG, _M.PREPROCESS_ONLY),
]
_EXTENSIONS = {
    ".c": Language.C,
    ".i": Language.C_PREPROCESSED,
    ".cc": Language.CXX,
    ".cpp": Language.CXX,
    ".cxx": Language.CXX,
    ".cp": Language.CXX,
    ".c++": Language.CXX,
    ".C": Language.CXX,
    ".CPP": Language.CXX,
    ".ii": Language.CXX_PREPROCESSED,
    ".m": Language.OBJC,
    ".mi": Language.OBJC_PREPROCESSED,
    ".mm": Language.OBJCXX,
    ".M": Language.OBJCXX,
    ".mii": Language.OBJCXX_PREPROCESSED,
}


def _match(word: str) -> tuple[OptionSpec, str | None, int] | None:
    best: tuple[OptionSpec, str | None, int] | None = None
    for spec in _TABLE:
        sp = spec.spelling
        if spec.shape == _S.FLAG:
            if word == sp:
                return spec, None, 1
            continue
        if spec.shape == _S.EQUALS_OR_SEPARATE and word.startswith(sp + "="):
            return spec, word[len(sp) + 1 :], 1
        if word == sp and spec.shape != _S.JOINED:
            return spec, None, 2
        if (
            word.startswith(sp)
            and spec.shape in (_S.JOINED, _S.JOINED_OR_SEPARATE)
            and (best is None or len(sp) > len(best[0].spelling))
        ):
            best = (spec, word[len(sp) :], 1)
    return best


def _interim_classify(argv: tuple[str, ...]) -> CompileJob | RunLocally:
    options: list[ParsedOption] = []
    sources: list[tuple[int, str]] = []
    language: str | None = None
    mode = ""
    output = ""
    output_index = -1
    i = 1
    while i < len(argv):
        word = argv[i]
        m = _match(word) if word.startswith("-") and word != "-" else None
        if m is None:
            if not word.startswith("-"):
                sources.append((i, word))
            else:  # unknown flag: kept, so that probe_args can see -m32, -std=...
                options.append(ParsedOption(OptionSpec(word, _S.FLAG, _M.OTHER), None, i, 1, word))
            i += 1
            continue
        spec, value, words = m
        if words == 2:
            if i + 1 >= len(argv):
                return RunLocally(LocalReason.BAD_ARGUMENTS, f"{word} needs an argument")
            value = argv[i + 1]
        if spec.spelling == "-I" and word == "-I-":
            value = "-"
        options.append(ParsedOption(spec, value, i, words, word))
        if spec.meaning == _M.LANGUAGE:
            language = value
        elif spec.meaning in (_M.COMPILE_ONLY, _M.ASSEMBLY_ONLY):
            mode = "-S" if word == "-S" or mode == "-S" else "-c"
        elif spec.meaning == _M.OUTPUT:
            output, output_index = value or "", i + words - 1
        i += words
    if not sources:
        return RunLocally(LocalReason.NO_SOURCE, "no source file")
    if len(sources) > 1:
        return RunLocally(LocalReason.MULTIPLE_SOURCES, " ".join(s for _, s in sources))
    index, source = sources[0]
    ext = os.path.splitext(source)[1]
    lang = language or _EXTENSIONS.get(ext)
    if lang is None:
        return RunLocally(LocalReason.UNKNOWN_INPUT, source)
    implied = not output
    if implied:
        output = os.path.splitext(os.path.basename(source))[0] + ".o"
        spec = next(s for s in _TABLE if s.meaning == _M.OUTPUT)
        options.append(ParsedOption(spec, output, len(argv), 2, "-o"))
        argv = (*argv, "-o", output)
        output_index = len(argv) - 1
    return CompileJob(
        argv=argv,
        source=source,
        source_index=index,
        language=lang,
        explicit_language=language is not None,
        output=output,
        output_index=output_index,
        output_implied=implied,
        mode=mode or "-c",
        options=tuple(options),
        dep=None,
        dwo=None,
    )
