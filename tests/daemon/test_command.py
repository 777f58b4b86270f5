from __future__ import annotations

import pytest

from daemon.command import Refused, ServerCommand, prepare


def _prepared(argv: list[str]) -> ServerCommand:
    command = prepare(argv)
    assert isinstance(command, ServerCommand), command
    return command


def test_substitutes_input_and_output() -> None:
    command = _prepared(["gcc", "-O2", "-c", "hello.c", "-o", "hello.o"])
    assert command.source == "hello.c"
    assert command.input_suffix == ".i"
    assert command.argv("/usr/bin/gcc", "/t/in.i", "/t/out.o") == [
        "/usr/bin/gcc",
        "-O2",
        "-c",
        "/t/in.i",
        "-o",
        "/t/out.o",
    ]


def test_joined_output_and_implied_output() -> None:
    assert _prepared(["cc", "-c", "a.cpp", "-oa.o"]).argv("cc", "I", "O") == [
        "cc",
        "-c",
        "I",
        "-oO",
    ]
    assert _prepared(["cc", "-c", "dir/a.c"]).argv("cc", "I", "O") == ["cc", "-c", "I", "-o", "O"]


def test_explicit_language_becomes_cpp_output() -> None:
    argv = _prepared(["gcc", "-x", "c", "-c", "a.c", "-o", "a.o"]).argv("gcc", "I.i", "O")
    assert argv == ["gcc", "-x", "cpp-output", "-c", "I.i", "-o", "O"]


@pytest.mark.parametrize(
    ("source", "suffix"),
    [
        ("a.c", ".i"),
        ("a.i", ".i"),
        ("a.cc", ".ii"),
        ("a.cpp", ".ii"),
        ("a.cxx", ".ii"),
        ("a.C", ".ii"),
        ("a.ii", ".ii"),
        ("a.m", ".mi"),
        ("a.mm", ".mii"),
    ],
)
def test_input_suffix(source: str, suffix: str) -> None:
    assert _prepared(["gcc", "-c", source, "-o", "a.o"]).input_suffix == suffix


@pytest.mark.parametrize(
    "argv",
    [
        ["gcc", "-fplugin=/tmp/evil.so", "-c", "a.c", "-o", "a.o"],
        ["gcc", "-specs=/tmp/evil", "-c", "a.c", "-o", "a.o"],
        ["gcc", "--specs=/tmp/evil", "-c", "a.c", "-o", "a.o"],
        ["gcc", "-specs", "/tmp/evil", "-c", "a.c", "-o", "a.o"],
        ["gcc", "@/etc/passwd", "-c", "a.c", "-o", "a.o"],
        ["gcc", "-c", "a.c", "-o", "a.o", "@args"],
        ["gcc", "-E", "a.c"],
        ["gcc", "-M", "-c", "a.c"],
        ["gcc", "a.c", "-o", "a"],  # link
        ["gcc", "-c", "a.c", "b.c"],
        ["gcc", "-c", "-o", "a.o"],
        ["gcc", "-c", "a.c", "-o", "-"],
        ["gcc", "-march=native", "-c", "a.c"],
        ["gcc", "-fprofile-generate", "-c", "a.c"],
        ["gcc", "-x", "assembler", "-c", "a.c"],
        ["gcc", "-c", "conftest.c"],
        ["gcc", "-c", "a.c", "-o"],
        ["-c", "a.c"],
        [""],
        [],
    ],
)
def test_refused(argv: list[str]) -> None:
    assert isinstance(prepare(argv), Refused)


def test_dependency_flags_are_fine() -> None:
    command = _prepared(["gcc", "-MD", "-MF", "x.d", "-MT", "x.o", "-c", "a.c", "-o", "a.o"])
    assert command.source == "a.c"


@pytest.mark.parametrize(
    "extra",
    [
        ["-B/x/"],
        ["-B", "/x/"],
        ["--gcc-toolchain=/x"],
        ["-time=/x/t"],
        ["-fopt-info-all=/x/o"],
        ["-fcrash-diagnostics-dir=/x"],
        ["-Wa,@/etc/passwd"],
        ["-Xclang", "-dependency-file", "-Xclang", "/x/d"],
        ["-Xclang", "@/etc/passwd"],
        ["-mllvm", "-info-output-file=/x/i"],
        ["-MD", "-MF", "/x/d"],
        ["-MD", "-MF../d"],
    ],
)
def test_server_refusals(extra: list[str]) -> None:
    assert isinstance(prepare(["gcc", "-c", "a.c", *extra]), Refused)


def test_harmless_neighbours_are_kept() -> None:
    for extra in (["-MD", "-MF", "a.d"], ["-fopt-info"], ["-Xclang", "-fno-pch-timestamp"]):
        _prepared(["gcc", "-c", "a.c", *extra])
