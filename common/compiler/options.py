"""The one table of gcc/clang options that matter for distribution, and its lookup.

Purpose: every layer (client, daemon, include server) learns what a word of a compiler
command line means from ``OPTIONS`` and ``lookup``; nobody else matches option spellings.

Invariants (checked by tests/common/compiler/test_options.py):
- ``OPTIONS`` is sorted by spelling, has no duplicate spelling, and every entry is
  consistent: an ``EQUALS``/``EQUALS_OR_SEPARATE`` spelling ends with ``=`` and no other
  shape's does (except flags that spell a value, such as ``-march=native``); an entry has a
  ``local_reason`` exactly when its meaning sends the job local (``LOCAL_ONLY``,
  ``REFUSED_BY_SERVER``, ``PREPROCESS_ONLY``, ``DEP_ONLY``).
- ``lookup(word)`` tries an exact match first, then the longest spelling that is a prefix
  of the word among the entries whose shape allows a joined argument.  So ``-undef`` is
  never read as ``-U ndef``, ``-MD`` never as ``-M``, ``-include`` never as ``-I nclude``,
  and ``-iwithprefixbeforeX`` is ``-iwithprefixbefore X``.

Vocabulary:
- *spelling*: the fixed text of an option (``-I``, ``--sysroot=``, ``-MD``).
- *shape*: how it takes its argument (``Shape`` in ``job``): a flag takes none, a
  separate option takes the next word, a joined one takes the rest of its word, an equals
  one is spelled with its ``=``; "either" shapes accept both.
- A *prefix family* is a ``JOINED`` entry used only to recognise a group of spellings
  (``-fdump-``, ``-fprofile-generate``): its "argument" is the rest of the word.

Options not in the table are kept by ``classify`` as flags: they never swallow the next
word and never make a job local.  So every option that takes a *separate* argument must
be listed here, or its argument would be taken for an input file.  Options with several
separate arguments (Darwin's ``-sectcreate``, ``-segprot``...) are not modelled: their
arguments then look like unknown inputs and the job runs locally.

This module is on the client's hot path: no dataclasses/enum/typing/re imports.
"""

from __future__ import annotations

from common.compiler.job import LocalReason, Meaning, OptionSpec, Shape

_F = Shape.FLAG
_S = Shape.SEPARATE
_J = Shape.JOINED
_JS = Shape.JOINED_OR_SEPARATE
_E = Shape.EQUALS
_ES = Shape.EQUALS_OR_SEPARATE
_M = Meaning
_R = LocalReason


def _o(
    spelling: str, shape: str, meaning: str, reason: str | None = None, clang: bool = False
) -> OptionSpec:
    return OptionSpec(spelling, shape, meaning, reason, clang)


def _local(spelling: str, shape: str, reason: str, clang: bool = False) -> OptionSpec:
    return OptionSpec(spelling, shape, Meaning.LOCAL_ONLY, reason, clang)


def _refused(spelling: str, shape: str, clang: bool = False) -> OptionSpec:
    return OptionSpec(spelling, shape, Meaning.REFUSED_BY_SERVER, LocalReason.PLUGIN, clang)


