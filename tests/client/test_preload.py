"""The client's start-up cache (client/__init__.py, client/preload_build.py).

Each test runs a fresh ``python -S`` on a copy of the ``client`` and ``common`` packages,
so that the cache under test and any edit to a module stay in the test's directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from client import preload_build
from tests.conftest import REPO

# Run in the child: preload the cache at CACHE, import what a compile imports, report how
# each of our modules was loaded.
PROBE = """
import json, sys
sys.path.insert(0, {root!r})
import client
client.preload({cache!r})
import client.main, client.compile, client.slots, client.remote, common.protocol
from common.compiler.classify import classify
job = classify(("gcc", "-c", "x.c", "-o", "x.o"), {{}})
report = {{
    name: type(getattr(m, "__loader__", None)).__name__
    for name, m in sys.modules.items()
    if name.split(".")[0] in ("client", "common") and name != "client"
}}
report["__rebuild__"] = bool(client._state["rebuild"])
report["__job__"] = type(job).__name__ + ":" + job.source
client.rebuild_preload({cache!r})
print(json.dumps(report))
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for package in ("client", "common"):
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return root


def _probe(root: Path, cache: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-S", "-c", PROBE.format(root=str(root), cache=str(cache))],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    ).stdout
    report: dict[str, object] = json.loads(out)
    return report


def test_without_a_cache_modules_import_from_source_and_the_cache_is_written(tree: Path) -> None:
    cache = tree / "preload.bin"
    report = _probe(tree, cache)
    assert report["__rebuild__"] is True
    assert report["client.compile"] == "SourceFileLoader"
    assert report["__job__"] == "CompileJob:x.c"
    assert cache.is_file() and not (tree / "preload.bin.tmp").exists()


def test_with_the_cache_every_module_comes_from_it(tree: Path) -> None:
    cache = tree / "preload.bin"
    assert preload_build.build(str(cache), str(tree))
    report = _probe(tree, cache)
    assert report["__rebuild__"] is False
    assert report["__job__"] == "CompileJob:x.c"
    loaders = {k: v for k, v in report.items() if not k.startswith("__")}
    # Run up front (the compile path) or served on demand (client.remote, common.protocol):
    # never read from a source or .pyc file.
    assert set(loaders.values()) == {"_Finder"}, loaders
    assert {"client.compile", "client.remote", "common.protocol"} <= set(loaders)


def test_an_edited_module_is_imported_from_its_source_and_the_cache_rebuilt(tree: Path) -> None:
    cache = tree / "preload.bin"
    assert preload_build.build(str(cache), str(tree))
    before = cache.stat().st_mtime_ns
    classify = tree / "common" / "compiler" / "classify.py"
    # Edited so that a stale copy would answer differently: the source is renamed.
    text = classify.read_text()
    classify.write_text(text.replace("def classify(", "def _original_classify(", 1) + PATCH)
    report = _probe(tree, cache)
    assert report["__rebuild__"] is True
    assert report["__job__"] == "CompileJob:patched.c"
    assert report["common.compiler.classify"] == "SourceFileLoader"
    assert cache.stat().st_mtime_ns != before
    # The rebuilt cache has the edit.
    report = _probe(tree, cache)
    assert report["__rebuild__"] is False
    assert report["__job__"] == "CompileJob:patched.c"
    assert report["common.compiler.classify"] == "_Finder"


PATCH = """

def classify(argv, env):
    job = _original_classify(argv, env)
    object.__setattr__(job, "source", "patched.c")
    return job
"""


def test_a_lazily_served_module_edited_since_is_read_from_source(tree: Path) -> None:
    cache = tree / "preload.bin"
    assert preload_build.build(str(cache), str(tree))
    protocol = tree / "common" / "protocol.py"
    protocol.write_text(protocol.read_text() + "\nEDITED = True\n")
    report = _probe(tree, cache)
    assert report["common.protocol"] == "SourceFileLoader"
    assert report["client.compile"] == "_Finder"
    assert report["__rebuild__"] is True


def test_a_damaged_cache_is_ignored_and_replaced(tree: Path) -> None:
    cache = tree / "preload.bin"
    cache.write_bytes(b"\x00garbage")
    report = _probe(tree, cache)
    assert report["__rebuild__"] is True
    assert report["client.compile"] == "SourceFileLoader"
    assert _probe(tree, cache)["client.compile"] == "_Finder"


def test_eager_order_puts_each_module_after_its_parents_and_imports() -> None:
    sources = preload_build.collect(str(REPO))
    order = preload_build.eager_order(sources)
    assert set(preload_build.ROOTS) <= set(order)
    seen: set[str] = set()
    for name in order:
        parent = name.rpartition(".")[0]
        assert not parent or parent in seen or parent not in sources, name
        for dep in sources[name].deps:
            if dep in sources and dep != name:
                assert dep in seen, f"{name} imports {dep} at import time but runs first"
        seen.add(name)


def test_no_place_to_write_means_no_cache_and_no_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the cache directory would be
    assert not preload_build.build(str(blocker / "__pycache__" / "preload.bin"), str(REPO))


def test_a_fresh_temporary_file_means_another_job_is_writing(tmp_path: Path) -> None:
    cache = tmp_path / "preload.bin"
    (tmp_path / "preload.bin.tmp").write_bytes(b"")
    assert not preload_build.build(str(cache), str(REPO))
    assert not cache.exists()
    old = (tmp_path / "preload.bin.tmp").stat().st_mtime - 2 * preload_build.STALE_TMP_SECONDS
    os.utime(tmp_path / "preload.bin.tmp", (old, old))
    assert preload_build.build(str(cache), str(REPO))
    assert cache.is_file() and not (tmp_path / "preload.bin.tmp").exists()


def test_a_copied_tree_does_not_run_the_original_trees_code(tree: Path, tmp_path: Path) -> None:
    cache = tree / "client" / "__pycache__" / "preload.bin"
    assert preload_build.build(str(cache), str(tree))
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)  # the cache comes along, and the sources keep their mtimes
    report = _probe(copy, copy / "client" / "__pycache__" / "preload.bin")
    assert report["client.compile"] == "SourceFileLoader"
    assert report["__rebuild__"] is True
    # ... and the rebuilt cache names the copy's own files.
    report = _probe(copy, copy / "client" / "__pycache__" / "preload.bin")
    assert report["client.compile"] == "_Finder"


def test_a_relative_path_to_the_packages_still_finds_its_cache(tree: Path) -> None:
    """However the packages are reached (here a relative sys.path entry), the cache names
    real paths: the second start uses it, with no rebuild."""
    cache = tree / "client" / "__pycache__" / "preload.bin"
    code = PROBE.format(root=tree.name, cache=str(cache))
    for n in range(2):
        out = subprocess.run(
            [sys.executable, "-S", "-c", code],
            cwd=tree.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        report = json.loads(out)
        assert report["__rebuild__"] is (n == 0)
        assert report["client.compile"] == ("SourceFileLoader" if n == 0 else "_Finder")
