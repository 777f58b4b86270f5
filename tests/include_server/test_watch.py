"""watchdog keeps the analyzer true: each change is followed by a query that reflects it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from include_server.cache import Analyzer
from include_server.rwlock import RWLock
from include_server.watch import Watcher

CMD = ["gcc", "-c", "-Ia", "-Ib", "-Inew", "main.c"]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, Analyzer, Watcher]]:
    root = tmp_path.resolve()
    (root / "a").mkdir()
    (root / "b").mkdir()
    (root / "b" / "x.h").write_text("/* b/x.h */\n")
    (root / "main.c").write_text('#include <x.h>\n#include "other.h"\n')
    (root / "other.h").write_text("/* other */\n")
    analyzer = Analyzer()
    watcher = Watcher(analyzer, RWLock())
    yield root, analyzer, watcher
    watcher.stop()


def query(root: Path, analyzer: Analyzer, watcher: Watcher) -> set[str]:
    with watcher.lock.read():
        closure = analyzer.analyze(CMD, str(root)).closure
    watcher.update()
    assert closure is not None
    return {f.path for f in closure.files if not f.system}


def test_watcher_scenarios(setup: tuple[Path, Analyzer, Watcher]) -> None:
    root, analyzer, watcher = setup
    assert str(root / "b" / "x.h") in query(root, analyzer, watcher)
    assert watcher.watch_count > 0
    assert query(root, analyzer, watcher) and analyzer.counters["closure-hit"] == 1

    # edit
    (root / "y.h").write_text("/* y */\n")
    (root / "other.h").write_text('#include "y.h"\n')
    assert watcher.wait_for(str(root / "other.h"))
    assert str(root / "y.h") in query(root, analyzer, watcher)

    # create earlier in the search path
    (root / "a" / "x.h").write_text("/* a */\n")
    assert watcher.wait_for(str(root / "a" / "x.h"))
    got = query(root, analyzer, watcher)
    assert str(root / "a" / "x.h") in got and str(root / "b" / "x.h") not in got

    # delete
    (root / "a" / "x.h").unlink()
    assert watcher.wait_for(str(root / "a" / "x.h"))
    assert str(root / "b" / "x.h") in query(root, analyzer, watcher)

    # rename
    (root / "b" / "x.h").rename(root / "b" / "z.h")
    assert watcher.wait_for(str(root / "b" / "x.h"))
    assert not any(p.endswith("/x.h") for p in query(root, analyzer, watcher))

    # mkdir (a missing -I directory appears, with the header in it)
    (root / "new").mkdir()
    (root / "new" / "x.h").write_text("/* new */\n")
    assert watcher.wait_for(str(root / "new"))
    assert str(root / "new" / "x.h") in query(root, analyzer, watcher)


def test_lost_events_drop_everything(setup: tuple[Path, Analyzer, Watcher]) -> None:
    root, analyzer, watcher = setup
    query(root, analyzer, watcher)
    import logging

    logging.getLogger("watchdog.observers.inotify_c").warning(
        "Inotify queue overflowed; filesystem events were lost"
    )
    assert analyzer.sizes()["closures"] == 0
    assert analyzer.counters["drop-all:overflow"] == 1
    assert watcher.generation == 1
