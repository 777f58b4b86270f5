"""rewrite: distcc's golden StripArgs table, the local cpp command (checked against real
gcc/clang: same .d file as ``cc -c``), and the daemon's argv for protocol 1/2."""

from __future__ import annotations

import filecmp
import shlex
from pathlib import Path

import pytest

from common.compiler.classify import classify
from common.compiler.job import CompileJob, LocalReason, RunLocally
from common.compiler.rewrite import (
    local_cpp_argv,
    plain_server_argv,
    server_argv,
    strip_local_args,
)
from tests.common.compiler.realcc import COMPILERS, env_file, files, make_tree, run


def _job(cmd: str, env: dict[str, str] | None = None) -> CompileJob:
    job = classify(shlex.split(cmd), env)
    assert isinstance(job, CompileJob), job
    return job


# test/testdistcc.py StripArgs_Case, verbatim (the shell's quote removal applied).
STRIP_ARGS = [
    ("gcc -c hello.c", "gcc -c hello.c"),
    ("cc -Dhello hello.c -c", "cc hello.c -c"),
    (
        "gcc -g -O2 -W -Wall -Wshadow -Wpointer-arith -Wcast-align -c -o h_strip.o h_strip.c",
        "gcc -g -O2 -W -Wall -Wshadow -Wpointer-arith -Wcast-align -c -o h_strip.o h_strip.c",
    ),
    ("cc -c hello.c -D", "cc -c hello.c"),
    ("cc -c hello.c -D -D", "cc -c hello.c"),
    ("cc -c hello.c -I ../include", "cc -c hello.c"),
    ("cc -c -I ../include  hello.c", "cc -c hello.c"),
    (
        "cc -c -I. -I.. -I../include -I/home/mbp/garnome/include -c -o foo.o foo.c",
        "cc -c -c -o foo.o foo.c",
    ),
    ("cc -c -DDEBUG -DFOO=23 -D BAR -c -o foo.o foo.c", "cc -c -c -o foo.o foo.c"),
    (
        'cc -o nsinstall.o -c -DOSTYPE="Linux2.4" -DOSARCH="Linux" -DOJI -D_BSD_SOURCE '
        "-I../dist/include -I../dist/include "
        "-I/home/mbp/work/mozilla/mozilla-1.1/dist/include/nspr "
        "-I/usr/X11R6/include -fPIC -I/usr/X11R6/include -Wall -W -Wno-unused -Wpointer-arith "
        "-Wcast-align -pedantic -Wno-long-long -pthread -pipe -DDEBUG -D_DEBUG -DDEBUG_mbp "
        "-DTRACING -g -I/usr/X11R6/include -include ../config-defs.h -DMOZILLA_CLIENT "
        "-Wp,-MD,.deps/nsinstall.pp nsinstall.c",
        "cc -o nsinstall.o -c -fPIC -Wall -W -Wno-unused -Wpointer-arith -Wcast-align -pedantic "
        "-Wno-long-long -pthread -pipe -g nsinstall.c",
    ),
    # more of dcc_strip_local_args' rules
    ("cc -c a.c -U X -UY -L lib -Llib -l m -lm", "cc -c a.c"),
    ("cc -c a.c -MF d -MT t -MQ q -MFd -MTt -MQq", "cc -c a.c"),
    ("cc -c a.c -include h -imacros m -iprefix p -iwithprefix w", "cc -c a.c"),
    ("cc -c a.c -isystem s -isystems -iwithprefixbefore b -idirafter d", "cc -c a.c"),
    ("cc -c a.c -Wl,-z,now -Wp,-DX -stdlib=libc++", "cc -c a.c"),
    ("cc -c a.c -undef -nostdinc -nostdinc++ -MD -MMD -MG -MP", "cc -c a.c"),
    # kept by distcc 3.4 (the server needs them, or 3.4 did not know them)
    (
        "cc -c a.c -iquote q -idirafterx -O2 -Wa,-x",
        "cc -c a.c -iquote q -idirafterx -O2 -Wa,-x",
    ),
    # HEAD, not 3.4: -Xpreprocessor goes with its argument
    ("cc -c -Xpreprocessor -DX a.c", "cc -c a.c"),
]


@pytest.mark.parametrize(("cmd", "expected"), STRIP_ARGS)
def test_strip_local_args(cmd: str, expected: str) -> None:
    assert strip_local_args(shlex.split(cmd)) == shlex.split(expected)


PLAIN = [
    ("gcc -c hello.c", "gcc -c hello.c -o hello.o"),  # distcc strips the argv with -o added
    ("gcc -c a.c -MD -MF x.d -DX -Iinc -o a.o", "gcc -c a.c -o a.o"),
    ("gcc -c a.c -Wp,-MD,x.d -o a.o", "gcc -c a.c -o a.o"),
    ("g++ -x c++ -c a.c -O2 -g -isystem /usr/x -o a.o", "g++ -x c++ -c a.c -O2 -g -o a.o"),
    ("gcc -S a.c", "gcc -S a.c -o a.s"),
]


