"""The option table is sorted, without duplicates and consistent; lookup prefers exact
matches, then the longest joined spelling."""

from __future__ import annotations

import shlex
import shutil

import pytest

from common.compiler.job import LocalReason, Meaning, Shape
from common.compiler.options import OPTIONS, lookup, split

_LOCAL_MEANINGS = {
    Meaning.LOCAL_ONLY,
    Meaning.REFUSED_BY_SERVER,
    Meaning.PREPROCESS_ONLY,
    Meaning.DEP_ONLY,
}
_ALL_MEANINGS = {v for k, v in vars(Meaning).items() if k.isupper()}
_ALL_REASONS = {v for k, v in vars(LocalReason).items() if k.isupper()}
_ALL_SHAPES = {v for k, v in vars(Shape).items() if k.isupper()}


def test_table_is_sorted_without_duplicates() -> None:
    spellings = [o.spelling for o in OPTIONS]
    assert spellings == sorted(spellings)
    assert len(set(spellings)) == len(spellings)


@pytest.mark.parametrize("spec", OPTIONS, ids=lambda s: s.spelling)
def test_entry_is_consistent(spec: object) -> None:
    from common.compiler.job import OptionSpec

    assert isinstance(spec, OptionSpec)
    assert spec.spelling.startswith("-")
    assert spec.shape in _ALL_SHAPES
    assert spec.meaning in _ALL_MEANINGS
    if spec.shape in (Shape.EQUALS, Shape.EQUALS_OR_SEPARATE):
        assert spec.spelling.endswith("=")
    elif spec.shape != Shape.FLAG:
        assert not spec.spelling.endswith("=")
    if spec.meaning in _LOCAL_MEANINGS:
        assert spec.local_reason in _ALL_REASONS
    else:
        assert spec.local_reason is None
    if spec.meaning == Meaning.REFUSED_BY_SERVER:
        assert spec.local_reason == LocalReason.PLUGIN
    # Every entry is found by its own spelling.
    assert lookup(spec.spelling) is spec or (
        spec.shape == Shape.EQUALS_OR_SEPARATE and lookup(spec.spelling[:-1]) is spec
    )


# The options the brief names as taking an argument: each must be known with a shape
# that can take the next word, so its argument is never mistaken for an input file.
SEPARATE_ARGS = shlex.split(
    "-o -x -I -D -U -include -imacros -iquote -isystem -idirafter -iprefix -iwithprefix "
    "-iwithprefixbefore -isysroot --sysroot -MF -MT -MQ -Xpreprocessor -Xassembler -Xlinker "
    "-Xclang -target --target -arch -aux-info -G -L -l -u -T -z -e -B -specs -wrapper "
    "-imultilib --param -framework -F -dumpbase -dumpdir -dumpbase-ext"
)


@pytest.mark.parametrize("word", SEPARATE_ARGS)
def test_options_with_separate_argument_are_known(word: str) -> None:
    spec = lookup(word)
    assert spec is not None, word
    assert split(spec, word) == (None, True)


