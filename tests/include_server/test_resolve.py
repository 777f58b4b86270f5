"""gcc's search: chain canonicalisation, quote/angle starts, include_next, first hit."""

from __future__ import annotations

from pathlib import Path

from common.compiler.job import CompileJob
from include_server.command import classify_command
from include_server.filesystem import FileSystemView
from include_server.resolve import Resolver
from include_server.search_paths import build_config


def resolver(cwd: Path, *args: str, defaults: tuple[str, ...] = ()) -> Resolver:
    job = classify_command(["gcc", "-c", *args, "x.c"])
    assert isinstance(job, CompileJob)
    return Resolver(FileSystemView(), build_config(job.options, str(cwd), defaults))


def test_chain_drops_missing_and_duplicate_dirs(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    for d in ("a", "b", "sys"):
        (root / d).mkdir()
    r = resolver(root, "-Ia", "-Inope", "-I./a", "-iquote", "b", "-Ib", "-Isys", "-isystem", "sys")
    # b is dropped from the quote part (it is a bracket dir); sys stays a system dir only.
    assert [(c.canonical, c.role) for c in r.chain] == [
        (str(root / "a"), "bracket"),
        (str(root / "b"), "bracket"),
        (str(root / "sys"), "system"),
    ]
    assert r.angle_start == 0
    assert str(root / "nope") in r.deps  # a missing -I dir is a dependency (it may appear)


def test_first_hit_and_misses_recorded(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "a").mkdir()
    (root / "b").mkdir()
    (root / "b" / "h.h").write_text("")
    r = resolver(root, "-Ia", "-Ib")
    res = r.resolve("angle", "h.h", False, str(root), -1)
    assert res.hit is not None and res.hit.walk.canonical == str(root / "b" / "h.h")
    assert res.hit.chain_index == 1
    assert str(root / "a" / "h.h") in res.deps  # creating it would change the answer


def test_quote_looks_in_includer_dir_first(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "src").mkdir()
    (root / "inc").mkdir()
    for d in ("src", "inc"):
        (root / d / "q.h").write_text("")
    r = resolver(root, "-Iinc")
    quote = r.resolve("quote", "q.h", False, str(root / "src"), -1)
    angle = r.resolve("angle", "q.h", False, str(root / "src"), -1)
    assert quote.hit is not None and quote.hit.walk.canonical == str(root / "src" / "q.h")
    assert angle.hit is not None and angle.hit.walk.canonical == str(root / "inc" / "q.h")


def test_include_next_continues_after_the_includer(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    for d in ("a", "b", "c"):
        (root / d).mkdir()
        (root / d / "n.h").write_text("")
    r = resolver(root, "-Ia", "-Ib", "-Ic")
    nxt = r.resolve("angle", "n.h", True, str(root / "a"), 0)
    assert nxt.hit is not None and nxt.hit.walk.canonical == str(root / "b" / "n.h")
    last = r.resolve("angle", "n.h", True, str(root / "c"), 2)
    assert last.hit is None
    # From a file not found through the chain: its own directory and the whole chain.
    loose = r.resolve("angle", "n.h", True, str(root), -1)
    assert loose.hit is not None and loose.hit.walk.canonical == str(root / "a" / "n.h")


def test_absolute_names(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "abs.h").write_text("")
    r = resolver(root)
    res = r.resolve("quote", str(root / "abs.h"), False, "/", -1)
    assert res.hit is not None and res.hit.chain_index == -1
