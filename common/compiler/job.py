"""The typed result of classifying a compiler command line.

``classify(argv)`` (in ``common.compiler.classify``) returns either a ``CompileJob`` (the
command compiles exactly one source file to one object, and may run remotely) or a
``RunLocally`` carrying a ``LocalReason``.  Both are frozen: a job is a value that the
client, the daemon and the include server can pass around and compare.

Vocabulary:
- *argv*: the command as make ran it, ``argv[0]`` being the compiler.
- *normalised argv* (``CompileJob.argv``): ``@file`` expanded, ``-Wp,-MD,f`` turned into
  ``-MD -MF f``, and ``-o <output>`` appended when the user relied on the implied output.
  Every other word is kept as the user wrote it, in order.
- *parsed options* (``CompileJob.options``): one ``ParsedOption`` per option in the
  normalised argv (the implied ``-o`` included; options the table does not know carry
  ``classify.UNKNOWN`` as their entry), with the table entry that matched and its
  argument, so later layers
  (strip for plain mode, re-root on the daemon, search paths in the include server) never
  re-parse argv themselves.
"""

from __future__ import annotations

from common.values import Value

# The "enums" below are classes of string constants: see common/values.py for why.


class Meaning:
    """What an option does, as far as distribution is concerned."""

    OTHER = "other"  # passed through, harmless
    COMPILE_ONLY = "compile-only"  # -c
    ASSEMBLY_ONLY = "assembly-only"  # -S
    PREPROCESS_ONLY = "preprocess-only"  # -E
    OUTPUT = "output"  # -o
    LANGUAGE = "language"  # -x
    # Preprocessor options: needed to preprocess, stripped for a plain-mode server.
    DEFINE = "define"  # -D
    UNDEFINE = "undefine"  # -U
    INCLUDE_DIR = "include-dir"  # -I
    QUOTE_DIR = "quote-dir"  # -iquote
    SYSTEM_DIR = "system-dir"  # -isystem
    AFTER_DIR = "after-dir"  # -idirafter
    PREFIX = "prefix"  # -iprefix
    WITH_PREFIX = "with-prefix"  # -iwithprefix
    WITH_PREFIX_BEFORE = "with-prefix-before"  # -iwithprefixbefore
    INCLUDE_FILE = "include-file"  # -include
    IMACROS_FILE = "imacros-file"  # -imacros
    SYSROOT = "sysroot"  # --sysroot, -isysroot
    NO_STD_INC = "nostdinc"  # -nostdinc
    NO_STD_INC_CXX = "nostdinc++"  # -nostdinc++
    STDLIB = "stdlib"  # -stdlib=
    MULTILIB = "multilib"  # -imultilib
    PREPROCESSOR_ONLY_FLAG = "cpp-flag"  # -undef, -MG, -MP, ...: stripped in plain mode
    PREPROCESSOR_PASSTHROUGH = "cpp-passthrough"  # -Xpreprocessor ARG, -Wp,...
    # Dependency generation.
    DEP_MD = "dep-md"  # -MD
    DEP_MMD = "dep-mmd"  # -MMD
    DEP_FILE = "dep-file"  # -MF
    DEP_TARGET = "dep-target"  # -MT
    DEP_TARGET_QUOTED = "dep-target-quoted"  # -MQ
    DEP_ONLY = "dep-only"  # -M, -MM: implies -E, local
    SPLIT_DWARF = "split-dwarf"  # -gsplit-dwarf
    LINKER = "linker"  # -l, -L, -Wl,...: stripped for the server
    LOCAL_ONLY = "local-only"  # anything that forces a local compile (see reason)
    REFUSED_BY_SERVER = "refused-by-server"  # -fplugin=, -specs=: the daemon refuses them
    # Added with the option table (common/compiler/options.py):
    SPLIT_INCLUDE = "split-include"  # -I-: splits quote and bracket search paths
    FRAMEWORK_DIR = "framework-dir"  # -F DIR, -iframework DIR (Darwin)
    ASSERTION = "assertion"  # -A PRED=ANSWER
    DEP_PHONY = "dep-phony"  # -MP
    DEP_MISSING_OK = "dep-missing-ok"  # -MG
    ASSEMBLER_PASSTHROUGH = "as-passthrough"  # -Wa,..., -Xassembler ARG
    DEBUG_INFO = "debug-info"  # -g, -g3, -ggdb, -gdwarf-5, -g0 ...: debug level
    AUX_NAME = "aux-name"  # -dumpbase, -dumpdir, -dumpbase-ext: names of auxiliary outputs
    PREFIX_MAP = "prefix-map"  # -ffile-prefix-map=, -fdebug-prefix-map=, -fmacro-prefix-map=
    COMPILER_PASSTHROUGH = "compiler-passthrough"  # -Xclang ARG, -mllvm ARG
    EMIT_LLVM = "emit-llvm"  # -emit-llvm: the implied output is .bc / .ll
    NO_STD_LIB_INC = "nostdlibinc"  # clang -nostdlibinc: no system dirs, builtin dir kept
    NO_BUILTIN_INC = "nobuiltininc"  # clang -nobuiltininc: only the builtin dir dropped
    # Options that change the compiler's own default search dirs (the include server
    # probes them per combination): -target, --target=, -m32/-m64/-mx32/-m16, -arch, -b.
    TARGET = "target"
    TOOLCHAIN = "toolchain"  # -B, --gcc-toolchain=, -resource-dir: where the compiler looks


