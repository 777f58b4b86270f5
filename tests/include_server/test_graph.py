"""Include graph: node successors, memoised reachable sets shared between units."""

from __future__ import annotations

from pathlib import Path

from include_server.cache import Analyzer


def test_units_share_header_subtrees(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "common.h").write_text('#include "leaf.h"\n#include "leaf2.h"\n')
    (root / "leaf.h").write_text('#include "common.h"\n')  # a cycle, as include guards allow
    (root / "leaf2.h").write_text("")
    for name in ("a.c", "b.c"):
        (root / name).write_text('#include "common.h"\n')
    analyzer = Analyzer()
    a = analyzer.analyze(["gcc", "-c", "-nostdinc", "a.c"], str(root)).closure
    reads = analyzer.fs.stats["read"]
    b = analyzer.analyze(["gcc", "-c", "-nostdinc", "b.c"], str(root)).closure
    assert a is not None and b is not None
    names = lambda c: {f.path.rsplit("/", 1)[1] for f in c.files}  # noqa: E731
    assert names(a) == {"a.c", "common.h", "leaf.h", "leaf2.h"}
    assert names(b) == {"b.c", "common.h", "leaf.h", "leaf2.h"}
    assert analyzer.fs.stats["read"] == reads + 1  # only b.c was new


def test_tree_edges_on_request(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "h.h").write_text("")
    (root / "a.c").write_text('#include "h.h"\n')
    analyzer = Analyzer()
    plain = analyzer.analyze(["gcc", "-c", "-nostdinc", "a.c"], str(root)).closure
    assert plain is not None and plain.edges == ()
    tree = Analyzer().analyze(["gcc", "-c", "-nostdinc", "a.c"], str(root), want_edges=True).closure
    assert tree is not None
    assert (str(root / "a.c"), str(root / "h.h")) in tree.edges
