"""Re-rooting a pump command (daemon/reroot.py): argv in, the command run in the root out."""

from __future__ import annotations

import pytest

from common.compiler.classify import classify
from common.compiler.job import CompileJob
from daemon.reroot import mirror_argv

ROOT = "/t/distccd_1/root"
MAP = f"-ffile-prefix-map={ROOT}="
DEP = "/t/distccd_1/deps.d"


def job(*argv: str) -> CompileJob:
    j = classify(["gcc", *argv])
    assert isinstance(j, CompileJob), j
    return j


CASES = [
    # (argv after gcc, expected argv after gcc + map, output client path)
    (
        ["-c", "a.c"],
        ["-c", "a.c", "-o", "a.o", "-MMD", "-MF", DEP, "-MT", "a.o"],
        "/home/u/a.o",
    ),
    (
        ["-c", "/home/u/a.c", "-o", "/home/u/obj/a.o"],
        [
            "-c",
            f"{ROOT}/home/u/a.c",
            "-o",
            f"{ROOT}/home/u/obj/a.o",
            "-MMD",
            "-MF",
            DEP,
            "-MT",
            "/home/u/obj/a.o",
        ],
        "/home/u/obj/a.o",
    ),
    (  # joined and separate forms of every path-taking option
        [
            "-c",
            "a.c",
            "-I/i",
            "-I",
            "/j",
            "-Irel",
            "-iquote",
            "/q",
            "-isystem/s",
            "-idirafter",
            "/d",
            "-include",
            "/h.h",
            "-imacros/m.h",
            "-iprefix",
            "/p/",
            "-iwithprefix",
            "w",
            "-iwithprefixbefore/wb",
            "-o",
            "x.o",
        ],
        [
            "-c",
            "a.c",
            f"-I{ROOT}/i",
            "-I",
            f"{ROOT}/j",
            "-Irel",
            "-iquote",
            f"{ROOT}/q",
            f"-isystem{ROOT}/s",
            "-idirafter",
            f"{ROOT}/d",
            "-include",
            f"{ROOT}/h.h",
            f"-imacros{ROOT}/m.h",
            "-iprefix",
            f"{ROOT}/p/",
            "-iwithprefix",
            "w",
            f"-iwithprefixbefore{ROOT}/wb",
            "-o",
            "x.o",
            "-MMD",
            "-MF",
            DEP,
            "-MT",
            "x.o",
        ],
        "/home/u/x.o",
    ),
    (  # the user's maps re-rooted after ours; -B and -L untouched; sysroot not shipped
        [
            "-c",
            "a.c",
            "-ffile-prefix-map=/home/u=.",
            "-fdebug-prefix-map=rel=x",
            "-B/opt/bin",
            "--sysroot=/sys",
            "-o",
            "a.o",
        ],
        [
            "-c",
            "a.c",
            f"-ffile-prefix-map={ROOT}/home/u=.",
            "-fdebug-prefix-map=rel=x",
            "-B/opt/bin",
            "--sysroot=/sys",
            "-o",
            "a.o",
            "-MMD",
            "-MF",
            DEP,
            "-MT",
            "a.o",
        ],
        "/home/u/a.o",
    ),
    (  # the user's .d: -MF replaced, targets kept as the user gave them
        ["-c", "a.c", "-MD", "-MF", "dep/a.d", "-MT", "/x/tgt", "-MQ", "$y"],
        ["-c", "a.c", "-MD", "-MT", "/x/tgt", "-MQ", "$y", "-o", "a.o", "-MF", DEP],
        "/home/u/a.o",
    ),
    (  # -Wp,-MD,f: cpp's default target (the source's basename), not the -o name
        ["-c", "src/a.c", "-Wp,-MD,a.d", "-o", "obj/b.o"],
        ["-c", "src/a.c", "-MD", "-o", "obj/b.o", "-MF", DEP, "-MT", "a.o"],
        "/home/u/obj/b.o",
    ),
    (  # -MMD -o: the -o name as the target; ../ in the output is resolved
        ["-c", "a.c", "-MMD", "-o", "../b.o"],
        ["-c", "a.c", "-MMD", "-o", "../b.o", "-MF", DEP, "-MT", "../b.o"],
        "/home/b.o",
    ),
]


@pytest.mark.parametrize(("argv", "expected", "output"), CASES)
def test_mirror_argv(argv: list[str], expected: list[str], output: str) -> None:
    cmd = mirror_argv(job(*argv), ROOT, "/home/u", DEP, lambda p: False)
    assert cmd.argv == ["gcc", MAP, *expected]
    assert cmd.output == output
    assert cmd.dwo is None


def test_sysroot_rerooted_when_shipped() -> None:
    cmd = mirror_argv(job("-c", "a.c", "--sysroot", "/sys"), ROOT, "/", DEP, {"/sys"}.__contains__)
    assert cmd.argv[4:6] == ["--sysroot", f"{ROOT}/sys"]


def test_split_dwarf_names_the_dwo_beside_the_output() -> None:
    cmd = mirror_argv(
        job("-c", "a.c", "-g", "-gsplit-dwarf", "-o", "o/a.o"), ROOT, "/w", DEP, lambda p: False
    )
    assert cmd.dwo == "/w/o/a.dwo"
    assert "o/a.o" in cmd.argv
