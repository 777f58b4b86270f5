"""classify(): distcc 3.4's golden tables, our own argv table, response files, -Wp, speed."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.compiler.classify import (
    classify,
    implicit_compiler,
    is_preprocessed,
    is_source,
    language_of,
    make_quote,
    parse_response_file,
)
from common.compiler.job import CompileJob, DepInfo, Language, LocalReason, RunLocally
from common.compiler.rewrite import local_cpp_argv, plain_server_argv, server_argv

R = LocalReason


def _job(cmd: str, env: dict[str, str] | None = None) -> CompileJob | RunLocally:
    return classify(implicit_compiler(shlex.split(cmd)), env)


# --------------------------------------------------------------------- distcc golden tables

# test/testdistcc.py ScanArgs_Case: (command, expected), expected being (source, output)
# for "distribute" or a LocalReason for "local".
SCAN_ARGS: list[tuple[str, tuple[str, str] | str]] = [
    ("gcc -c hello.c", ("hello.c", "hello.o")),
    ("gcc hello.c", R.NOT_COMPILE),
    ("gcc -o /tmp/hello.o -c ../src/hello.c", ("../src/hello.c", "/tmp/hello.o")),
    ("gcc -DMYNAME=quasibar.c bar.c -c -o bar.o", ("bar.c", "bar.o")),
    ("gcc -ohello.o -c hello.c", ("hello.c", "hello.o")),
    # Deliberate difference: distcc distributes this (it ignores "gcc", an unknown word).
    # gcc would take "gcc" for a linker input, and the server may well lack such a file.
    ("ccache gcc -c hello.c", R.UNKNOWN_INPUT),
    ("gcc hello.o", R.NOT_COMPILE),
    ("gcc -o hello.o hello.c", R.NOT_COMPILE),
    ("gcc -o hello.o -c hello.s", R.UNSUPPORTED_LANGUAGE),
    ("gcc -o hello.o -c hello.S", R.UNSUPPORTED_LANGUAGE),
    ("gcc -fprofile-arcs -ftest-coverage -c hello.c", R.PROFILING),
    ("gcc -S hello.c", ("hello.c", "hello.s")),
    ("gcc -c -S hello.c", ("hello.c", "hello.s")),
    ("gcc -S -c hello.c", ("hello.c", "hello.s")),
    ("gcc -M hello.c", R.PREPROCESS_ONLY),
    ("gcc -ME hello.c", R.PREPROCESS_ONLY),
    ("gcc -MD -c hello.c", ("hello.c", "hello.o")),
    ("gcc -MMD -c hello.c", ("hello.c", "hello.o")),
    ("gcc -S foo.c -o -", R.OUTPUT_TO_STDOUT),
    ("-S -o - foo.c", R.OUTPUT_TO_STDOUT),
    ("-c -S -o - foo.c", R.OUTPUT_TO_STDOUT),
    ("-S -c -o - foo.c", R.OUTPUT_TO_STDOUT),
    ("gcc -ofoo.o foo.c -c", ("foo.c", "foo.o")),
    ("gcc -ofoo foo.o", R.NOT_COMPILE),
    ("foo.c -o foo.o", R.NOT_COMPILE),
    ("foo.c -o foo.o -c", ("foo.c", "foo.o")),
    ("gcc -Wa,-alh,-a=foo.lst -c foo.c", R.ASSEMBLER_LISTING),
    ("gcc -Wa,--MD -c foo.c", R.ASSEMBLER_LISTING),
    ("gcc -Wa,-xarch=v8 -c foo.c", ("foo.c", "foo.o")),
    ("g++ -frepo foo.C", R.NOT_COMPILE),  # local as in distcc; counted as a link (no -c)
    ("gcc -xassembler-with-cpp -c foo.c", R.UNSUPPORTED_LANGUAGE),
    ("gcc -x assembler-with-cpp -c foo.c", R.UNSUPPORTED_LANGUAGE),
    ("gcc -specs=foo.specs -c foo.c", R.PLUGIN),
    ("gcc -dr -c foo.c", R.DEBUG_DUMP),
]
# ImplicitCompilerScan_Case: no compiler named, "cc" is inserted.
IMPLICIT_SCAN: list[tuple[str, tuple[str, str] | str]] = [
    ("-c hello.c", ("hello.c", "hello.o")),
    ("hello.c -c", ("hello.c", "hello.o")),
    ("-o hello.o -c hello.c", ("hello.c", "hello.o")),
]


@pytest.mark.parametrize(("cmd", "expected"), SCAN_ARGS + IMPLICIT_SCAN)
def test_distcc_scan_args(cmd: str, expected: tuple[str, str] | str) -> None:
    job = _job(cmd)
    if isinstance(expected, str):
        assert isinstance(job, RunLocally), job
        assert job.reason == expected
    else:
        assert isinstance(job, CompileJob), job
        assert (job.source, job.output) == expected


def test_implicit_compiler_inserts_cc_only_when_needed() -> None:
    assert implicit_compiler(["-c", "x.c"]) == ["cc", "-c", "x.c"]
    assert implicit_compiler(["x.c", "-c"]) == ["cc", "x.c", "-c"]
    assert implicit_compiler(["x.o"]) == ["cc", "x.o"]
    assert implicit_compiler(["gcc", "-c", "x.c"]) == ["gcc", "-c", "x.c"]


# IsSource_Case: (file, source?, preprocessed?)
IS_SOURCE = [
    ("hello.c", True, False),
    ("hello.cc", True, False),
    ("hello.cxx", True, False),
    ("hello.cpp", True, False),
    ("hello.c++", True, False),
    ("hello.m", True, False),
    ("hello.M", True, False),
    ("hello.mm", True, False),
    ("hello.mi", True, True),
    ("hello.mii", True, True),
    ("hello.2.4.4.i", True, True),
    (".foo", False, False),
    ("gcc", False, False),
    ("hello.ii", True, True),
    ("boot.s", False, False),
    ("boot.S", False, False),
]


@pytest.mark.parametrize(("name", "source", "preprocessed"), IS_SOURCE)
def test_distcc_is_source(name: str, source: bool, preprocessed: bool) -> None:
    assert is_source(name) is source
    assert is_preprocessed(name) is preprocessed


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("a.c", Language.C),
        ("dir.x/a.C", Language.CXX),
        ("a.cp", Language.CXX),
        ("a.i", Language.C_PREPROCESSED),
        ("a.ii", Language.CXX_PREPROCESSED),
        ("a.mi", Language.OBJC_PREPROCESSED),
        ("a.mii", Language.OBJCXX_PREPROCESSED),
        ("a.M", Language.OBJCXX),
        ("dir.c/a", None),
        ("a.h", None),
    ],
)
def test_language_of(name: str, language: str | None) -> None:
    assert language_of(name) == language


# DotD_Case (gcc): the .d path and targets our classify gives for "gcc -c ARGS".  distcc's
# own routine got the same file names; it named no target unless -MT/-MQ was given.  The
# differential tests below check each row against real gcc.
DOTD = [
    ("foo.c -o hello.o -MD", DepInfo("hello.d", ("hello.o",), False, True, False)),
    ("foo.c -o hello.. -MD", DepInfo("hello..d", ("hello..",), False, True, False)),
    ("foo.c -o hello.bar.foo -MD", DepInfo("hello.bar.d", ("hello.bar.foo",), False, True, False)),
    ("foo.c -o hello.o", None),
    ("foo.c -MD", DepInfo("foo.d", ("foo.o",), False, True, False)),
    ("foo.c -o hello. -MD", DepInfo("hello.d", ("hello.",), False, True, False)),
    ("foo.c -o hello. -MD -MT tootoo", DepInfo("hello.d", ("tootoo",), True, True, False)),
    ("foo.c -o hello.o -MD -MT tootoo", DepInfo("hello.d", ("tootoo",), True, True, False)),
    ("foo.c -o hello.o -MD -MF foobar", DepInfo("foobar", ("hello.o",), False, True, False)),
    ("foo.cpp -o hello.o", None),
    ("foo.cpp -o hello", None),
]


@pytest.mark.parametrize(("args", "dep"), DOTD)
def test_distcc_dotd(args: str, dep: DepInfo | None) -> None:
    job = _job("gcc -c " + args)
    assert isinstance(job, CompileJob)
    assert job.dep == dep


def test_distcc_dotd_dependencies_output() -> None:
    job = _job("gcc -c foo.c", {"DEPENDENCIES_OUTPUT": "xxx.d yyy"})
    assert isinstance(job, CompileJob)
    assert job.dep == DepInfo("xxx.d", ("yyy",), True, False, False, append=True)
    job = _job("gcc -c foo.c", {"DEPENDENCIES_OUTPUT": "zzz.d"})
    assert isinstance(job, CompileJob)
    assert job.dep == DepInfo("zzz.d", ("foo.o",), False, False, False, append=True)


# --------------------------------------------------------------------- our own argv table

# (command, expected): a LocalReason, or a dict of CompileJob fields to check.  Special
# keys: "dep" -> (path, targets, system_headers, phony) or None; "argv" -> normalised argv.
CASES: list[tuple[str, str | dict[str, object]]] = [
    # compile mode and implied output
    ("gcc -c a.c", {"mode": "-c", "output": "a.o", "output_implied": True}),
    ("gcc -c src/a.c", {"output": "a.o", "argv": "gcc -c src/a.c -o a.o"}),
    ("gcc -S src/a.c", {"mode": "-S", "output": "a.s"}),
    ("gcc -c -S a.c -o x.s", {"mode": "-S", "output": "x.s", "output_implied": False}),
    ("gcc -c a.c -oout/a.o", {"output": "out/a.o", "output_index": 3}),
    ("gcc -c a.c -o out/a.o", {"output": "out/a.o", "output_index": 4}),
    ("gcc -c a.c --output=x.o", {"output": "x.o", "output_index": 3}),
    ("gcc --compile a.c -o x.o", {"mode": "-c"}),
    ("gcc --assemble a.c", {"mode": "-S", "output": "a.s"}),
    ("gcc -c a.2.4.c", {"output": "a.2.4.o"}),
    ("clang -c -emit-llvm a.c", {"output": "a.bc"}),
    ("clang -S -emit-llvm a.c", {"output": "a.ll"}),
    ("gcc -c a.c -o /dev/null", {"output": "/dev/null"}),
    # languages
    ("gcc -c a.c", {"language": Language.C, "explicit_language": False}),
    ("g++ -c a.cc", {"language": Language.CXX}),
    ("g++ -c a.cxx", {"language": Language.CXX}),
    ("g++ -c a.cpp", {"language": Language.CXX}),
    ("g++ -c a.cp", {"language": Language.CXX}),
    ("g++ -c a.c++", {"language": Language.CXX}),
    ("g++ -c a.C", {"language": Language.CXX}),
    ("gcc -c a.i", {"language": Language.C_PREPROCESSED}),
    ("g++ -c a.ii", {"language": Language.CXX_PREPROCESSED}),
    ("gcc -c a.m", {"language": Language.OBJC}),
    ("gcc -c a.mm", {"language": Language.OBJCXX}),
    ("gcc -c a.M", {"language": Language.OBJCXX}),
    ("gcc -c a.mi", {"language": Language.OBJC_PREPROCESSED}),
    ("gcc -c a.mii", {"language": Language.OBJCXX_PREPROCESSED}),
    ("gcc -x c++ -c a.c", {"language": Language.CXX, "explicit_language": True}),
    ("gcc -xc++ -c a.c", {"language": Language.CXX, "explicit_language": True}),
    ("gcc -x c -c weird.txt", {"language": Language.C, "source": "weird.txt"}),
    ("gcc -x cpp-output -c a.txt", {"language": Language.C_PREPROCESSED}),
    ("gcc -x c++ -x none -c a.c", {"language": Language.C, "explicit_language": False}),
    ("gcc -c a.c -x assembler", {"language": Language.C}),  # -x after the last input
    ("gcc --language=c++ -c a.c", {"language": Language.CXX}),
    ("gcc -x objective-c -c a.txt", {"language": Language.OBJC}),
    ("gcc -x assembler -c a.c", R.UNSUPPORTED_LANGUAGE),
    ("gcc -x go -c a.c", R.UNSUPPORTED_LANGUAGE),  # distcc 3.4 lets "go" through
    ("gcc -x c-header -c a.h", R.PRECOMPILED_HEADER),
    ("g++ -c a.hpp", R.PRECOMPILED_HEADER),
    ("gcc -c a.h", R.PRECOMPILED_HEADER),
    ("gcc -c a.s", R.UNSUPPORTED_LANGUAGE),
    ("gcc -c a.S", R.UNSUPPORTED_LANGUAGE),
    ("gfortran -c a.f90", R.UNSUPPORTED_LANGUAGE),
    ("gcc -x c -c -", R.UNKNOWN_INPUT),
    # inputs and outputs
    ("gcc -c a.c b.c", R.MULTIPLE_SOURCES),
    ("gcc -c a.c -o a.o b.o", R.LINK_OUTPUT),
    ("gcc -c a.c b.o", R.LINK_OUTPUT),  # distcc would take b.o for the output
    ("gcc -c", R.NO_SOURCE),
    ("gcc -c -o a.o", R.NO_SOURCE),
    ("gcc -c a.c libx.a", R.UNKNOWN_INPUT),
    ("gcc -c a.c -o a.o -o b.o", R.BAD_ARGUMENTS),
    ("gcc -c a.c -o", R.BAD_ARGUMENTS),
    ("gcc -c a.c -I", R.BAD_ARGUMENTS),
    ("gcc -c a.c -o-", R.OUTPUT_TO_STDOUT),
    ("gcc -c conftest.c", R.AUTOCONF),
    ("gcc -c sub/conftest.cpp -o conftest.o", R.AUTOCONF),
    ("gcc -c tmp.conftest.c", R.AUTOCONF),
    ("gcc a.c -o a", R.NOT_COMPILE),
    ("gcc a.o b.o -o prog", R.NOT_COMPILE),
    ("gcc -shared -o libx.so a.o", R.NOT_COMPILE),
    ("gcc", R.NOT_COMPILE),
    # options whose arguments look like files
    ("gcc -c a.c -include b.c", {"source": "a.c"}),
    ("gcc -c -imacros m.c a.c", {"source": "a.c"}),
    ("gcc -c -D X.c a.c", {"source": "a.c"}),
    ("gcc -c -U X.c a.c", {"source": "a.c"}),
    ("gcc -c -I inc.c a.c", {"source": "a.c"}),
    ("gcc -c -iquote q.c -isystem s.c -idirafter d.c a.c", {"source": "a.c"}),
    ("gcc -c -iprefix p.c -iwithprefix w.c -iwithprefixbefore b.c a.c", {"source": "a.c"}),
    ("gcc -c -isysroot r.c --sysroot s.c a.c", {"source": "a.c"}),
    ("gcc -c -Xpreprocessor -DX a.c", {"source": "a.c"}),
    ("gcc -c -Xassembler x.c -Xlinker y.o a.c", {"source": "a.c"}),
    ("clang -c -Xclang -fno-color a.c -target x86_64-linux-gnu", {"source": "a.c"}),
    ("clang -c --target x.c a.c -arch x86_64", {"source": "a.c"}),
    ("gcc -c -G 8 -L lib.c -l m.c -u sym.c -T t.c -z now -e main a.c", {"source": "a.c"}),
    ("gcc -c -B /usr/lib/x a.c -imultilib m.c --param inline=5", {"source": "a.c"}),
    ("gcc -c -framework F.c -F fw.c a.c", {"source": "a.c"}),
    ("gcc -c -dumpbase b.c -dumpdir d.c -dumpbase-ext .c a.c", {"source": "a.c"}),
    ("gcc -c -I- a.c", {"source": "a.c"}),
    ("gcc -c -MF x.c -MD a.c", {"source": "a.c"}),
    ("gcc -c -MT x.c -MQ y.c -MD a.c", {"source": "a.c"}),
    ("gcc -c -undef a.c", {"source": "a.c"}),
    ("gcc -c -include-fake a.c", {"source": "a.c"}),
    ("gcc -c a.c -Wall -Wextra -O2 -g -fPIC -std=gnu11 -pipe", {"source": "a.c"}),
    ("gcc -c a.c --some-unknown-option", {"source": "a.c"}),
    ("gcc -c a.c -flto", {"output": "a.o"}),  # distributable: distcc HEAD, not 3.4
    ("gcc -c a.c -flto=auto", {"output": "a.o"}),
    ("gcc -c a.c -march=x86-64-v3", {"output": "a.o"}),
    ("gcc -c a.c -pg", {"output": "a.o"}),
    ("gcc -c a.c -fprofile-update=atomic", {"output": "a.o"}),
    ("gcc -c a.c -Wa,--noexecstack", {"output": "a.o"}),
    ("gcc -c a.c -Wa,-adhln=a.lst", R.ASSEMBLER_LISTING),
    ("gcc -c a.c -Xassembler -alh", R.ASSEMBLER_LISTING),
    # local-only options
    ("gcc -E a.c", R.PREPROCESS_ONLY),
    ("gcc -E -c a.c", R.PREPROCESS_ONLY),
    ("gcc --preprocess a.c", R.PREPROCESS_ONLY),
    ("gcc -MM -c a.c", R.PREPROCESS_ONLY),
    ("gcc -M -MF x.d -c a.c", R.PREPROCESS_ONLY),
    ("gcc -c a.c -march=native", R.NATIVE_ARCH),
    ("gcc -c a.c -mtune=native", R.NATIVE_ARCH),
    ("gcc -c a.c -mcpu=native", R.NATIVE_ARCH),
    ("gcc -c a.c --coverage", R.PROFILING),
    ("gcc -c a.c -fprofile-generate", R.PROFILING),
    ("gcc -c a.c -fprofile-generate=/tmp/prof", R.PROFILING),
    ("gcc -c a.c -fprofile-use=a.gcda", R.PROFILING),
    ("gcc -c a.c -fauto-profile=x.afdo", R.PROFILING),
    ("gcc -c a.c -fprofile-correction", R.PROFILING),
    ("clang -c a.c -fprofile-instr-generate", R.PROFILING),
    ("gcc -c a.c -save-temps", R.DEBUG_DUMP),
    ("gcc -c a.c -save-temps=obj", R.DEBUG_DUMP),
    ("gcc -c a.c -fdump-tree-all", R.DEBUG_DUMP),
    ("gcc -c a.c -fdump-rtl-expand", R.DEBUG_DUMP),
    ("gcc -c a.c -fcallgraph-info", R.DEBUG_DUMP),
    ("gcc -c a.c -drtl", R.DEBUG_DUMP),
    ("gcc -c a.c -dp", {"output": "a.o"}),  # only annotates the assembler output
    ("gcc -c a.c -fplugin=./p.so", R.PLUGIN),
    ("gcc -c a.c -fplugin-arg-p-key=v", R.PLUGIN),
    ("gcc -c a.c -specs x.specs", R.PLUGIN),
    ("gcc -c a.c --specs=x.specs", R.PLUGIN),
    ("gcc -c a.c -wrapper gdb,--args", R.PLUGIN),
    ("clang -c a.c -Xclang -load -Xclang p.so", R.PLUGIN),
    ("clang -c a.c -fpass-plugin=p.so", R.PLUGIN),
    ("g++ -std=c++20 -fmodules-ts -c a.cc", R.MODULES),
    ("g++ -c a.cc -fmodule-mapper=map", R.MODULES),
    ("clang++ -c a.cc -fmodules", R.MODULES),
    ("clang++ -c a.cc -fmodules-cache-path=/tmp/m", R.MODULES),
    ("g++ -c a.cc -fdeps-format=p1689r5", R.MODULES),
    ("gcc -c a.c -aux-info a.aux", R.DEPENDENCY_SIDE_EFFECT),
    ("gcc -c a.c -fstack-usage", R.DEPENDENCY_SIDE_EFFECT),
    ("clang -c a.c -MJ a.json", R.DEPENDENCY_SIDE_EFFECT),
    ("clang -c a.c -ftime-trace", R.DEPENDENCY_SIDE_EFFECT),
    ("gcc -c a.c -fsyntax-only", R.NOT_COMPILE),
    ("gcc -c a.c -###", R.NOT_COMPILE),
    ("gcc -c a.c --version", R.NOT_COMPILE),
    ("gcc -print-file-name=libc.a", R.NOT_COMPILE),
    ("gcc -dumpmachine", R.NOT_COMPILE),
    ("clang -c a.c -include-pch a.pch", R.PRECOMPILED_HEADER),
    # which reason is reported: cpp-only, then not-a-compile, then the first option
    ("gcc -march=native -E a.c", R.PREPROCESS_ONLY),
    ("gcc -E -march=native a.c", R.PREPROCESS_ONLY),
    ("gcc -march=native -O2 -o prog a.o b.o", R.NOT_COMPILE),
    ("gcc -c a.c -march=native --coverage", R.NATIVE_ARCH),
    ("gcc -c a.c --coverage -march=native", R.PROFILING),
    # dependency files
    ("gcc -c a.c -MD", {"dep": ("a.d", ("a.o",), True, False)}),
    ("gcc -c a.c -MMD", {"dep": ("a.d", ("a.o",), False, False)}),
    ("gcc -c a.c -MMD -MP", {"dep": ("a.d", ("a.o",), False, True)}),
    ("gcc -c a.c -MD -MMD", {"dep": ("a.d", ("a.o",), False, False)}),  # -MMD always wins
    ("gcc -c a.c -MMD -MD", {"dep": ("a.d", ("a.o",), False, False)}),
    ("gcc -c src/a.c -MD", {"dep": ("a.d", ("a.o",), True, False)}),
    ("gcc -S a.c -MD", {"dep": ("a.d", ("a.o",), True, False)}),  # target .o, not .s
    ("gcc -S a.c -o x.s -MD", {"dep": ("x.d", ("x.s",), True, False)}),
    ("gcc -c a.c -o out/x.o -MD", {"dep": ("out/x.d", ("out/x.o",), True, False)}),
    ("gcc -c a.c -o d.x/y -MD", {"dep": ("d.x/y.d", ("d.x/y",), True, False)}),
    ("gcc -c a.c -o 'a$b#c d.o' -MD", {"dep": ("a$b#c d.d", ("a$$b\\#c\\ d.o",), True, False)}),
    ("gcc -c a.c -MD -MF x.d -MT t1 -MQ 't$2'", {"dep": ("x.d", ("t1", "t$$2"), True, False)}),
    ("gcc -c a.c -MD -MFx.d -MTt1", {"dep": ("x.d", ("t1",), True, False)}),
    ("gcc -c a.c -MD -MF x.d -MF y.d", {"dep": ("y.d", ("a.o",), True, False)}),
    ("gcc -c a.c --write-dependencies", {"dep": ("a.d", ("a.o",), True, False)}),
    (
        "gcc -c a.c -o out/x.o -Wp,-MD,deps/x.d",
        {
            "dep": ("deps/x.d", ("a.o",), True, False),
            "argv": "gcc -c a.c -o out/x.o -MD -MF deps/x.d",
        },
    ),
    (
        "clang -c a.c -o out/x.o -Wp,-MD,deps/x.d",
        {"dep": ("deps/x.d", ("out/x.o",), True, False)},
    ),
    (
        "gcc -c a.c -Wp,-MMD,x.d,-DFOO,-MP",
        {
            "dep": ("x.d", ("a.o",), False, True),
            "argv": "gcc -c a.c -MMD -MF x.d -Wp,-DFOO,-MP -o a.o",
        },
    ),
    ("gcc -c a.c -Wp,-MF,x.d -MD", {"dep": ("x.d", ("a.o",), True, False)}),
    ("clang -c a.c -Wp,-MMD,x.d,-MP", R.DEPENDENCY_SIDE_EFFECT),
    ("clang -c a.c -Wp,-MF,x.d -MD", R.DEPENDENCY_SIDE_EFFECT),
    ("clang -c a.c -Wp,-DX", {"argv": "clang -c a.c -Wp,-DX -o a.o"}),
    ("gcc -c a.c -Wp,-DX,-UY", {"dep": None, "argv": "gcc -c a.c -Wp,-DX,-UY -o a.o"}),
    ("gcc -c a.c -Wp,-MD", R.BAD_ARGUMENTS),
    ("gcc -c a.c -Wp,-MT,x", R.DEPENDENCY_SIDE_EFFECT),
    ("gcc -c a.c -Wp,-M", R.DEPENDENCY_SIDE_EFFECT),
    ("gcc -c a.c -MF x.d", R.BAD_ARGUMENTS),  # gcc: "you must specify either -M or -MM"
    ("gcc -c a.c -MP", R.BAD_ARGUMENTS),
    ("clang -c a.c -MF x.d", {"dep": None}),  # clang warns and ignores it
    ("gcc -c a.i -MD", {"dep": None}),  # cpp does not run on preprocessed input
    ("gcc -c a.i -MF x.d -MT t", {"dep": None}),
    ("gcc -x cpp-output -c a.c -MMD", {"dep": None}),
    ("gcc -c a.c", {"dep": None, "dwo": None}),
    # split DWARF
    ("gcc -c a.c -g -gsplit-dwarf", {"dwo": "a.dwo"}),
    ("gcc -c a.c -gsplit-dwarf -o out/x.o", {"dwo": "out/x.dwo"}),
    ("gcc -c a.c -gsplit-dwarf -o x", {"dwo": "x.dwo"}),
    ("gcc -c a.c -gsplit-dwarf -o x.y.z", {"dwo": "x.y.dwo"}),
    ("gcc -S a.c -gsplit-dwarf", {"dwo": None}),
    ("gcc -c a.c -gsplit-dwarf -gno-split-dwarf", {"dwo": None}),
    ("gcc -c a.c -gsplit-dwarf -dumpdir d/", R.DEPENDENCY_SIDE_EFFECT),
    ("gcc -c a.c -gsplit-dwarf=single", R.BAD_ARGUMENTS),
    ("clang -c a.c -gsplit-dwarf", {"dwo": None}),  # clang: no debug info, no .dwo
    ("clang -c a.c -g -gsplit-dwarf -o o/x.o", {"dwo": "o/x.dwo"}),
    ("clang -S a.c -g -gsplit-dwarf", {"dwo": "a.dwo"}),
    ("clang -S src/a.c -g -gsplit-dwarf -o o/x.s", {"dwo": "a.dwo"}),  # not beside -o
    ("clang -c -S src/a.c -g -gsplit-dwarf -o o/x.s", {"dwo": "o/x.dwo"}),
    ("clang -S a.c -g -gsplit-dwarf -fdebug-compilation-dir=/x", R.DEPENDENCY_SIDE_EFFECT),
    ("clang -c a.c -g -gsplit-dwarf=single", {"dwo": None}),
    ("clang -c a.c -gdwarf-4 -gsplit-dwarf=split", {"dwo": "a.dwo"}),
    ("clang -c a.c -g -gsplit-dwarf -g0", {"dwo": None}),
]


def _check(job: CompileJob | RunLocally, expected: str | dict[str, object]) -> None:
    if isinstance(expected, str):
        assert isinstance(job, RunLocally), job
        assert job.reason == expected
        assert job.detail
        return
    assert isinstance(job, CompileJob), job
    for key, want in expected.items():
        if key == "dep":
            got = job.dep
            if want is None:
                assert got is None
            else:
                assert got is not None
                assert isinstance(want, tuple)
                assert (got.path, got.targets, got.system_headers, got.phony_targets) == want
        elif key == "argv":
            assert isinstance(want, str)
            assert list(job.argv) == shlex.split(want)
        else:
            assert getattr(job, key) == want, key


@pytest.mark.parametrize(("cmd", "expected"), CASES)
def test_classify(cmd: str, expected: str | dict[str, object]) -> None:
    _check(_job(cmd), expected)


def test_table_sizes() -> None:
    """The brief asks for at least 150 table-driven argv cases."""
    assert len(SCAN_ARGS) + len(IMPLICIT_SCAN) + len(DOTD) + len(CASES) >= 150


# --------------------------------------------------------------------- job invariants


@pytest.mark.parametrize(
    "cmd",
    [c for c, e in CASES + SCAN_ARGS if not isinstance(e, str)],
)
def test_job_indices_point_at_their_words(cmd: str) -> None:
    job = _job(cmd)
    assert isinstance(job, CompileJob)
    assert job.argv[job.source_index] == job.source
    assert job.argv[job.output_index].endswith(job.output)
    assert job.compiler == job.argv[0]
    assert job.mode in ("-c", "-S")
    for po in job.options:
        assert job.argv[po.index] == po.spelled
        if po.words == 2:
            assert job.argv[po.index + 1] == po.value
    covered = {po.index + k for po in job.options for k in range(po.words)}
    assert job.source_index not in covered
    # classify is idempotent on its own normalised argv
    again = classify(job.argv)
    assert isinstance(again, CompileJob)
    assert again.argv == job.argv
    assert again.source == job.source and again.output == job.output
    assert again.options == job.options


def test_job_is_frozen_and_hashable() -> None:
    job = _job("gcc -c a.c -MD")
    assert isinstance(job, CompileJob)
    with pytest.raises(AttributeError):
        job.source = "b.c"
    assert hash(job) == hash(_job("gcc -c a.c -MD"))
    assert job.outputs() == ("a.o", "a.d")


# --------------------------------------------------------------------- environment


def test_dependencies_output_env() -> None:
    env = {"DEPENDENCIES_OUTPUT": "deps/a.d"}
    job = _job("gcc -c src/a.c -o out/a.o", env)
    assert isinstance(job, CompileJob)
    assert job.dep == DepInfo("deps/a.d", ("a.o",), False, False, False, append=True)


def test_sunpro_dependencies_env_includes_system_headers() -> None:
    job = _job("gcc -c a.c", {"SUNPRO_DEPENDENCIES": "s.d tgt"})
    assert isinstance(job, CompileJob)
    assert job.dep == DepInfo("s.d", ("tgt",), True, True, False, append=True)


def test_dependencies_output_wins_over_sunpro_and_md_wins_over_both() -> None:
    env = {"DEPENDENCIES_OUTPUT": "d.d", "SUNPRO_DEPENDENCIES": "s.d"}
    job = _job("gcc -c a.c", env)
    assert isinstance(job, CompileJob) and job.dep is not None
    assert job.dep.path == "d.d"
    job = _job("gcc -c a.c -MD", env)
    assert isinstance(job, CompileJob) and job.dep is not None
    assert (job.dep.path, job.dep.append) == ("a.d", False)


def test_dependencies_output_with_dep_options() -> None:
    env = {"DEPENDENCIES_OUTPUT": "e.d"}
    job = _job("gcc -c a.c -MT t -MQ 'q$' -MP -MF x.d", env)
    assert isinstance(job, CompileJob)
    assert job.dep == DepInfo("x.d", ("t", "q$$"), True, False, True, append=True)
    job = _job("gcc -c a.c -MT t", {"DEPENDENCIES_OUTPUT": "e.d tgt"})
    assert isinstance(job, RunLocally)
    assert job.reason == R.DEPENDENCY_SIDE_EFFECT


def test_clang_ignores_dependencies_output() -> None:
    job = _job("clang -c a.c", {"DEPENDENCIES_OUTPUT": "d.d"})
    assert isinstance(job, CompileJob)
    assert job.dep is None


# --------------------------------------------------------------------- response files


def _reader(files: dict[str, str]):  # type: ignore[no-untyped-def]
    def read(path: str) -> bytes:
        if path not in files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return files[path].encode()

    return read


RESPONSE_TEXTS = [
    ("a b  c", ["a", "b", "c"]),
    ("  a\n\tb\r\n", ["a", "b"]),
    ("'a b' \"c d\"", ["a b", "c d"]),
    ("a\\ b", ["a b"]),
    ("'it''s'", ["its"]),
    ('"a\\"b"', ['a"b']),
    ("'a\\'b'", ["a'b"]),
    ("x''y ''", ["xy", ""]),
    ('-DX="1 2"', ["-DX=1 2"]),
    ("", []),
]


@pytest.mark.parametrize(("text", "words"), RESPONSE_TEXTS)
def test_parse_response_file(text: str, words: list[str]) -> None:
    assert parse_response_file(text) == words


RSP_TOKENS = [
    "plain",
    "'a b'",
    '"c d"',
    "a\\ b",
    "'it''s'",
    '"a\\"b"',
    "'a\\'b'",
    "x''y",
    "'tab\tin'",
    '"back\\\\slash"',
    "mixed'q u'\"o t\"e",
]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_response_file_parsing_matches_gcc(tmp_path: Path) -> None:
    text = " ".join(f"-DW{i}={t}" for i, t in enumerate(RSP_TOKENS)) + "\n"
    (tmp_path / "r.rsp").write_text(text)
    (tmp_path / "a.c").write_text("int x;\n")
    proc = subprocess.run(
        ["gcc", "-###", "-c", "a.c", "@r.rsp"], cwd=tmp_path, capture_output=True, text=True
    )
    cc1 = next(line for line in proc.stderr.splitlines() if "cc1" in line)
    words = shlex.split(cc1)
    gcc_defines = [words[i + 1] for i, w in enumerate(words) if w == "-D"]
    ours = [w[2:] for w in parse_response_file(text)]
    assert ours == gcc_defines
    assert len(ours) == len(RSP_TOKENS)


def test_response_files_expand_nested() -> None:
    files = {"r1": "-c @r2 -o 'out dir/a.o'", "r2": "-DX=1\n-Iinc a.c"}
    job = classify(["gcc", "@r1", "-O2"], read_file=_reader(files))
    assert isinstance(job, CompileJob)
    assert job.argv == ("gcc", "-c", "-DX=1", "-Iinc", "a.c", "-o", "out dir/a.o", "-O2")
    assert job.output == "out dir/a.o"


def test_response_file_cycle_is_local() -> None:
    files = {"r1": "-c @r2", "r2": "a.c @r1"}
    job = classify(["gcc", "@r1"], read_file=_reader(files))
    assert isinstance(job, RunLocally)
    assert job.reason == R.RESPONSE_FILE
    assert "r1" in job.detail


def test_response_file_depth_is_limited() -> None:
    files = {f"r{i}": f"@r{i + 1}" for i in range(40)}
    job = classify(["gcc", "@r0"], read_file=_reader(files))
    assert isinstance(job, RunLocally)
    assert job.reason == R.RESPONSE_FILE


def test_unreadable_response_file_is_local_with_detail() -> None:
    job = classify(["gcc", "-c", "@missing.rsp"], read_file=_reader({}))
    assert isinstance(job, RunLocally)
    assert job.reason == R.RESPONSE_FILE
    assert "missing.rsp" in job.detail and "No such file" in job.detail


def test_default_reader_opens_files(tmp_path: Path) -> None:
    rsp = tmp_path / "args.rsp"
    rsp.write_text("-c a.c -o b.o\n")
    job = classify(["gcc", f"@{rsp}"])
    assert isinstance(job, CompileJob)
    assert (job.source, job.output) == ("a.c", "b.o")


# --------------------------------------------------------------------- make quoting


@pytest.mark.parametrize(
    ("target", "quoted"),
    [
        ("a.o", "a.o"),
        ("a$b", "a$$b"),
        ("a#b", "a\\#b"),
        ("a b", "a\\ b"),
        ("a\\ b", "a\\\\\\ b"),
        ("a\\\\ b", "a\\\\\\\\\\ b"),
        ("a\\b", "a\\b"),
        ("a:b%c", "a:b%c"),
        ("a\tb", "a\\\tb"),
    ],
)
def test_make_quote(target: str, quoted: str) -> None:
    assert make_quote(target) == quoted


# --------------------------------------------------------------------- speed

TYPICAL = shlex.split(
    "gcc -DHAVE_CONFIG_H -I. -I.. -I../include -I/usr/include/glib-2.0 -DNDEBUG -D_GNU_SOURCE "
    "-Wall -Wextra -Wno-unused-parameter -Wshadow -O2 -g -fPIC -pthread -std=gnu11 -pipe "
    "-fstack-protector-strong -Wformat -Werror=format-security -MT obj/foo.o -MD -MP "
    "-MF obj/.deps/foo.Tpo -c -o obj/foo.o ../src/foo.c"
)


def test_classify_typical_command_is_fast() -> None:
    assert len(TYPICAL) >= 30
    assert isinstance(classify(TYPICAL), CompileJob)
    rounds = 200
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            classify(TYPICAL)
        best = min(best, (time.perf_counter() - start) / rounds)
    assert best < 0.0005, f"classify took {best * 1e6:.0f} us"


# --------------------------------------------------------------------- robustness

_VOCABULARY = shlex.split(
    "-c -S -E -o -x c c++ none cpp-output assembler -MD -MMD -MF -MT -MQ -MP -M -g -g0 "
    "-gsplit-dwarf -gno-split-dwarf -I -D -U -include -Wp,-MD,d.d -Wp,-DX -Wa,-a -Wl,-x "
    "-Xclang -load -emit-llvm -march=native -fplugin=p.so -dumpdir -O2 -Wall -oa.o "
    "a.c b.cc c.i d.ii e.m f.s g.o h.h conftest.c sub/x.c - @rsp @missing"
)
_WORDS = st.sampled_from(_VOCABULARY) | st.text(max_size=8)


def _read_rsp(path: str) -> bytes:
    if path == "rsp":
        return b"-c 'x y.c' @rsp2"
    if path == "rsp2":
        return b"-DZ=1"
    raise FileNotFoundError(2, "No such file or directory", path)


@settings(max_examples=400, deadline=None)
@given(st.lists(_WORDS, max_size=10), st.sampled_from(["gcc", "clang", "g++"]))
def test_classify_is_total_and_consistent(words: list[str], cc: str) -> None:
    """Any argv (the daemon classifies what clients send) gives a job or a reason, and a
    job's fields, the rewrites and re-classification agree."""
    job = classify([cc, *words], {"DEPENDENCIES_OUTPUT": "e.d"}, _read_rsp)
    if isinstance(job, RunLocally):
        assert job.reason in {v for k, v in vars(LocalReason).items() if k.isupper()}
        return
    assert job.argv[job.source_index] == job.source
    assert job.argv[job.output_index].endswith(job.output)
    for po in job.options:
        assert job.argv[po.index] == po.spelled
    again = classify(job.argv, {"DEPENDENCIES_OUTPUT": "e.d"})
    assert isinstance(again, CompileJob)
    assert (again.source, again.output, again.dep, again.dwo) == (
        job.source,
        job.output,
        job.dep,
        job.dwo,
    )
    cpp = local_cpp_argv(job, "t.i")
    # (Not `"-c" not in cpp`: "-c" may be an option's value, as in `-MF -c`.)
    assert cpp[-2:] == ["-o", "t.i"] and "-E" in cpp
    as_cpp = classify(cpp, {"DEPENDENCIES_OUTPUT": "e.d"})
    assert isinstance(as_cpp, RunLocally) and as_cpp.reason == LocalReason.PREPROCESS_ONLY
    served = server_argv(plain_server_argv(job), "in.i", "out.o")
    if isinstance(served, list):
        remote = classify(served)
        assert isinstance(remote, CompileJob)
        assert (remote.source, remote.output) == ("in.i", "out.o")
        assert remote.preprocessed or not remote.explicit_language
