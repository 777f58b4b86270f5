"""The client root a stock pump client reads: layout, LZO copies, links, forcing files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.compress import lzo_decompress
from include_server.cache import Analyzer
from include_server.client_root import FORCING_NAME, ClientRoot


@pytest.fixture
def root(tmp_path: Path) -> ClientRoot:
    r = ClientRoot("/tmp")
    yield r  # type: ignore[misc]
    r.remove()


def test_root_has_three_components(root: ClientRoot) -> None:
    assert len([c for c in root.root.split("/") if c]) == 3
    assert ".include_server-" in root.root


def test_reply_layout(tmp_path: Path, root: ClientRoot) -> None:
    proj = tmp_path.resolve()
    (proj / "inc").mkdir()
    (proj / "empty").mkdir()
    (proj / "inc" / "abs.h").write_text("/* abs */\n")
    (proj / "rel.h").write_text('#include "empty/../up.h"\n')
    (proj / "up.h").write_text("/* up */\n")
    os.symlink("rel.h", proj / "link.h")
    (proj / "main.c").write_text('#include <abs.h>\n#include "link.h"\n#include <stdio.h>\n')
    closure = Analyzer().analyze(["gcc", "-c", f"-I{proj}/inc", "main.c"], str(proj)).closure
    assert closure is not None
    paths = root.reply(closure)
    assert paths is not None
    r = root.root
    # Found through an absolute -I: .lzo.abs with a #line naming the path gcc opened.
    abs_copy = f"{r}{proj}/inc/abs.h.lzo.abs"
    assert abs_copy in paths
    text = lzo_decompress(Path(abs_copy).read_bytes(), 1 << 20)
    assert text == f'#line 1 "{proj}/inc/abs.h"\n/* abs */\n'.encode()
    # Found relative to the source: a plain .lzo of the real file.
    assert f"{r}{proj}/rel.h.lzo" in paths
    assert lzo_decompress(Path(f"{r}{proj}/up.h.lzo").read_bytes(), 1 << 20) == b"/* up */\n"
    # No system header is copied; their directory is a link climbing out of the root.
    assert not any("/usr/include/stdio.h" in p for p in paths)
    link = f"{r}/usr/include"
    assert link in paths
    assert os.readlink(link) == "../" * (20 + 2) + "usr/include"
    # Symlinks are mirrored to their absolute target; directories crossed by '..' forced.
    assert os.readlink(f"{r}{proj}/link.h") == f"{proj}/rel.h"
    assert f"{r}{proj}/empty/{FORCING_NAME}" in paths
    # Order: files, then links, then forcing files.
    kinds = [
        "file" if p.endswith((".lzo", ".abs")) else "force" if p.endswith(FORCING_NAME) else "link"
        for p in paths
    ]
    assert kinds == sorted(kinds, key=["file", "link", "force"].index)


def test_changed_file_is_never_shipped(tmp_path: Path, root: ClientRoot) -> None:
    proj = tmp_path.resolve()
    (proj / "a.h").write_text("/* v1 */\n")
    (proj / "main.c").write_text('#include "a.h"\n')
    closure = Analyzer().analyze(["gcc", "-c", "main.c"], str(proj)).closure
    assert closure is not None
    (proj / "a.h").write_text("/* v2, changed after the analysis */\n")
    assert root.reply(closure) is None


def test_links_made_meanwhile_by_another_request_are_fine(
    tmp_path: Path, root: ClientRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Replies are built by several threads: another one may create a link between this
    # one's look and its os.symlink.  Simulated: every link exists already and every
    # "does it exist?" answers no.  (Seen as a spurious "include server failed" under load.)
    proj = tmp_path.resolve()
    (proj / "real.h").write_text("/* real */\n")
    os.symlink("real.h", proj / "link.h")
    (proj / "main.c").write_text('#include "link.h"\n#include <stdio.h>\n')
    closure = Analyzer().analyze(["gcc", "-c", "main.c"], str(proj)).closure
    assert closure is not None
    first = root.reply(closure)
    assert first is not None
    root._made.clear()
    monkeypatch.setattr(os.path, "islink", lambda p: False)
    monkeypatch.setattr(os.path, "lexists", lambda p: False)
    assert root.reply(closure) == first
    assert os.readlink(f"{root.root}{proj}/link.h") == f"{proj}/real.h"