@pytest.mark.parametrize(("cmd", "expected"), PLAIN)
def test_plain_server_argv(cmd: str, expected: str) -> None:
    assert plain_server_argv(_job(cmd)) == shlex.split(expected)


LOCAL_CPP = [
    ("gcc -c a.c", "gcc -E a.c -o X.i"),
    ("gcc -c a.c -o out/a.o -O2", "gcc -E a.c -O2 -o X.i"),
    ("gcc -c a.c -oout/a.o", "gcc -E a.c -o X.i"),
    ("gcc -S -c a.c", "gcc -E -E a.c -o X.i"),
    ("gcc --compile a.c --output=b.o", "gcc -E a.c -o X.i"),
    ("gcc -c a.c -o out/a.o -MD", "gcc -E a.c -MD -MF out/a.d -MT out/a.o -o X.i"),
    ("gcc -c a.c -MMD -MP", "gcc -E a.c -MMD -MP -MF a.d -MT a.o -o X.i"),
    ("gcc -c a.c -MD -MF d.d -MT t", "gcc -E a.c -MD -MF d.d -MT t -o X.i"),
    ("gcc -c a.c -MD -MQ 'a$b'", "gcc -E a.c -MD -MQ 'a$b' -MF a.d -o X.i"),
    ("gcc -c a.c -o x.o -Wp,-MD,d.d", "gcc -E a.c -MD -MF d.d -MT a.o -o X.i"),
    ("gcc -c a.c -o 'a b.o' -MD", "gcc -E a.c -MD -MF 'a b.d' -MT 'a\\ b.o' -o X.i"),
]


@pytest.mark.parametrize(("cmd", "expected"), LOCAL_CPP)
def test_local_cpp_argv(cmd: str, expected: str) -> None:
    assert local_cpp_argv(_job(cmd), "X.i") == shlex.split(expected)


def test_local_cpp_argv_leaves_env_dependencies_to_cpp() -> None:
    job = _job("gcc -c a.c -o o/a.o", {"DEPENDENCIES_OUTPUT": "deps.d"})
    assert job.dep is not None and job.dep.append
    assert local_cpp_argv(job, "X.i") == ["gcc", "-E", "a.c", "-o", "X.i"]


SERVER = [
    ("gcc -c a.c -o a.o", "gcc -c IN.i -o OUT.o"),
    ("gcc -c a.c -oa.o", "gcc -c IN.i -oOUT.o"),
    ("gcc -c a.c --output=a.o", "gcc -c IN.i --output=OUT.o"),
    ("gcc -c sub/a.c", "gcc -c IN.i -o OUT.o"),  # implied output, as distcc's server adds
    ("gcc -S a.c -o a.s", "gcc -S IN.i -o OUT.o"),
    ("gcc -x c -c a.c -o a.o", "gcc -x cpp-output -c IN.i -o OUT.o"),
    ("g++ -xc++ -c a.c -o a.o", "g++ -xc++-cpp-output -c IN.i -o OUT.o"),
    ("gcc -x objective-c -c a.m -o a.o", "gcc -x objective-c-cpp-output -c IN.i -o OUT.o"),
    ("gcc -x c++ -x none -c a.c -o a.o", "gcc -x c++ -x none -c IN.i -o OUT.o"),
    ("gcc -c a.c -x c -o a.o", "gcc -c IN.i -x c -o OUT.o"),  # -x after the source: no effect
    ("gcc -x cpp-output -c a.i -o a.o", "gcc -x cpp-output -c IN.i -o OUT.o"),
    ("gcc -O2 -g -c a.c -o a.o -fPIC", "gcc -O2 -g -c IN.i -o OUT.o -fPIC"),
]


@pytest.mark.parametrize(("cmd", "expected"), SERVER)
def test_server_argv(cmd: str, expected: str) -> None:
    assert server_argv(shlex.split(cmd), "IN.i", "OUT.o") == shlex.split(expected)


@pytest.mark.parametrize(
    ("cmd", "reason"),
    [
        ("gcc -E a.c", LocalReason.PREPROCESS_ONLY),
        ("gcc a.c -o a", LocalReason.NOT_COMPILE),
        ("gcc -c a.c -fplugin=./evil.so", LocalReason.PLUGIN),
        ("gcc -c a.c -specs=x", LocalReason.PLUGIN),
    ],
)
def test_server_argv_refuses_what_is_not_distributable(cmd: str, reason: str) -> None:
    got = server_argv(shlex.split(cmd), "IN.i", "OUT.o")
    assert isinstance(got, RunLocally)
    assert got.reason == reason


# ------------------------------------------------------------------ differential

