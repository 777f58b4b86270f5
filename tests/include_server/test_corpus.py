"""Differential: for every TU of lua5.4 and redis, the closure contains all of ``gcc -M``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from include_server.analysis_cli import dependency_command, parse_make_deps
from include_server.cache import Analyzer

# Appended, not prepended: bench/common.py must not shadow the ``common`` package.
sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))
import corpus


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lua5.4", "redis"])
def test_closure_contains_gcc_M(name: str, tmp_path: Path) -> None:
    _tree, commands = corpus.compile_commands(name)
    assert len(commands) > 30
    analyzer = Analyzer()
    failures: list[str] = []
    extra_total = gcc_total = 0
    for cwd, argv in commands:
        analysis = analyzer.analyze(argv, cwd)
        assert analysis.closure is not None and analysis.job is not None, (argv, analysis.reason)
        closure = analysis.closure
        assert closure.covered, (argv, closure.not_covered)
        dep_file = tmp_path / "deps.d"
        cmd = dependency_command(analysis.job, True, str(dep_file))
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        gcc = {
            os.path.realpath(os.path.join(cwd, d)) for d in parse_make_deps(dep_file.read_text())
        }
        ours = {f.path for f in closure.files}
        missed = gcc - ours
        if missed:
            failures.append(f"{cwd} {' '.join(argv)}: missing {sorted(missed)}")
        extra_total += len(ours - gcc)
        gcc_total += len(gcc)
    print(
        f"{name}: {len(commands)} TUs, gcc -M {gcc_total} files, "
        f"over-approximation {extra_total} files ({extra_total / gcc_total:.1%})"
    )
    assert not failures, "\n".join(failures[:20])