class Shape:
    """How an option takes its argument."""

    FLAG = "flag"  # no argument: -c
    SEPARATE = "separate"  # -o FILE only (also accepted joined? no)
    JOINED = "joined"  # -DFOO only; a prefix match, the rest is the argument
    JOINED_OR_SEPARATE = "joined-or-separate"  # -I dir / -Idir
    EQUALS = "equals"  # --sysroot=DIR (the spelling includes the '=')
    EQUALS_OR_SEPARATE = "equals-or-separate"  # --sysroot=DIR / --sysroot DIR


class Language:
    """gcc's ``-x`` names for the languages we distribute."""

    C = "c"
    CXX = "c++"
    OBJC = "objective-c"
    OBJCXX = "objective-c++"
    C_PREPROCESSED = "cpp-output"
    CXX_PREPROCESSED = "c++-cpp-output"
    OBJC_PREPROCESSED = "objective-c-cpp-output"
    OBJCXX_PREPROCESSED = "objective-c++-cpp-output"

    ALL = (
        C,
        CXX,
        OBJC,
        OBJCXX,
        C_PREPROCESSED,
        CXX_PREPROCESSED,
        OBJC_PREPROCESSED,
        OBJCXX_PREPROCESSED,
    )


def is_preprocessed_language(language: str) -> bool:
    return language.endswith("cpp-output")


def preprocessed_form(language: str) -> str:
    """The language of this source's cpp output (``c`` -> ``cpp-output``)."""
    return _PREPROCESSED[language]


def preprocessed_extension(language: str) -> str:
    """distcc's cpp-output extension: ``.i``, ``.ii``, ``.mi`` or ``.mii``."""
    return _EXTENSION[_PREPROCESSED[language]]


_PREPROCESSED = {
    Language.C: Language.C_PREPROCESSED,
    Language.CXX: Language.CXX_PREPROCESSED,
    Language.OBJC: Language.OBJC_PREPROCESSED,
    Language.OBJCXX: Language.OBJCXX_PREPROCESSED,
    Language.C_PREPROCESSED: Language.C_PREPROCESSED,
    Language.CXX_PREPROCESSED: Language.CXX_PREPROCESSED,
    Language.OBJC_PREPROCESSED: Language.OBJC_PREPROCESSED,
    Language.OBJCXX_PREPROCESSED: Language.OBJCXX_PREPROCESSED,
}
_EXTENSION = {
    Language.C_PREPROCESSED: ".i",
    Language.CXX_PREPROCESSED: ".ii",
    Language.OBJC_PREPROCESSED: ".mi",
    Language.OBJCXX_PREPROCESSED: ".mii",
}


