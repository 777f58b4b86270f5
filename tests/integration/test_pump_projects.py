"""Real projects in pump mode: ``pump make -j8`` through two of our daemons, with ``-g -O2``.

For lua5.4 and redis (Debian's sources): every compile runs remotely in pump mode (the
summary shows no fallback), and every object and every ``.d`` file is byte-identical to a
local build of the same tree at the same path (built first, saved, then cleaned).
Both our daemon's protocols are exercised: distcc's protocol 3 (``,cpp,lzo``) and the
native one (``,native``); lua5.4 also with the daemons under ``--sandbox``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.daemons import Daemon
from tests.security.test_sandbox import _namespaces_work

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "get.sh"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus/get.sh not available"),
]

PROJECTS = {
    # name: (get.sh extra args, make arguments, CC value prefix, extra CFLAGS variable)
    "lua5.4": ([], ["linux"], "gcc -std=gnu99", "MYCFLAGS=-g -O2 -MD"),
    "redis": (["--patched"], ["MALLOC=libc", "OPTIMIZATION=-O2"], "gcc", "CFLAGS=-g"),
}
# The same trees built with clang (where installed): "<project>/clang".
CLANG = shutil.which("clang") is not None
if CLANG:
    PROJECTS["lua5.4/clang"] = ([], ["linux"], "clang -std=gnu99", "MYCFLAGS=-g -O2 -MD")


def source_of(project: str) -> str:
    return project.split("/")[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name, (extra, *_rest) in PROJECTS.items():
        if "/" in name:
            continue  # a compiler variant of a tree fetched under its own name
        dest = tmp_path_factory.mktemp("corpus") / name
        subprocess.run(
            [str(CORPUS), name, str(dest), *extra],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        out[name] = dest
    return out


def outputs(tree: Path) -> dict[str, bytes]:
    found = {}
    for pattern in ("*.o", "*.d"):
        for p in tree.rglob(pattern):
            if p.is_file():
                found[str(p.relative_to(tree))] = p.read_bytes()
    return found


def make(tree: Path, project: str, cc: str, env: dict[str, str], pump: list[str]) -> str:
    _extra, args, cc_base, cflags = PROJECTS[project]
    cmd = [
        *pump,
        "make",
        "-j8",
        "-C",
        str(tree / "src") if source_of(project) == "lua5.4" else str(tree),
        *args,
        f"CC={cc} {cc_base}".strip(),
        cflags,
    ]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    return r.stderr


def clean(tree: Path, project: str) -> None:
    # redis's "clean" keeps its deps/ objects; "distclean" removes them too.
    subprocess.run(
        [
            "make",
            "-C",
            str(tree / "src") if source_of(project) == "lua5.4" else str(tree),
            "clean" if source_of(project) == "lua5.4" else "distclean",
        ],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def local_builds(
    corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, bytes]]]:
    """Each project built locally once, at the path the pump builds will use."""
    out = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
    for project in PROJECTS:
        tree = tmp_path_factory.mktemp("pump-projects") / source_of(project)
        shutil.copytree(corpus[source_of(project)], tree, symlinks=True)
        make(tree, project, "", env, [])
        out[project] = (tree, outputs(tree))
    return out


@pytest.mark.parametrize("project", sorted(PROJECTS))
@pytest.mark.parametrize("opts", [",cpp,lzo", ",native"], ids=["protocol3", "native"])
def test_pump_build_identical_to_local(
    project: str,
    opts: str,
    local_builds: dict[str, tuple[Path, dict[str, bytes]]],
    tool_bin: Path,
    workdir: Path,
    clean_env: dict[str, str],
) -> None:
    _pump_build(project, opts, local_builds, tool_bin, workdir, clean_env, ())


@pytest.mark.skipif(not _namespaces_work(), reason="no user namespaces here")
@pytest.mark.parametrize("opts", [",cpp,lzo", ",native"], ids=["protocol3", "native"])
def test_sandboxed_pump_build_identical_to_local(
    opts: str,
    local_builds: dict[str, tuple[Path, dict[str, bytes]]],
    tool_bin: Path,
    workdir: Path,
    clean_env: dict[str, str],
) -> None:
    """``distccd --sandbox``: the compiler chrooted in the mirror root (daemon/chroot.py)."""
    _pump_build("lua5.4", opts, local_builds, tool_bin, workdir, clean_env, ("--sandbox",))


def _pump_build(
    project: str,
    opts: str,
    local_builds: dict[str, tuple[Path, dict[str, bytes]]],
    tool_bin: Path,
    workdir: Path,
    clean_env: dict[str, str],
    extra: tuple[str, ...],
) -> None:
    tree, local = local_builds[project]
    assert len([k for k in local if k.endswith(".o")]) >= 30
    clean(tree, project)
    for k in local:
        (tree / k).unlink(missing_ok=True)

    d1 = Daemon(str(tool_bin / "distccd"), workdir, address="127.0.0.1", jobs=4, extra=extra)
    d2 = Daemon(str(tool_bin / "distccd"), workdir, address="127.0.0.2", jobs=4, extra=extra)
    try:
        env = dict(clean_env)
        env["DISTCC_HOSTS"] = f"{d1.hostspec}/4{opts} {d2.hostspec}/4{opts}"
        summary = make(tree, project, str(tool_bin / "distcc"), env, [str(tool_bin / "pump")])
    finally:
        d1.stop()
        d2.stop()
    ours = outputs(tree)
    assert sorted(ours) == sorted(local)
    differing = sorted(k for k in local if local[k] != ours[k])
    assert differing == []
    m = re.search(
        r"(\d+) distcc job\(s\): (\d+) remote \(pump mode\), (\d+) remote \(plain "
        r"mode\), (\d+) local",
        summary,
    )
    assert m, summary
    objects = len([k for k in local if k.endswith(".o")])
    # Every object was compiled remotely in pump mode (a few are compiled twice by the
    # projects' own makefiles), none in plain mode.
    assert int(m.group(2)) >= objects, summary
    assert int(m.group(3)) == 0, summary
    reasons = re.search(r"by reason: (.*)", summary)
    fallbacks = (
        []
        if reasons is None
        else [r for r in reasons.group(1).split(", ") if r.split()[0] not in NATURALLY_LOCAL]
    )
    assert fallbacks == [], summary


NATURALLY_LOCAL = {"not-compile", "preprocess-only", "no-source"}