# fmt: off
OPTIONS: tuple[OptionSpec, ...] = (
    _local("-###", _F, _R.NOT_COMPILE),  # prints the commands, runs nothing
    _o("--all-warnings", _F, _M.OTHER),
    _local("--analyze", _F, _R.NOT_COMPILE, clang=True),  # writes a .plist, no object
    _o("--analyzer-output", _S, _M.OTHER, clang=True),
    _o("--assemble", _F, _M.ASSEMBLY_ONLY),  # gcc's long -S
    _o("--assert=", _ES, _M.ASSERTION),
    _o("--compile", _F, _M.COMPILE_ONLY),  # gcc's long -c
    _local("--config=", _ES, _R.UNKNOWN_INPUT, clang=True),  # reads a file the server lacks
    _local("--coverage", _F, _R.PROFILING),
    _o("--define-macro=", _ES, _M.DEFINE),
    _o("--dependencies", _F, _M.DEP_ONLY, _R.PREPROCESS_ONLY),  # -M
    _o("--dump=", _ES, _M.OTHER),  # -d LETTERS
    _o("--dumpbase-ext=", _ES, _M.AUX_NAME),
    _o("--dumpbase=", _ES, _M.AUX_NAME),
    _o("--dumpdir=", _ES, _M.AUX_NAME),
    _o("--entry=", _ES, _M.LINKER),
    _o("--for-linker=", _ES, _M.LINKER),
    _o("--force-link=", _ES, _M.LINKER),
    _o("--gcc-toolchain=", _E, _M.TOOLCHAIN, clang=True),
    _local("--help", _F, _R.NOT_COMPILE),
    _local("--help=", _E, _R.NOT_COMPILE),
    _o("--imacros=", _ES, _M.IMACROS_FILE),
    _o("--include-barrier", _F, _M.SPLIT_INCLUDE),  # -I-
    _o("--include-directory-after=", _ES, _M.AFTER_DIR),
    _o("--include-directory=", _ES, _M.INCLUDE_DIR),
    _o("--include-prefix=", _ES, _M.PREFIX),
    _o("--include-with-prefix-after=", _ES, _M.WITH_PREFIX),
    _o("--include-with-prefix-before=", _ES, _M.WITH_PREFIX_BEFORE),
    _o("--include-with-prefix=", _ES, _M.WITH_PREFIX),
    _o("--include=", _ES, _M.INCLUDE_FILE),
    _o("--language=", _ES, _M.LANGUAGE),
    _o("--library-directory=", _ES, _M.LINKER),
    _o("--no-standard-includes", _F, _M.NO_STD_INC),
    _local("--output-pch=", _ES, _R.PRECOMPILED_HEADER),
    _o("--output=", _ES, _M.OUTPUT),
    _o("--param", _S, _M.OTHER),
    _o("--param=", _E, _M.OTHER),
    _local("--precompile", _F, _R.MODULES, clang=True),
    _o("--prefix=", _ES, _M.TOOLCHAIN),  # -B
    _o("--preprocess", _F, _M.PREPROCESS_ONLY, _R.PREPROCESS_ONLY),  # -E
    _local("--print-", _J, _R.NOT_COMPILE),
    _o("--print-missing-file-dependencies", _F, _M.DEP_MISSING_OK),  # -MG
    _local("--save-temps", _F, _R.DEBUG_DUMP),
    _refused("--specs", _S),
    _refused("--specs=", _E),
    _o("--sysroot", _S, _M.SYSROOT),
    _o("--sysroot=", _E, _M.SYSROOT),
    _o("--target", _S, _M.TARGET),
    _local("--target-help", _F, _R.NOT_COMPILE),
    _o("--target=", _E, _M.TARGET),
    _o("--undefine-macro=", _ES, _M.UNDEFINE),
    _o("--user-dependencies", _F, _M.DEP_ONLY, _R.PREPROCESS_ONLY),  # -MM
    _local("--version", _F, _R.NOT_COMPILE),
    _o("--write-dependencies", _F, _M.DEP_MD),  # -MD
    _o("--write-user-dependencies", _F, _M.DEP_MMD),  # -MMD
    _o("-A", _JS, _M.ASSERTION),
    _o("-B", _JS, _M.TOOLCHAIN),
    _o("-D", _JS, _M.DEFINE),
    _o("-E", _F, _M.PREPROCESS_ONLY, _R.PREPROCESS_ONLY),
    _o("-F", _JS, _M.FRAMEWORK_DIR),
    _o("-G", _JS, _M.OTHER),
    _o("-I", _JS, _M.INCLUDE_DIR),
    _o("-I-", _F, _M.SPLIT_INCLUDE),
    _o("-J", _JS, _M.OTHER),  # Fortran module directory
    _o("-L", _JS, _M.LINKER),
    # -M alone, and any -M<letters> not listed below (distcc: "-M(anything else)" implies -E).
    _o("-M", _J, _M.DEP_ONLY, _R.PREPROCESS_ONLY),
    _o("-MD", _F, _M.DEP_MD),
    _o("-MF", _JS, _M.DEP_FILE),
    _o("-MG", _F, _M.DEP_MISSING_OK),
    _local("-MJ", _JS, _R.DEPENDENCY_SIDE_EFFECT, clang=True),  # compilation-database entry
    _o("-MM", _F, _M.DEP_ONLY, _R.PREPROCESS_ONLY),
    _o("-MMD", _F, _M.DEP_MMD),
    _o("-MP", _F, _M.DEP_PHONY),
    _o("-MQ", _JS, _M.DEP_TARGET_QUOTED),
    _o("-MT", _JS, _M.DEP_TARGET),
    _local("-MV", _F, _R.DEPENDENCY_SIDE_EFFECT, clang=True),  # NMake-style .d
    _o("-S", _F, _M.ASSEMBLY_ONLY),
    _o("-T", _JS, _M.LINKER),
    _o("-Tbss", _S, _M.LINKER),
    _o("-Tdata", _S, _M.LINKER),
    _o("-Ttext", _S, _M.LINKER),
    _o("-U", _JS, _M.UNDEFINE),
    _o("-Wa,", _J, _M.ASSEMBLER_PASSTHROUGH),
    _o("-Wl,", _J, _M.LINKER),
    _o("-Wp,", _J, _M.PREPROCESSOR_PASSTHROUGH),
    _o("-Xanalyzer", _S, _M.OTHER, clang=True),
    _o("-Xarch_device", _S, _M.COMPILER_PASSTHROUGH, clang=True),
    _o("-Xarch_host", _S, _M.COMPILER_PASSTHROUGH, clang=True),
    _o("-Xassembler", _S, _M.ASSEMBLER_PASSTHROUGH),
    _o("-Xclang", _S, _M.COMPILER_PASSTHROUGH, clang=True),
    _o("-Xcuda-fatbinary", _S, _M.OTHER, clang=True),
    _o("-Xcuda-ptxas", _S, _M.OTHER, clang=True),
    _o("-Xlinker", _S, _M.LINKER),
    _o("-Xopenmp-target", _S, _M.OTHER, clang=True),
    _o("-Xpreprocessor", _S, _M.PREPROCESSOR_PASSTHROUGH),
    _o("-allowable_client", _S, _M.LINKER),
    _o("-arch", _S, _M.TARGET),
    _o("-arch_only", _S, _M.LINKER),
    _o("-arcmt-migrate-report-output", _S, _M.OTHER, clang=True),
    _local("-aux-info", _S, _R.DEPENDENCY_SIDE_EFFECT),
    _o("-b", _S, _M.TARGET),  # obsolete gcc "-b MACHINE"; clang still parses it
    _o("-bundle_loader", _S, _M.LINKER),
    _o("-c", _F, _M.COMPILE_ONLY),
    _o("-ccc-arcmt-migrate", _S, _M.OTHER, clang=True),
    _o("-ccc-gcc-name", _S, _M.OTHER, clang=True),
    _o("-ccc-install-dir", _S, _M.TOOLCHAIN, clang=True),
    _o("-ccc-objcmt-migrate", _S, _M.OTHER, clang=True),
    _local("-coverage", _F, _R.PROFILING, clang=True),
    _o("-current_version", _S, _M.LINKER),
    _o("-cxx-isystem", _JS, _M.SYSTEM_DIR, clang=True),
    # -d<letters>: with -E they select macro dumps, otherwise RTL dumps (-dp only annotates).
    _o("-d", _J, _M.OTHER),
    _local("-da", _F, _R.DEBUG_DUMP),
    _local("-dependency-dot", _S, _R.DEPENDENCY_SIDE_EFFECT, clang=True),
    _local("-dependency-file", _S, _R.DEPENDENCY_SIDE_EFFECT, clang=True),
    _local("-dr", _J, _R.DEBUG_DUMP),  # distcc: "-dr" writes RTL to a local file
    _o("-dsym-dir", _S, _M.LINKER, clang=True),
    _o("-dumpbase", _S, _M.AUX_NAME),
    _o("-dumpbase-ext", _S, _M.AUX_NAME),
    _o("-dumpdir", _S, _M.AUX_NAME),
    _local("-dumpfullversion", _F, _R.NOT_COMPILE),
    _local("-dumpmachine", _F, _R.NOT_COMPILE),
    _local("-dumpspecs", _F, _R.NOT_COMPILE),
    _local("-dumpversion", _F, _R.NOT_COMPILE),
    _o("-dylib_file", _S, _M.LINKER),
    _o("-dylinker_install_name", _S, _M.LINKER),
    _o("-e", _JS, _M.LINKER),
    _o("-emit-llvm", _F, _M.EMIT_LLVM, clang=True),
    _o("-exported_symbols_list", _S, _M.LINKER),
    _local("-fauto-profile", _J, _R.PROFILING),
    _local("-fbranch-probabilities", _F, _R.PROFILING),
    _local("-fcallgraph-info", _J, _R.DEBUG_DUMP),
    _o("-fcoverage-prefix-map=", _E, _M.PREFIX_MAP, clang=True),
    _local("-fcreate-profile", _F, _R.PROFILING),
    _local("-fcs-profile-generate", _J, _R.PROFILING, clang=True),
    _local("-fcxx-modules", _F, _R.MODULES, clang=True),
    _o("-fdebug-compilation-dir=", _ES, _M.PREFIX_MAP, clang=True),
    _o("-fdebug-prefix-map=", _E, _M.PREFIX_MAP),
    _local("-fdeps-", _J, _R.MODULES),  # P1689 module dependency files
    _local("-fdump-", _J, _R.DEBUG_DUMP),
    _o("-ffile-compilation-dir=", _E, _M.PREFIX_MAP, clang=True),
    _o("-ffile-prefix-map=", _E, _M.PREFIX_MAP),
    _o("-fintrinsic-modules-path", _JS, _M.OTHER),  # Fortran
    _o("-flto", _F, _M.OTHER),  # distributable: we follow distcc HEAD, not 3.4
    _o("-flto=", _E, _M.OTHER),
    _o("-fmacro-prefix-map=", _E, _M.PREFIX_MAP),
    _local("-fmodule-", _J, _R.MODULES),  # -fmodule-file=, -fmodule-mapper=, -fmodule-header...
    _local("-fmodules", _F, _R.MODULES, clang=True),
    _local("-fmodules-", _J, _R.MODULES, clang=True),  # -fmodules-cache-path=, ...
    _local("-fmodules-ts", _F, _R.MODULES),
    _local("-fmodules-user-build-path", _S, _R.MODULES, clang=True),
    _local("-foptimization-record-file=", _E, _R.DEPENDENCY_SIDE_EFFECT, clang=True),
    _refused("-fpass-plugin=", _E, clang=True),
    _refused("-fplugin-arg-", _J),
    _refused("-fplugin=", _E),
    _local("-fprebuilt-module-path=", _E, _R.MODULES, clang=True),
    _local("-fprofile-arcs", _F, _R.PROFILING),
    _local("-fprofile-correction", _F, _R.PROFILING),
    _local("-fprofile-generate", _J, _R.PROFILING),  # also -fprofile-generate=DIR
    _local("-fprofile-instr-generate", _J, _R.PROFILING, clang=True),
    _local("-fprofile-instr-use", _J, _R.PROFILING, clang=True),
    _local("-fprofile-note=", _E, _R.PROFILING),
    _o("-fprofile-prefix-map=", _E, _M.PREFIX_MAP),
    _local("-fprofile-sample-use=", _E, _R.PROFILING, clang=True),
    _local("-fprofile-use", _J, _R.PROFILING),  # also -fprofile-use=PATH
    _local("-fprofile-values", _F, _R.PROFILING),
    _o("-framework", _S, _M.LINKER),
    _local("-frepo", _F, _R.PROFILING),  # writes .rpo files
    _local("-fsanitize-blacklist=", _E, _R.UNKNOWN_INPUT, clang=True),  # a file the server lacks
    _local("-fsanitize-ignorelist=", _E, _R.UNKNOWN_INPUT, clang=True),
    _local("-fsave-optimization-record", _J, _R.DEPENDENCY_SIDE_EFFECT, clang=True),
    _local("-fstack-usage", _F, _R.DEPENDENCY_SIDE_EFFECT),  # writes a .su file
    _local("-fsyntax-only", _F, _R.NOT_COMPILE),  # no object is written
    _local("-ftest-coverage", _F, _R.PROFILING),
    _local("-ftime-trace", _F, _R.DEPENDENCY_SIDE_EFFECT, clang=True),
    _local("-ftime-trace=", _E, _R.DEPENDENCY_SIDE_EFFECT, clang=True),
    # -g<level or format>; the exact spellings below win over this family.
    _o("-g", _J, _M.DEBUG_INFO),
    _o("-gcc-toolchain", _S, _M.TOOLCHAIN, clang=True),
    _local("-gen-cdb-fragment-path", _S, _R.DEPENDENCY_SIDE_EFFECT, clang=True),
    _o("-gno-split-dwarf", _F, _M.SPLIT_DWARF),
    _o("-gsplit-dwarf", _F, _M.SPLIT_DWARF),
    _o("-gsplit-dwarf=", _E, _M.SPLIT_DWARF, clang=True),
    _o("-iafter", _JS, _M.AFTER_DIR, clang=True),
    _o("-idirafter", _JS, _M.AFTER_DIR),
    _o("-iframework", _JS, _M.FRAMEWORK_DIR, clang=True),
    _o("-iframeworkwithsysroot", _JS, _M.FRAMEWORK_DIR, clang=True),
    _o("-imacros", _JS, _M.IMACROS_FILE),
    _o("-image_base", _S, _M.LINKER),
    _o("-imultiarch", _JS, _M.MULTILIB),
    _o("-imultilib", _JS, _M.MULTILIB),
    _o("-include", _JS, _M.INCLUDE_FILE),
    _local("-include-pch", _S, _R.PRECOMPILED_HEADER, clang=True),
    _o("-init", _S, _M.LINKER),
    _o("-install_name", _S, _M.LINKER),
    _o("-iplugindir=", _E, _M.OTHER),
    _o("-iprefix", _JS, _M.PREFIX),
    _o("-iquote", _JS, _M.QUOTE_DIR),
    _o("-isysroot", _JS, _M.SYSROOT),
    _o("-isystem", _JS, _M.SYSTEM_DIR),
    _o("-isystem-after", _JS, _M.AFTER_DIR, clang=True),
    _o("-ivfsoverlay", _JS, _M.OTHER, clang=True),
    _o("-iwithprefix", _JS, _M.WITH_PREFIX),
    _o("-iwithprefixbefore", _JS, _M.WITH_PREFIX_BEFORE),
    _o("-iwithsysroot", _JS, _M.SYSTEM_DIR, clang=True),
    _o("-l", _JS, _M.LINKER),
    _o("-m16", _F, _M.TARGET),
    _o("-m32", _F, _M.TARGET),
    _o("-m64", _F, _M.TARGET),
    _local("-march=native", _F, _R.NATIVE_ARCH),
    _local("-mcpu=native", _F, _R.NATIVE_ARCH),
    _o("-meabi", _S, _M.OTHER, clang=True),
    _o("-mllvm", _S, _M.COMPILER_PASSTHROUGH, clang=True),
    _local("-module-dependency-dir", _S, _R.DEPENDENCY_SIDE_EFFECT, clang=True),
    _o("-mthread-model", _S, _M.OTHER, clang=True),
    _local("-mtune=native", _F, _R.NATIVE_ARCH),
    _o("-multiply_defined", _S, _M.LINKER),
    _o("-mx32", _F, _M.TARGET),
    _o("-nobuiltininc", _F, _M.NO_BUILTIN_INC, clang=True),
    _o("-nostdinc", _F, _M.NO_STD_INC),
    _o("-nostdinc++", _F, _M.NO_STD_INC_CXX),
    _o("-nostdlibinc", _F, _M.NO_STD_LIB_INC, clang=True),
    _o("-o", _JS, _M.OUTPUT),
    _o("-pagezero_size", _S, _M.LINKER),
    _local("-print-", _J, _R.NOT_COMPILE),  # -print-file-name=, -print-search-dirs, ...
    _o("-read_only_relocs", _S, _M.LINKER),
    _o("-resource-dir", _S, _M.TOOLCHAIN, clang=True),
    _o("-resource-dir=", _E, _M.TOOLCHAIN, clang=True),
    _local("-save-stats", _J, _R.DEBUG_DUMP, clang=True),
    _local("-save-temps", _F, _R.DEBUG_DUMP),
    _local("-save-temps=", _E, _R.DEBUG_DUMP),
    _o("-seg1addr", _S, _M.LINKER),
    _o("-seg_addr_table", _S, _M.LINKER),
    _o("-seg_addr_table_filename", _S, _M.LINKER),
    _local("-serialize-diagnostics", _S, _R.DEPENDENCY_SIDE_EFFECT, clang=True),
    _refused("-specs", _S),
    _refused("-specs=", _E),
    _o("-stdlib++-isystem", _JS, _M.SYSTEM_DIR, clang=True),
    _o("-stdlib=", _E, _M.STDLIB),
    _o("-sub_library", _S, _M.LINKER),
    _o("-sub_umbrella", _S, _M.LINKER),
    _o("-target", _S, _M.TARGET, clang=True),
    _o("-u", _JS, _M.LINKER),
    _o("-umbrella", _S, _M.LINKER),
    _o("-undef", _F, _M.PREPROCESSOR_ONLY_FLAG),
    _o("-unexported_symbols_list", _S, _M.LINKER),
    _o("-weak_reference_mismatches", _S, _M.LINKER),
    _o("-working-directory=", _ES, _M.OTHER, clang=True),
    _refused("-wrapper", _S),  # runs another program around the compiler
    _o("-x", _JS, _M.LANGUAGE),
    _o("-z", _JS, _M.LINKER),
)
# fmt: on