class LocalReason:
    """Why a command must run locally.  Each value is a stable, countable name."""

    NOT_COMPILE = "not-compile"  # no -c / -S: link or other
    PREPROCESS_ONLY = "preprocess-only"  # -E, -M, -MM: distcc's EXIT_LOCAL_CPP
    NO_SOURCE = "no-source"
    MULTIPLE_SOURCES = "multiple-sources"
    LINK_OUTPUT = "link-output"  # a stray .o argument besides -o
    OUTPUT_TO_STDOUT = "output-to-stdout"  # -o -
    NATIVE_ARCH = "native-arch"  # -march=native, -mtune=native, -mcpu=native
    ASSEMBLER_LISTING = "assembler-listing"  # -Wa,-a... / -Wa,--MD
    PROFILING = "profiling"  # -fprofile-*, --coverage, -ftest-coverage, -frepo, ...
    UNSUPPORTED_LANGUAGE = "unsupported-language"  # -x assembler..., .s/.S sources
    DEBUG_DUMP = "debug-dump"  # -dr..., -fdump-*, -save-temps
    AUTOCONF = "autoconf"  # conftest.* sources
    RESPONSE_FILE = "response-file"  # @file that cannot be read or is recursive
    BAD_ARGUMENTS = "bad-arguments"  # an option missing its argument, and the like
    MODULES = "modules"  # C++20 modules (-fmodules-ts, -fmodule-*)
    DEPENDENCY_SIDE_EFFECT = "dependency-side-effect"  # options with other outputs we cannot ship
    PLUGIN = "plugin"  # -fplugin=, -specs=: the server would refuse them
    UNKNOWN_INPUT = "unknown-input"  # a file argument that is not a known source kind
    PRECOMPILED_HEADER = "precompiled-header"  # header "sources" (.gch output), -include-pch


class OptionSpec(Value):
    """One entry of the option table (``common.compiler.options.OPTIONS``)."""

    __slots__ = ("spelling", "shape", "meaning", "local_reason", "clang_only")
    spelling: str  # e.g. "-I", "--sysroot=", "-MD"
    shape: str  # a Shape constant
    meaning: str  # a Meaning constant
    local_reason: str | None  # a LocalReason, for Meaning.LOCAL_ONLY / REFUSED_BY_SERVER
    clang_only: bool

    def __init__(
        self,
        spelling: str,
        shape: str,
        meaning: str,
        local_reason: str | None = None,
        clang_only: bool = False,
    ) -> None:
        # Not ``_init(**fields)``: ~260 entries are built at every client start.
        setattr = object.__setattr__
        setattr(self, "spelling", spelling)
        setattr(self, "shape", shape)
        setattr(self, "meaning", meaning)
        setattr(self, "local_reason", local_reason)
        setattr(self, "clang_only", clang_only)


class ParsedOption(Value):
    """One option as it appeared in the normalised argv."""

    __slots__ = ("spec", "value", "index", "words", "spelled")
    spec: OptionSpec
    value: str | None  # the argument, if the option takes one
    index: int  # position of the option word in CompileJob.argv
    words: int  # 1 if joined or a flag, 2 if the argument was the next word
    spelled: str  # the option word exactly as written (e.g. "-I/usr/x" or "-I")

    def __init__(
        self, spec: OptionSpec, value: str | None, index: int, words: int, spelled: str
    ) -> None:
        self._init(spec=spec, value=value, index=index, words=words, spelled=spelled)


