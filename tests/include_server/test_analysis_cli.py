"""``include-analysis`` run as users run it (the launcher of this checkout)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from include_server.analysis_cli import parse_make_deps

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "include_server"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "computed"
    shutil.copytree(TESTDATA / "computed", dest)
    return dest.resolve()


def run(tool_bin: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool_bin / "include-analysis"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_list_and_check(tool_bin: Path, project: Path) -> None:
    proc = run(tool_bin, project, "--check", "--stats", "--", "gcc", "-Iinc", "-c", "main.c")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == str(project / "main.c")
    assert str(project / "plat_a.h") in lines and str(project / "inc" / "angled.h") in lines
    assert not any(line.startswith("/usr/") for line in lines)
    assert "over-approximation" in proc.stderr


def test_system_and_json(tool_bin: Path, project: Path) -> None:
    proc = run(
        tool_bin,
        project,
        "--system",
        "--check",
        "--format",
        "json",
        "--",
        "gcc",
        "-Iinc",
        "-c",
        "main.c",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["covered"] and doc["source"] == str(project / "main.c")
    assert any(f["path"] == "/usr/include/stdc-predef.h" and f["system"] for f in doc["files"])


def test_tree(tool_bin: Path, project: Path) -> None:
    proc = run(tool_bin, project, "--format", "tree", "--", "gcc", "-Iinc", "-c", "main.c")
    assert proc.returncode == 0
    assert f"  {project / 'config.h'}" in proc.stdout.splitlines()


def test_check_names_what_the_closure_misses(tool_bin: Path, project: Path) -> None:
    # -Xpreprocessor -I is not modelled as a search directory: --check must say so.
    (project / "hidden").mkdir()
    (project / "hidden" / "angled.h").write_text("/* hidden */\n")
    (project / "inc" / "angled.h").unlink()
    proc = run(
        tool_bin, project, "--check", "--", "gcc", "-Xpreprocessor", "-Ihidden", "-c", "main.c"
    )
    assert proc.returncode == 1
    assert f"missing from closure: {project / 'hidden' / 'angled.h'}" in proc.stderr


def test_not_covered_and_not_a_compile(tool_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "self.c").write_text("#include __FILE__\n")
    proc = run(tool_bin, tmp_path, "--", "gcc", "-c", "self.c")
    assert proc.returncode == 3 and "not covered" in proc.stderr
    assert run(tool_bin, tmp_path, "--", "gcc", "a.o", "-o", "prog").returncode == 2


def test_parse_make_deps() -> None:
    text = "x.o: x.c a\\ b.h \\\n  /usr/include/c,d.h $$e.h\n"
    assert parse_make_deps(text) == ["x.c", "a b.h", "/usr/include/c,d.h", "$e.h"]


def test_cpath_dirs_are_user_dirs(tool_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "envinc").mkdir()
    (tmp_path / "envinc" / "fromenv.h").write_text("/* from CPATH */\n")
    (tmp_path / "main.c").write_text("#include <fromenv.h>\n")
    env = {**os.environ, "CPATH": str(tmp_path / "envinc")}
    proc = subprocess.run(
        [str(tool_bin / "include-analysis"), "--check", "--", "gcc", "-c", "main.c"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path.resolve() / "envinc" / "fromenv.h") in proc.stdout.splitlines()
