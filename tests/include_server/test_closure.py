"""Closures of the hard cases in testdata/include_server, each checked against gcc -M."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from include_server.analysis_cli import parse_make_deps
from include_server.cache import Analyzer

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "include_server"

# case dir, cwd (relative to the case), compile args, files that must be in the closure,
# files that must not be (gcc would not open them).
CASES = [
    (
        "computed",
        ".",
        ["-Iinc", "main.c"],
        ["config.h", "plat_a.h", "plat_b.h", "plat_x.h", "plat_y.h", "inc/angled.h"],
        [],
    ),
    ("computed", ".", ["-Iinc", "-DUSE_A", "main.c"], ["plat_a.h", "plat_x.h"], []),
    (
        "next",
        ".",
        ["-Ia", "-Ib", "-Ic", "main.c"],
        ["a/w.h", "b/w.h", "c/w.h", "a/limits.h", "/usr/include/limits.h"],
        [],
    ),
    ("symlinks", ".", ["main.c"], ["real/hdr.h", "farm/sibling.h", "real/subdir/x.h"], []),
    ("dotdot", ".", ["main.c"], ["up.h"], []),
    ("dirheader", ".", ["-Id1", "-Id2", "main.c"], ["d2/thing.h"], []),
    ("samename", ".", ["-Ione", "-Itwo", "main.c"], ["one/common.h"], ["two/common.h"]),
    (
        "idash",
        ".",
        ["-Iq", "-I-", "-Ib", "src/main.c"],
        ["q/local.h", "b/b.h"],
        ["src/local.h", "q/b.h"],
    ),
    ("if0", ".", ["main.c"], [], []),
    ("names", ".", ["main.c"], ["smart1,2.h", "with space.h"], []),
    ("comments", ".", ["main.c"], ["yes.h", "cont.h", "after_string.h", "latin1.h"], []),
    ("hasinc", ".", ["main.c"], ["maybe.h"], []),
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the testdata (git keeps no empty directories; make them empty here)."""
    dest = tmp_path_factory.mktemp("cases") / "include_server"
    shutil.copytree(TESTDATA, dest, symlinks=True)
    (dest / "dotdot" / "empty" / ".keep").unlink()
    return dest.resolve()


def gcc_deps(args: list[str], cwd: Path) -> set[str]:
    out = subprocess.run(
        ["gcc", "-M", *args], cwd=cwd, capture_output=True, text=True, errors="replace", check=True
    ).stdout
    return {os.path.realpath(os.path.join(cwd, d)) for d in parse_make_deps(out)}


@pytest.mark.parametrize(("case", "cwd", "args", "present", "absent"), CASES)
def test_case(
    tree: Path, case: str, cwd: str, args: list[str], present: list[str], absent: list[str]
) -> None:
    where = (tree / case / cwd).resolve()
    analysis = Analyzer().analyze(["gcc", "-c", *args], str(where))
    closure = analysis.closure
    assert closure is not None
    assert closure.covered, closure.not_covered
    paths = {f.path for f in closure.files}
    for name in present:
        assert os.path.realpath(where / name) in paths, name
    for name in absent:
        assert os.path.realpath(where / name) not in paths, name
    # Differential: everything gcc opens is in the closure.
    assert gcc_deps(args, where) <= paths


def test_opened_names_are_as_gcc_forms_them(tree: Path) -> None:
    where = tree / "next"
    closure = Analyzer().analyze(["gcc", "-c", "-Ia", f"-I{where}/b", "main.c"], str(where))
    assert closure.closure is not None
    opened = {f.path: f.opened for f in closure.closure.files}
    assert opened[str(where / "main.c")] == "main.c"
    assert opened[str(where / "a" / "w.h")] == "a/w.h"  # relative -I: relative name
    assert opened[str(where / "b" / "w.h")] == f"{where}/b/w.h"  # absolute -I: absolute


def test_dotdot_directory_must_exist(tree: Path) -> None:
    closure = Analyzer().analyze(["gcc", "-c", "main.c"], str(tree / "dotdot")).closure
    assert closure is not None
    assert str(tree / "dotdot" / "empty") in closure.must_exist