class DepInfo(Value):
    """A .d file the compile must produce (-MD/-MMD/-MF/-MT/-MQ, DEPENDENCIES_OUTPUT).

    ``path`` and ``targets`` are what the real compiler would write for the user's command
    (checked against gcc and clang).  The normalised argv does not always say so by itself
    (gcc gives ``-Wp,-MD,f`` cpp's default target, but ``-MD -MF f`` the ``-o`` name), so
    whoever runs a compiler for this job on other terms (``-E``, a temp output, a server)
    passes ``-MF path`` and, unless ``user_targets``, ``-MT t`` for each target (already
    make-quoted, hence ``-MT`` and not ``-MQ``).
    """

    __slots__ = ("path", "targets", "user_targets", "system_headers", "phony_targets", "append")
    path: str  # where the .d file goes, as the compiler would name it
    targets: tuple[str, ...]  # -MT/-MQ targets in order (MQ already quoted), or the default
    user_targets: bool  # True if -MT/-MQ (or DEPENDENCIES_OUTPUT's target) set them
    system_headers: bool  # -MD (True) or -MMD (False)
    phony_targets: bool  # -MP
    # True when the .d comes from DEPENDENCIES_OUTPUT / SUNPRO_DEPENDENCIES (gcc only): the
    # compiler then *appends* to the file instead of replacing it.
    append: bool

    def __init__(
        self,
        path: str,
        targets: tuple[str, ...],
        user_targets: bool,
        system_headers: bool,
        phony_targets: bool,
        append: bool = False,
    ) -> None:
        self._init(
            path=path,
            targets=targets,
            user_targets=user_targets,
            system_headers=system_headers,
            phony_targets=phony_targets,
            append=append,
        )


class CompileJob(Value):
    """A command that compiles one source file and may run remotely."""

    __slots__ = (
        "argv",
        "compiler",
        "source",
        "source_index",
        "language",
        "explicit_language",
        "output",
        "output_index",
        "output_implied",
        "mode",
        "options",
        "dep",
        "dwo",
    )
    argv: tuple[str, ...]  # normalised argv (see module docstring)
    compiler: str  # argv[0]
    source: str  # the source file as written
    source_index: int  # its index in argv
    language: str  # a Language constant, from -x or the extension
    explicit_language: bool  # True if -x gave it (so a server must keep -x)
    output: str  # the object (or .s with -S) as written or implied
    output_index: int  # index in argv of the output word (the path itself, or joined -oX)
    output_implied: bool  # True if -o was appended by classify
    mode: str  # "-c" or "-S" (-S beats -c)
    options: tuple[ParsedOption, ...]
    dep: DepInfo | None
    dwo: str | None  # the .dwo file written beside the object by -gsplit-dwarf

    def __init__(
        self,
        *,
        argv: tuple[str, ...],
        source: str,
        source_index: int,
        language: str,
        explicit_language: bool,
        output: str,
        output_index: int,
        output_implied: bool,
        mode: str,
        options: tuple[ParsedOption, ...],
        dep: DepInfo | None,
        dwo: str | None,
    ) -> None:
        self._init(
            argv=argv,
            compiler=argv[0],
            source=source,
            source_index=source_index,
            language=language,
            explicit_language=explicit_language,
            output=output,
            output_index=output_index,
            output_implied=output_implied,
            mode=mode,
            options=options,
            dep=dep,
            dwo=dwo,
        )

    @property
    def preprocessed(self) -> bool:
        return is_preprocessed_language(self.language)

    def outputs(self) -> tuple[str, ...]:
        """Every file the compile writes: object, then .d and .dwo if any."""
        out = [self.output]
        if self.dep is not None:
            out.append(self.dep.path)
        if self.dwo is not None:
            out.append(self.dwo)
        return tuple(out)


class RunLocally(Value):
    """The command must run on this machine; ``reason`` is countable, ``detail`` readable."""

    __slots__ = ("reason", "detail")
    reason: str  # a LocalReason constant
    detail: str

    def __init__(self, reason: str, detail: str) -> None:
        self._init(reason=reason, detail=detail)