# (word, spelling of the entry found, joined value)
LOOKUPS = [
    ("-undef", "-undef", None),
    ("-Ufoo", "-U", "foo"),
    ("-MD", "-MD", None),
    ("-MMD", "-MMD", None),
    ("-ME", "-M", "E"),
    ("-MFdeps.d", "-MF", "deps.d"),
    ("-MTtarget", "-MT", "target"),
    ("-MQ$x", "-MQ", "$x"),
    ("-include", "-include", None),
    ("-includeconfig.h", "-include", "config.h"),
    ("-imacrosm.h", "-imacros", "m.h"),
    ("-Iinclude", "-I", "include"),
    ("-I-", "-I-", None),
    ("-iquote.", "-iquote", "."),
    ("-isystem/usr/x", "-isystem", "/usr/x"),
    ("-isysroot/sdk", "-isysroot", "/sdk"),
    ("-iwithprefixX", "-iwithprefix", "X"),
    ("-iwithprefixbeforeX", "-iwithprefixbefore", "X"),
    ("-march=native", "-march=native", None),
    ("-mtune=native", "-mtune=native", None),
    ("-mcpu=native", "-mcpu=native", None),
    ("--sysroot=/r", "--sysroot=", "/r"),
    ("-gsplit-dwarf", "-gsplit-dwarf", None),
    ("-gsplit-dwarf=single", "-gsplit-dwarf=", "single"),
    ("-g3", "-g", "3"),
    ("-gcc-toolchain", "-gcc-toolchain", None),
    ("-xc++", "-x", "c++"),
    ("-ofoo.o", "-o", "foo.o"),
    ("-Wl,-rpath,x", "-Wl,", "-rpath,x"),
    ("-Wp,-MD,x.d", "-Wp,", "-MD,x.d"),
    ("-Wa,-alh", "-Wa,", "-alh"),
    ("-fplugin=foo.so", "-fplugin=", "foo.so"),
    ("-fplugin-arg-foo-bar=1", "-fplugin-arg-", "foo-bar=1"),
    ("-specs=x.specs", "-specs=", "x.specs"),
    ("-fdump-tree-all", "-fdump-", "tree-all"),
    ("-fprofile-generate=/tmp/p", "-fprofile-generate", "=/tmp/p"),
    ("-fprofile-use", "-fprofile-use", ""),
    ("-fmodules-ts", "-fmodules-ts", None),
    ("-fmodule-mapper=x", "-fmodule-", "mapper=x"),
    ("-dr", "-dr", ""),
    ("-dumpbase", "-dumpbase", None),
    ("-dumpbase-ext", "-dumpbase-ext", None),
    ("-dD", "-d", "D"),
    ("-emit-llvm", "-emit-llvm", None),
    ("-lm", "-l", "m"),
    ("-print-file-name=libc.a", "-print-", "file-name=libc.a"),
    ("--param=max-inline-insns=5", "--param=", "max-inline-insns=5"),
    ("--include-directory=inc", "--include-directory=", "inc"),
]


@pytest.mark.parametrize(("word", "spelling", "value"), LOOKUPS)
def test_lookup(word: str, spelling: str, value: str | None) -> None:
    spec = lookup(word)
    assert spec is not None
    assert spec.spelling == spelling
    got, _ = split(spec, word)
    assert got == value


@pytest.mark.parametrize("word", ["-Wall", "-O2", "-std=c11", "-march=x86-64", "-pthread", "-fPIC"])
def test_unknown_options_are_not_found(word: str) -> None:
    assert lookup(word) is None


# ------------------------------------------------------------------ against the compilers

# Listed as taking a separate argument by the compilers, but not at the driver level of a
# C-family compile (cc1-only forms, other front ends) or not modelled (see options.py).
NOT_DRIVER_SEPARATE = {
    "--write-dependencies",  # cc1's form takes the file; the driver's is a flag
    "--write-user-dependencies",
    "-MD",
    "-MMD",
    "-Hd",  # D
    "-Hf",
    "-Xf",
    "-gnatO",  # Ada
    "-Xopenmp-target=",  # "-Xopenmp-target=TRIPLE ARG": joined and separate at once
}


def _run(cmd: list[str]) -> str:
    import subprocess

    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout


def _gcc_separate() -> set[str]:
    """Options gcc lists under --help=separate (all of them can take the next word)."""
    import re

    names: set[str] = set()
    for q in ("separate", "separate,c", "separate,c++", "separate,common", "separate,target"):
        for line in _run(["gcc", f"--help={q}"]).splitlines():
            m = re.match(r"\s+(-[^\s<\[]+)", line)
            if m and not m.group(1).endswith("="):
                names.add(m.group(1))
    return names - NOT_DRIVER_SEPARATE


def _clang_separate() -> set[str]:
    """Options clang --help-hidden shows as "-name <arg>" (a separate argument)."""
    import re

    names: set[str] = set()
    for line in _run(["clang", "--help-hidden"]).splitlines():
        m = re.match(r"\s+(-[^\s<\[]+) <", line)
        if m and not m.group(1).endswith("="):
            names.add(m.group(1))
    return names - NOT_DRIVER_SEPARATE


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
def test_every_separate_option_the_compilers_list_is_known() -> None:
    gcc = _gcc_separate()
    clang = _clang_separate()
    assert {"-o", "-x", "-isystem"} <= gcc & clang  # the listings were understood
    unknown = []
    for word in sorted(gcc | clang):
        spec = lookup(word)
        if spec is None or not split(spec, word)[1]:
            unknown.append(word)
    assert unknown == []
