"""Preprocessing without the driver (client/directcpp.py), against the real gcc and clang.

The property that matters: cc1 run from a recorded translation writes the same ``.i`` and
the same ``.d`` as ``gcc -E`` would, for other sources, outputs and targets of the shape.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from client import directcpp
from client.proc import TempFiles, spawn, wait, which

ENV = {k: v for k, v in os.environ.items() if k not in directcpp.REFUSED_ENV}


def _shape(argv: list[str], source: str, env: dict[str, str] = ENV) -> directcpp.Shape | None:
    driver = which(argv[0], env.get("PATH", os.defpath))
    assert driver is not None
    return directcpp.shape_of(argv, env, source, driver)


def _cpp(stem: str, tmp: Path, source: str, extra: list[str], dep: str, target: str) -> list[str]:
    return [
        "gcc",
        *extra,
        "-E",
        source,
        "-MD",
        "-MF",
        dep,
        "-MT",
        target,
        "-o",
        str(tmp / f"distcc_{stem}.i"),
    ]


def test_jobs_of_one_shape_share_a_key() -> None:
    a = _shape(
        ["gcc", "-O2", "-E", "a.c", "-MF", "x.d", "-MT", "a.o", "-o", "/t/distcc_1.i"], "a.c"
    )
    b = _shape(
        ["gcc", "-O2", "-E", "sub/b.c", "-MF", "y.d", "-MT", "b.o", "-o", "/t/distcc_2.i"],
        "sub/b.c",
    )
    assert a is not None and b is not None
    assert a.key == b.key
    other_flags = _shape(["gcc", "-O1", "-E", "a.c", "-o", "/t/distcc_1.i"], "a.c")
    other_suffix = _shape(["gcc", "-O2", "-E", "a.cc", "-o", "/t/distcc_1.i"], "a.cc")
    other_dir = _shape(["gcc", "-O2", "-E", "a.c", "-o", "/u/distcc_1.i"], "a.c")
    keys = {x.key for x in (other_flags, other_suffix, other_dir) if x is not None}
    assert len(keys) == 3 and a.key not in keys


@pytest.mark.parametrize(
    "argv",
    [
        ["gcc", "-B/opt/x", "-E", "a.c", "-o", "/t/distcc_1.i"],
        ["gcc", "-specs=my.specs", "-E", "a.c", "-o", "/t/distcc_1.i"],
        ["gcc", "-save-temps", "-E", "a.c", "-o", "/t/distcc_1.i"],
        ["gcc", "-Wp,-MD,x.d", "-E", "a.c", "-o", "/t/distcc_1.i"],
        ["gcc", "@args", "-E", "a.c", "-o", "/t/distcc_1.i"],
        ["gcc", "-wrapper", "gdb", "-E", "a.c", "-o", "/t/distcc_1.i"],
        ["gcc", "-E", "a.c", "-MFx.d", "-o", "/t/distcc_1.i"],  # joined -MF
        ["gcc", "-E", "a.c", "-o/t/distcc_1.i"],  # joined -o
        ["gcc", "-E", "a.c", "-o", "/t/dist cc.i"],  # an output name that is no stem
        ["gcc", "-E", "a.c", "-MT", "it's.o", "-o", "/t/distcc_1.i"],  # a quote
        ["gcc", "-E", "a.c", "a.c", "-o", "/t/distcc_1.i"],  # the source twice
        ["gcc", "-E", "-o", "/t/distcc_1.i"],  # no source
    ],
)
def test_commands_left_to_the_driver(argv: list[str]) -> None:
    assert _shape(argv, "a.c") is None


def test_dependency_environment_is_left_to_the_driver() -> None:
    argv = ["gcc", "-E", "a.c", "-o", "/t/distcc_1.i"]
    assert _shape(argv, "a.c") is not None
    assert _shape(argv, "a.c", {**ENV, "DEPENDENCIES_OUTPUT": "x.d"}) is None


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> int:
    here = os.getcwd()
    os.chdir(cwd)
    try:
        return wait(spawn(argv, env))
    finally:
        os.chdir(here)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src" / "inc").mkdir(parents=True)
    (tmp_path / "src" / "inc" / "conf.h").write_text('#define GREETING "hi"\n')
    (tmp_path / "src" / "one.c").write_text(
        '#include <stdio.h>\n#include "conf.h"\nint main(void) { puts(GREETING); return 0; }\n'
    )
    (tmp_path / "src" / "two.c").write_text(
        '#include "conf.h"\n#ifdef EXTRA\nint extra = EXTRA;\n#endif\nconst char *g = GREETING;\n'
    )
    (tmp_path / "src" / "three.cc").write_text("#include <vector>\nstd::vector<int> v;\n")
    (tmp_path / "tmp").mkdir()
    return tmp_path / "src"


@pytest.mark.parametrize(
    ("compiler", "extra", "sources"),
    [
        ("gcc", ["-O2", "-g", "-Iinc", "-DEXTRA=3"], ["one.c", "two.c", "./two.c"]),
        ("gcc", ["-std=c11", "-Iinc", "-x", "c"], ["one.c", "two.c", "one.c"]),
        ("g++", ["-O2", "-g"], ["three.cc", "three.cc", "three.cc"]),
    ],
)
def test_direct_cc1_writes_what_the_driver_writes(
    project: Path, tmp_path: Path, compiler: str, extra: list[str], sources: list[str]
) -> None:
    table_dir = tmp_path / "distcc"
    table_dir.mkdir()
    tmp = tmp_path / "tmp"
    env = dict(ENV)
    ran_direct = 0
    for n, source in enumerate(sources * 2):
        stem = f"{n:x}abc{n}"
        argv = _cpp(stem, tmp, source, extra, f"dep{n}.d", f"obj/{n}.o")
        argv[0] = compiler
        shape = _shape(argv, source)
        assert shape is not None
        table = directcpp.Table(str(table_dir))
        found = directcpp.direct(table, shape, env)
        if found is None:
            if directcpp.note_seen(table, shape):
                directcpp.record(table, shape, env, TempFiles(str(tmp)))
            continue
        ran_direct += 1
        # The driver's own output, then cc1's, from the same command.
        assert _run(argv, env, project) == 0
        by_driver = (tmp / f"distcc_{stem}.i").read_bytes(), (project / f"dep{n}.d").read_bytes()
        os.unlink(tmp / f"distcc_{stem}.i")
        os.unlink(project / f"dep{n}.d")
        cc1_argv, cc1_env = found
        assert os.path.basename(cc1_argv[0]).startswith("cc1")
        assert _run(cc1_argv, cc1_env, project) == 0
        direct = (tmp / f"distcc_{stem}.i").read_bytes(), (project / f"dep{n}.d").read_bytes()
        assert direct == by_driver, f"{source}: cc1 and the driver disagree"
        assert f"obj/{n}.o:".encode() in direct[1]
    assert ran_direct == 4  # seen, recorded, then direct for the other four
    assert not [p for p in tmp.iterdir() if "cpprec" in p.name]  # recording leaves nothing


def _recorded(
    tmp_path: Path, env: dict[str, str] = ENV
) -> tuple[Path, directcpp.Table, directcpp.Shape]:
    """A table in ``tmp_path/distcc`` with the translation of one cpp command of two.c,
    arrived at as jobs would: seen, seen again (so recorded), recorded."""
    table_dir = tmp_path / "distcc"
    table_dir.mkdir()
    argv = _cpp("1a", tmp_path / "tmp", "two.c", ["-Iinc"], "d.d", "t.o")
    shape = _shape(argv, "two.c", env)
    assert shape is not None
    table = directcpp.Table(str(table_dir))
    assert not directcpp.note_seen(table, shape)
    assert directcpp.note_seen(table, shape)
    directcpp.record(table, shape, env, TempFiles(str(tmp_path / "tmp")))
    return table_dir, table, shape


def test_a_changed_compiler_is_not_run_directly(project: Path, tmp_path: Path) -> None:
    table_dir, table, shape = _recorded(tmp_path)
    assert directcpp.direct(directcpp.Table(str(table_dir)), shape, ENV) is not None
    # cc1 replaced (size differs from the recording): back to the driver.
    entry = table.entries[shape.key]
    assert isinstance(entry, tuple)
    table.save(shape.key, (entry[0], entry[1] + 1, *entry[2:]))
    assert directcpp.direct(directcpp.Table(str(table_dir)), shape, ENV) is None


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
def test_clang_keeps_its_driver(project: Path, tmp_path: Path) -> None:
    argv = ["clang", "-Iinc", "-E", "two.c", "-o", str(tmp_path / "tmp" / "distcc_1.i")]
    assert _shape(argv, "two.c") is None


def test_a_damaged_table_is_ignored(tmp_path: Path) -> None:
    (tmp_path / directcpp.FILE_NAME).write_bytes(b"\x00not marshal")
    assert directcpp.Table(str(tmp_path)).entries == {}


def test_a_table_others_can_write_is_not_trusted(project: Path, tmp_path: Path) -> None:
    table_dir, _, shape = _recorded(tmp_path)
    path = table_dir / directcpp.FILE_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    assert directcpp.direct(directcpp.Table(str(table_dir)), shape, ENV) is not None
    path.chmod(0o666)  # as if planted in a shared DISTCC_DIR
    assert directcpp.Table(str(table_dir)).entries == {}


def test_a_wrapper_in_place_of_the_driver_keeps_the_driver(tmp_path: Path) -> None:
    """A script named gcc may depend on anything (here a variable): never replayed."""
    wrapper = tmp_path / "gcc"
    wrapper.write_text('#!/bin/sh\nexec /usr/bin/gcc $MYCC_FLAGS "$@"\n')
    wrapper.chmod(0o755)
    env = {**ENV, "PATH": f"{tmp_path}:{ENV.get('PATH', '')}"}
    argv = ["gcc", "-E", "a.c", "-o", "/t/distcc_1.i"]
    assert _shape(argv, "a.c", env) is None
    assert _shape(argv, "a.c") is not None  # the real one


def test_the_recorded_environment_is_what_cc1_got(project: Path, tmp_path: Path) -> None:
    """No shell in between: PWD is not invented, odd variable names are kept."""
    env = {k: v for k, v in ENV.items() if k != "PWD"}
    env["my.var"] = "1"
    table_dir, _, shape = _recorded(tmp_path, env)
    entry = directcpp.Table(str(table_dir)).entries[shape.key]
    assert isinstance(entry, tuple)
    added, removed = entry[4], entry[5]
    assert set(added) == {"COLLECT_GCC", "COLLECT_GCC_OPTIONS"} | {
        k for k in added if k.startswith("OFFLOAD_")
    }
    assert removed == ()
    assert not [p for p in (tmp_path / "tmp").iterdir() if "cpprec" in p.name]


def test_shapes_seen_once_do_not_pile_up(tmp_path: Path) -> None:
    """A build whose every command differs (a per-file -D) leaves a small table."""
    table_dir = tmp_path / "distcc"
    table_dir.mkdir()
    sizes = []
    for n in range(3 * directcpp.MAX_SEEN):
        shape = _shape(["gcc", f"-DFILE={n}", "-E", "a.c", "-o", "/t/distcc_1.i"], "a.c")
        assert shape is not None
        assert not directcpp.note_seen(directcpp.Table(str(table_dir)), shape)
        sizes.append(len(directcpp.Table(str(table_dir)).entries))
    assert max(sizes) == directcpp.MAX_SEEN
    # A shape seen again right away is still recorded on its second sighting.
    table = directcpp.Table(str(table_dir))
    assert directcpp.note_seen(table, shape)