_JOINABLE = (Shape.JOINED, Shape.JOINED_OR_SEPARATE, Shape.EQUALS, Shape.EQUALS_OR_SEPARATE)

# Exact spelling -> entry.  An EQUALS_OR_SEPARATE entry is also found by its separate form
# ("--sysroot" for "--sysroot="), unless that form has an entry of its own.
_EXACT: dict[str, OptionSpec] = {}
# Prefix entries grouped by their first two characters, longest spelling first.
_PREFIXES: dict[str, list[OptionSpec]] = {}


def _build() -> None:
    for spec in OPTIONS:
        _EXACT[spec.spelling] = spec
        if spec.shape in _JOINABLE:
            _PREFIXES.setdefault(spec.spelling[:2], []).append(spec)
    for spec in OPTIONS:
        if spec.shape == Shape.EQUALS_OR_SEPARATE:
            _EXACT.setdefault(spec.spelling[:-1], spec)
    for group in _PREFIXES.values():
        group.sort(key=lambda s: -len(s.spelling))


_build()


def lookup(word: str) -> OptionSpec | None:
    """The table entry for an option word, or None if the word is no known option.

    Exact match first, then the longest spelling with a joined shape that prefixes the
    word.  The caller decides from the entry's shape whether the argument is the rest of
    the word or the next word (``split``).
    """
    spec = _EXACT.get(word)
    if spec is not None:
        return spec
    for spec in _PREFIXES.get(word[:2], ()):
        if word.startswith(spec.spelling):
            return spec
    return None


def split(spec: OptionSpec, word: str) -> tuple[str | None, bool]:
    """``(joined_value, needs_next_word)`` for ``word`` matched by ``spec``.

    ``joined_value`` is the argument carried in the word itself (None if there is none);
    ``needs_next_word`` says the argument is the following word.
    """
    shape = spec.shape
    if shape == Shape.FLAG:
        return None, False
    spelling = spec.spelling
    if shape == Shape.SEPARATE:
        return None, True
    if shape == Shape.JOINED:
        return word[len(spelling) :], False
    if shape == Shape.JOINED_OR_SEPARATE:
        if word == spelling:
            return None, True
        return word[len(spelling) :], False
    if shape == Shape.EQUALS:
        return word[len(spelling) :], False
    # EQUALS_OR_SEPARATE: "--sysroot=DIR" or "--sysroot DIR"
    if word == spelling[:-1]:
        return None, True
    return word[len(spelling) :], False