# (arguments after the compiler, environment) for which the .d file written by the local
# cpp command must equal the one ``cc -c`` writes.
CPP_DEP_CASES: list[tuple[str, dict[str, str]]] = [
    ("-c foo.c -MD", {}),
    ("-c foo.c -MMD", {}),
    ("-c foo.c -MD -o sub/x.o", {}),
    ("-c foo.c -MMD -MP -o d.x/y", {}),
    ("-c foo.c -MD -MF deps/foo.d", {}),
    ("-c foo.c -MD -MT tt -o sub/x.o", {}),
    ("-c foo.c -MD -MQ 'a$b c' -MT t2 -o sub/x.o", {}),
    ("-c foo.c -MD -MP -MF deps/x.d -MQ sub/x.o -o sub/x.o", {}),
    ("-c foo.c -Wp,-MD,deps/x.d -o sub/x.o", {}),
    ("-c foo.c -Wp,-MMD,deps/x.d,-MP", {}),
    ("-S foo.c -MD", {}),
    ("-S foo.c -MD -o sub/x.s", {}),
    ("-c foo.c -o hello.bar.foo -MD", {}),
    ("-c foo.c -o 'a$b#c d.o' -MD", {}),
    ("-c foo.cpp -MMD -MP -o sub/foo.o", {}),
    ("-x c++ -c foo.c -MD -o sub/x.o", {}),
    ("-c foo.c -o sub/x.o", {"DEPENDENCIES_OUTPUT": "deps/env.d"}),
    ("-c foo.c -o sub/x.o", {"DEPENDENCIES_OUTPUT": "deps/env.d tgt"}),
    ("-c foo.c -o sub/x.o", {"SUNPRO_DEPENDENCIES": "deps/env.d"}),
    ("-c foo.c -o sub/x.o -MT t -MP -MF deps/y.d", {"DEPENDENCIES_OUTPUT": "deps/env.d"}),
    ("-c src/bar.c -MD", {}),
    ("-S src/bar.c -MMD -MP", {}),
    ("-c src/bar.c -MD -o sub/bar.o", {}),
]


@pytest.mark.parametrize("cc", COMPILERS)
@pytest.mark.parametrize("case", CPP_DEP_CASES, ids=[a + str(e) for a, e in CPP_DEP_CASES])
def test_local_cpp_writes_the_same_dotd_as_the_compiler(
    tmp_path: Path, cc: str, case: tuple[str, dict[str, str]]
) -> None:
    args, env = case
    argv = [cc, *shlex.split(args)]
    job = classify(argv, env)
    if isinstance(job, RunLocally):  # clang: only -Wp,-MD,FILE alone is modelled
        assert (cc, job.reason) == ("clang", LocalReason.DEPENDENCY_SIDE_EFFECT)
        return
    assert isinstance(job, CompileJob)
    ref = make_tree(tmp_path / "ref")
    ours = make_tree(tmp_path / "ours")
    prefilled = env_file(env)
    if prefilled:
        (ref / prefilled).write_text("old:\n")
        (ours / prefilled).write_text("old:\n")
    assert run(argv, ref, env) == 0
    before = files(ours)
    assert run(local_cpp_argv(job, "cpp-out.i"), ours, env) == 0
    created = files(ours) - before
    if job.dep is None:  # e.g. clang ignores DEPENDENCIES_OUTPUT
        assert created == {"cpp-out.i"}
        return
    assert created == {"cpp-out.i", job.dep.path} - before
    assert (ours / job.dep.path).read_bytes() == (ref / job.dep.path).read_bytes()


SERVER_CASES = [
    "-c foo.c -o foo.o",
    "-c foo.c -O2 -ofoo.o",
    "-x c -c foo.c -o foo.o",
    "-x c++ -c foo.c -o foo.o",
    "-c foo.cpp -o foo.o",
    "-S foo.c -o foo.s",
]


@pytest.mark.parametrize("cc", COMPILERS)
@pytest.mark.parametrize("args", SERVER_CASES)
def test_server_compile_of_cpp_output_equals_local_compile(
    tmp_path: Path, cc: str, args: str
) -> None:
    """Plain mode end to end: local cpp, then the server's command on the .i file, gives the
    same object as a local compile."""
    tree = make_tree(tmp_path / "t")
    argv = [cc, *shlex.split(args)]
    job = classify(argv)
    assert isinstance(job, CompileJob)
    assert run(argv, tree) == 0
    ext = {"c": ".i", "c++": ".ii"}[job.language]
    assert run(local_cpp_argv(job, "in" + ext), tree) == 0
    remote = server_argv(plain_server_argv(job), "in" + ext, "remote.out")
    assert isinstance(remote, list)
    assert run(remote, tree) == 0
    assert filecmp.cmp(tree / job.output, tree / "remote.out", shallow=False)
