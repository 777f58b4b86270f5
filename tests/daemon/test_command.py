from __future__ import annotations

import pytest

from daemon.command import Refused, ServerCommand, input_suffix, prepare


def test_substitutes_input_and_output() -> None:
    command = prepare(["gcc", "-O2", "-c", "hello.c", "-o", "hello.o"])
    assert isinstance(command, ServerCommand)
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
    joined = prepare(["cc", "-c", "a.cpp", "-oa.o"])
    assert isinstance(joined, ServerCommand)
    assert joined.argv("cc", "I", "O") == ["cc", "-c", "I", "-oO"]
    implied = prepare(["cc", "-c", "dir/a.c"])
    assert isinstance(implied, ServerCommand)
    assert implied.argv("cc", "I", "O") == ["cc", "-c", "I", "-o", "O"]
    assert implied.words[-1] == "a.o"


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
        ("a.M", ".mii"),
        ("a.weird", ".tmp"),
        ("noext", ".tmp"),
    ],
)
def test_input_suffix(source: str, suffix: str) -> None:
    assert input_suffix(source) == suffix


@pytest.mark.parametrize(
    "argv",
    [
        ["gcc", "-fplugin=/tmp/evil.so", "-c", "a.c", "-o", "a.o"],
        ["gcc", "-specs=/tmp/evil", "-c", "a.c", "-o", "a.o"],
        ["gcc", "-E", "a.c"],
        ["gcc", "-M", "-c", "a.c"],
        ["gcc", "a.c", "-o", "a"],  # link
        ["gcc", "-c", "a.c", "b.c"],
        ["gcc", "-c", "-o", "a.o"],
        ["gcc", "-c", "a.c", "-o", "-"],
        ["gcc", "-c", "a.c", "x.o", "-o", "a.o"],
        ["gcc", "-march=native", "-c", "a.c"],
        ["gcc", "-fprofile-generate", "-c", "a.c"],
        ["gcc", "-x", "assembler", "-c", "a.c"],
        ["gcc", "-c", "conftest.c"],
        ["gcc", "-c", "a.c", "-o"],
        ["-c", "a.c"],
        [],
    ],
)
def test_refused(argv: list[str]) -> None:
    assert isinstance(prepare(argv), Refused)


def test_dependency_flags_are_fine() -> None:
    command = prepare(["gcc", "-MD", "-MF", "x.d", "-MT", "x.o", "-c", "a.c", "-o", "a.o"])
    assert isinstance(command, ServerCommand)
    assert command.source == "a.c"