def test_symlinks_listed(tree: Path) -> None:
    closure = Analyzer().analyze(["gcc", "-c", "main.c"], str(tree / "symlinks")).closure
    assert closure is not None
    links = dict(closure.symlinks)
    assert links[str(tree / "symlinks" / "farm" / "hdr.h")] == "../real/hdr.h"
    assert links[str(tree / "symlinks" / "farm" / "sub")] == "../real/subdir"


def test_if0_missing_is_reported_not_fatal(tree: Path) -> None:
    closure = Analyzer().analyze(["gcc", "-c", "main.c"], str(tree / "if0")).closure
    assert closure is not None and closure.covered
    assert [m.name for m in closure.missing] == ["does_not_exist.h"]


def test_absolute_include(tmp_path: Path) -> None:
    header = tmp_path / "abs dir" / "abs.h"
    header.parent.mkdir()
    header.write_text("/* abs */\n")
    (tmp_path / "main.c").write_text(f'#include "{header}"\nint main(void) {{ return 0; }}\n')
    closure = Analyzer().analyze(["gcc", "-c", "main.c"], str(tmp_path)).closure
    assert closure is not None and closure.covered
    assert str(header) in {f.path for f in closure.files}


def test_computed_include_of_file_position_macro_is_not_covered(tmp_path: Path) -> None:
    (tmp_path / "main.c").write_text("int x;\n#define SELF __FILE__\n#include SELF\n")
    closure = Analyzer().analyze(["gcc", "-c", "main.c"], str(tmp_path)).closure
    assert closure is not None and not closure.covered
    (entry,) = closure.not_covered
    assert (entry.file, entry.line) == (str(tmp_path / "main.c"), 3)
    assert "__FILE__" in entry.reason


def test_computed_include_without_any_definition_opens_nothing(tmp_path: Path) -> None:
    # lua.h: "#if defined(LUA_USER_H) / #include LUA_USER_H": dead unless someone defines it.
    (tmp_path / "main.c").write_text("#include NOWHERE_DEFINED\n")
    closure = Analyzer().analyze(["gcc", "-c", "main.c"], str(tmp_path)).closure
    assert closure is not None and closure.covered
    assert [m.line for m in closure.missing] == [1]
    (tmp_path / "user.h").write_text("/* user */\n")
    closure = (
        Analyzer()
        .analyze(["gcc", "-c", '-DNOWHERE_DEFINED="user.h"', "main.c"], str(tmp_path))
        .closure
    )
    assert closure is not None and str(tmp_path / "user.h") in {f.path for f in closure.files}


def test_digest_and_size(tree: Path) -> None:
    import hashlib

    closure = Analyzer().analyze(["gcc", "-c", "main.c"], str(tree / "dotdot")).closure
    assert closure is not None
    entry = next(f for f in closure.files if f.path.endswith("/up.h"))
    data = (tree / "dotdot" / "up.h").read_bytes()
    assert entry.size == len(data)
    assert entry.digest == "blake2b:" + hashlib.blake2b(data, digest_size=32).hexdigest()


def test_forced_includes_and_imacros(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "inc").mkdir()
    (root / "forced.h").write_text("/* forced, found in cwd first */\n")
    (root / "inc" / "macros.h").write_text('#define TARGET_HEADER "target.h"\n')
    (root / "inc" / "target.h").write_text("/* named by a macro from -imacros */\n")
    (root / "main.c").write_text("#include TARGET_HEADER\n")
    argv = ["gcc", "-c", "-Iinc", "-include", "forced.h", "-imacros", "macros.h", "main.c"]
    closure = Analyzer().analyze(argv, str(root)).closure
    assert closure is not None and closure.covered, closure
    paths = {f.path for f in closure.files}
    assert {str(root / "forced.h"), str(root / "inc" / "macros.h")} <= paths
    assert str(root / "inc" / "target.h") in paths
    assert gcc_deps(argv[2:], root) <= paths
