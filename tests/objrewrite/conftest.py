"""Session fixtures for objrewrite: the generated objects and the tool oracles.

``fx`` builds every case of testdata/objrewrite/make_fixtures.py once per session (a few
seconds on 2 cores) in a temp dir.  ``Fx.pair(case)`` gives the short- and long-tree
objects; rewriting one with the tree prefixes must reproduce the other.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "testdata" / "objrewrite" / "make_fixtures.py"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("objrewrite_make_fixtures", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = load_generator()


class Fx:
    def __init__(self, root: Path, files: dict[str, Path]) -> None:
        self.root = root
        self.files = files
        self.short = str(root / GEN.TREES["short"] / "proj")
        self.long = str(root / GEN.TREES["long"] / "proj")
        self.obj = root / "obj"

    def path(self, case: str, tree: str, ext: str = ".o") -> Path:
        return self.obj / f"{case}@{tree}{ext}"

    def direction(self, case: str, way: str, ext: str = ".o") -> tuple[Path, Path, str, str]:
        """(input, expected, OLD, NEW) for way 'longer' (short->long) or 'shorter'."""
        if way == "longer":
            return (
                self.path(case, "short", ext),
                self.path(case, "long", ext),
                self.short,
                self.long,
            )
        return self.path(case, "long", ext), self.path(case, "short", ext), self.long, self.short


@pytest.fixture(scope="session")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fx:
    root = tmp_path_factory.mktemp("objrewrite-fx")
    files = GEN.build_all(root, jobs=2)
    return Fx(root, files)


_NORM = [
    (re.compile(r"\.debug_(line_)?str(\.dwo)?\[0x[0-9a-f]+\]"), ".debug_str[X]"),
    (re.compile(r"DWO_id = 0x[0-9a-f]+"), "DWO_id = X"),
    (re.compile(r"DW_AT_(GNU_)?dwo_id\s+\(0x[0-9a-f]+\)"), "DW_AT_dwo_id (X)"),
]


def dwarf_dump(path: Path) -> str:
    """The normalised ``llvm-dwarfdump`` text used as gcc's oracle (string-table offsets
    and DWO ids, which gcc derives from hashes, are masked)."""
    proc = subprocess.run(
        ["llvm-dwarfdump", "--debug-info", "--debug-line", "--debug-macro", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    out = proc.stdout + proc.stderr.replace(str(path), "FILE")
    lines = [ln for ln in out.splitlines()[2:] if ln.strip()]
    text = "\n".join(lines)
    for rx, rep in _NORM:
        text = rx.sub(rep, text)
    return text


def verify_errors(path: Path) -> int:
    """Number of errors ``llvm-dwarfdump --verify`` reports (0 when clean)."""
    proc = subprocess.run(
        ["llvm-dwarfdump", "--verify", str(path)], capture_output=True, text=True, check=False
    )
    text = proc.stdout + proc.stderr
    if "No errors." in text:
        return 0
    m = re.search(r"Errors detected\.|error:", text)
    assert m is not None, text
    return text.count("error:")


def readelf_warnings(path: Path) -> str:
    """What ``readelf --debug-dump`` complains about on stderr (path masked)."""
    proc = subprocess.run(
        ["readelf", "-wilmL", str(path)], capture_output=True, text=True, check=False
    )
    return proc.stderr.replace(str(path), "FILE")
