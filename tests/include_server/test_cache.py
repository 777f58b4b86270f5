"""Analyzer memory: answers from memory when nothing changed, exact invalidation otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from include_server.cache import Analyzer


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.h").write_text("/* b/x.h */\n")
    (tmp_path / "main.c").write_text('#include <x.h>\n#include "other.h"\n')
    (tmp_path / "other.h").write_text("/* other */\n")
    return tmp_path


CMD = ["gcc", "-c", "-Ia", "-Ib", "-Inew", "main.c"]


def files(analyzer: Analyzer, cwd: Path) -> set[str]:
    closure = analyzer.analyze(CMD, str(cwd)).closure
    assert closure is not None
    return {f.path for f in closure.files if not f.system}


def test_second_query_is_answered_from_memory(project: Path) -> None:
    analyzer = Analyzer()
    first = files(analyzer, project)
    reads, lstats = analyzer.fs.stats["read"], analyzer.fs.stats["lstat"]
    assert files(analyzer, project) == first
    assert analyzer.counters["closure-hit"] == 1
    assert (analyzer.fs.stats["read"], analyzer.fs.stats["lstat"]) == (reads, lstats)


def test_header_created_earlier_in_the_path(project: Path) -> None:
    analyzer = Analyzer()
    assert str(project / "b" / "x.h") in files(analyzer, project)
    (project / "a" / "x.h").write_text("/* a/x.h */\n")
    assert analyzer.on_event(str(project / "a" / "x.h")) == 1
    got = files(analyzer, project)
    assert str(project / "a" / "x.h") in got and str(project / "b" / "x.h") not in got


def test_unrelated_event_keeps_the_closure(project: Path) -> None:
    analyzer = Analyzer()
    files(analyzer, project)
    (project / "main.o").write_bytes(b"")
    assert analyzer.on_event(str(project / "main.o")) == 0
    files(analyzer, project)
    assert analyzer.counters["closure-hit"] == 1


def test_edit_delete_rename_mkdir(project: Path) -> None:
    analyzer = Analyzer()
    files(analyzer, project)
    # edit: other.h now includes y.h
    (project / "y.h").write_text("/* y */\n")
    (project / "other.h").write_text('#include "y.h"\n')
    analyzer.on_event(str(project / "other.h"))
    assert str(project / "y.h") in files(analyzer, project)
    # rename b/x.h -> b/z.h: x.h is gone
    (project / "b" / "x.h").rename(project / "b" / "z.h")
    analyzer.on_event(str(project / "b" / "x.h"))
    analyzer.on_event(str(project / "b" / "z.h"))
    assert not any(p.endswith("/x.h") for p in files(analyzer, project))
    # mkdir: -Inew appears with x.h in it
    (project / "new").mkdir()
    (project / "new" / "x.h").write_text("/* new */\n")
    analyzer.on_event(str(project / "new"))
    assert str(project / "new" / "x.h") in files(analyzer, project)
    # delete
    (project / "new" / "x.h").unlink()
    analyzer.on_event(str(project / "new" / "x.h"))
    assert not any(p.endswith("/x.h") for p in files(analyzer, project))


def test_drop_all(project: Path) -> None:
    analyzer = Analyzer()
    files(analyzer, project)
    analyzer.drop_all("overflow")
    assert analyzer.sizes()["closures"] == 0
    files(analyzer, project)
    assert analyzer.counters["closure-miss"] == 2
    assert analyzer.counters["drop-all:overflow"] == 1
