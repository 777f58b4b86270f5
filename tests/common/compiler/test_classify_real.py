"""Differential tests of classify's .d and .dwo rules against the real gcc and clang.

For each command, the compiler runs in a fresh tree; the files it creates must be exactly
the output, ``job.dep.path`` and ``job.dwo``, and the .d file's targets, system headers
and phony rules must be what ``job.dep`` says.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from common.compiler.classify import classify
from common.compiler.job import CompileJob, LocalReason, RunLocally
from tests.common.compiler.realcc import COMPILERS, env_file, files, make_tree, run

# (arguments after the compiler, environment)
DEP_CASES: list[tuple[str, dict[str, str]]] = [
    # distcc's DotD_Case rows
    ("-c foo.c -o hello.o -MD", {}),
    ("-c foo.c -o hello.. -MD", {}),
    ("-c foo.c -o hello.bar.foo -MD", {}),
    ("-c foo.c -o hello.o", {}),
    ("-c foo.c -MD", {}),
    ("-c foo.c -o hello. -MD", {}),
    ("-c foo.c -o hello. -MD -MT tootoo", {}),
    ("-c foo.c -o hello.o -MD -MT tootoo", {}),
    ("-c foo.c -o hello.o -MD -MF foobar", {}),
    ("-c foo.cpp -o hello.o", {}),
    ("-c foo.cpp -o hello", {}),
    ("-c foo.c", {"DEPENDENCIES_OUTPUT": "xxx.d yyy"}),
    ("-c foo.c", {"DEPENDENCIES_OUTPUT": "zzz.d"}),
    # ours
    ("-c foo.c -MMD", {}),
    ("-c foo.c -MMD -MP", {}),
    ("-c foo.c -MD -MMD", {}),
    ("-c foo.c -MMD -MD", {}),
    ("-c foo.c -o hello -MD", {}),
    ("-c foo.c -o sub/x.o -MD", {}),
    ("-c foo.c -o d.x/y -MMD -MP", {}),
    ("-S foo.c -MD", {}),
    ("-S foo.c -o sub/x.s -MD", {}),
    ("-c foo.c -Wp,-MD,deps/dd -o sub/x.o", {}),
    ("-c foo.c -Wp,-MMD,sub/dd", {}),
    ("-c foo.c -MD -MT 'a$b' -MQ 'a$b c' -MP", {}),
    ("-c foo.c -MD -o 'a$b#c d.o'", {}),
    ("-c -MD foo.c -ofoo2.o", {}),
    ("-c foo.c -MD -MFsub/joined.d -MTjt", {}),
    ("-x c -c foo.c -MD -o sub/x.o", {}),
    ("-c foo.c -MD -MF sub/dd -MQ sub/x.o -o sub/x.o", {}),
    ("-c foo.c -MF ff", {}),
    ("-c foo.c -o sub/x.o", {"DEPENDENCIES_OUTPUT": "env.d"}),
    ("-c foo.c -o sub/x.o", {"SUNPRO_DEPENDENCIES": "env.d tgt"}),
    ("-c foo.c -o sub/x.o -MD", {"DEPENDENCIES_OUTPUT": "env.d"}),
    ("-c foo.c -o sub/x.o -MT t -MQ 'q$'", {"DEPENDENCIES_OUTPUT": "env.d"}),
    ("-c foo.c -o sub/x.o -MP -MF deps/y.d", {"DEPENDENCIES_OUTPUT": "env.d"}),
    ("-c foo.c -o sub/x.o -MP", {"SUNPRO_DEPENDENCIES": "env.d tgt"}),
    ("-c foo.c -MT t", {"DEPENDENCIES_OUTPUT": "env.d tgt"}),
    ("-c src/bar.c -MD", {}),
    ("-c src/bar.c -MMD -MP -o sub/bar.o", {}),
    ("-S src/bar.c -MD", {}),
    ("-c foo.cpp -MMD -MP -o sub/foo.o", {}),
    # preprocessed input: cpp does not run
    ("-c pre.i -MD", {}),
    ("-c pre.i -MMD -MF x.d -o sub/x.o", {}),
    ("-c pre.i -MF x.d", {}),
    ("-x cpp-output -c pre.i -MD -o sub/x.o", {}),
    ("-c pre.i -o sub/x.o", {"DEPENDENCIES_OUTPUT": "env.d tgt"}),
    ("-c pre.i -o sub/x.o", {"DEPENDENCIES_OUTPUT": "env.d"}),
]


def _ids(case: tuple[str, dict[str, str]]) -> str:
    args, env = case
    return args + "".join(f" [{k}={v}]" for k, v in env.items())


@pytest.mark.parametrize("cc", COMPILERS)
@pytest.mark.parametrize("case", DEP_CASES, ids=[_ids(c) for c in DEP_CASES])
def test_dep_rules_match_the_compiler(
    tmp_path: Path, cc: str, case: tuple[str, dict[str, str]]
) -> None:
    args, env = case
    tree = make_tree(tmp_path / "t")
    argv = [cc, *shlex.split(args)]
    job = classify(argv, env)
    prefilled = env_file(env)
    if prefilled:
        (tree / prefilled).write_text("old:\n")
    if isinstance(job, CompileJob) and job.dep is not None and job.dep.append:
        prefilled = job.dep.path
        (tree / prefilled).write_text("old:\n")
    before = files(tree)
    status = run(argv, tree, env)
    if isinstance(job, RunLocally):
        if job.reason == LocalReason.DEPENDENCY_SIDE_EFFECT:
            return  # not modelled: runs locally, nothing to compare
        assert job.reason == LocalReason.BAD_ARGUMENTS, job
        assert status != 0, "classify said the compiler refuses this, but it accepted it"
        return
    assert status == 0
    created = files(tree) - before
    expected = {job.output}
    if job.dep is not None and not job.dep.append:
        expected.add(job.dep.path)
    assert created == expected
    env_named = env_file(env)
    if env_named and (job.dep is None or job.dep.path != env_named):
        assert (tree / env_named).read_text() == "old:\n"  # untouched
    if job.dep is None:
        return
    text = (tree / job.dep.path).read_text()
    if job.dep.append:
        assert text.startswith("old:\n")
        text = text[len("old:\n") :]
    if job.preprocessed:
        assert text == f"{job.dep.targets[0]}: {job.source}\n"
        return
    rule, *rest = text.replace("\\\n", " ").split("\n")
    targets, _, deps = rule.partition(": ")
    assert targets == " ".join(job.dep.targets)
    assert ("stddef.h" in deps) is job.dep.system_headers
    assert any(line.endswith("foo.h:") for line in rest) is job.dep.phony_targets


DWO_CASES = [
    "-c foo.c -g -gsplit-dwarf",
    "-c foo.c -gsplit-dwarf",
    "-c foo.c -g -gsplit-dwarf -o sub/x.o",
    "-c foo.c -g -gsplit-dwarf -o hello",
    "-c foo.c -g -gsplit-dwarf -o hello.bar.foo",
    "-c foo.c -g -gsplit-dwarf -o hello.",
    "-c foo.c -g -gsplit-dwarf -o d.x/y",
    "-S foo.c -g -gsplit-dwarf",
    "-S foo.c -g -gsplit-dwarf -o sub/x.s",
    "-c -S foo.c -g -gsplit-dwarf -o sub/x.s",
    "-c foo.c -g -gsplit-dwarf -gno-split-dwarf",
    "-c foo.c -g0 -gsplit-dwarf",
    "-c foo.c -gsplit-dwarf -g0",
    "-c foo.c -ggdb3 -gsplit-dwarf",
    "-c foo.c -gdwarf-4 -gsplit-dwarf",
    "-c foo.c -g -gsplit-dwarf=single",
    "-c foo.c -g -gsplit-dwarf=split -o sub/x.o",
    "-c foo.cpp -g -gsplit-dwarf -o sub/foo.o",
    "-c foo.c -g -gsplit-dwarf -o sub/x.o -MD",
    "-c src/bar.c -g -gsplit-dwarf",
    "-c foo.c -gline-tables-only -gsplit-dwarf",
    "-c foo.c -g -gz -gsplit-dwarf",
    "-c foo.c -gsplit-dwarf -g3",
    "-c foo.c -gsplit-dwarf -gcolumn-info",
    "-S src/bar.c -g -gsplit-dwarf -o sub/bar.s",
]


@pytest.mark.parametrize("cc", COMPILERS)
@pytest.mark.parametrize("args", DWO_CASES)
def test_dwo_rule_matches_the_compiler(tmp_path: Path, cc: str, args: str) -> None:
    if cc == "gcc" and "-gline-tables-only" in args:
        pytest.skip("a clang-only option")
    tree = make_tree(tmp_path / "t")
    argv = [cc, *shlex.split(args)]
    job = classify(argv)
    before = files(tree)
    status = run(argv, tree)
    if isinstance(job, RunLocally):
        assert job.reason == LocalReason.BAD_ARGUMENTS, job
        assert status != 0
        return
    assert isinstance(job, CompileJob)
    assert status == 0
    created = files(tree) - before
    assert created == set(job.outputs())
    assert {f for f in created if f.endswith(".dwo")} == ({job.dwo} if job.dwo else set())
