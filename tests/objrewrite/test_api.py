"""The library API the daemon calls: files rewritten atomically, reports, layering."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import objrewrite
from objrewrite import api, macho
from tests.conftest import REPO
from tests.objrewrite.conftest import Fx, verify_errors


def test_rewrite_file_in_place_keeps_mode_and_leaves_no_temp(fx: Fx, tmp_path: Path) -> None:
    obj = tmp_path / "a.o"
    obj.write_bytes(fx.path("clang-dwarf4-g-abs", "long").read_bytes())
    obj.chmod(0o640)
    report = objrewrite.rewrite_file(obj, [(fx.long, fx.short)])
    assert report.ok and report.changed and report.format == "elf"
    assert obj.read_bytes() == fx.path("clang-dwarf4-g-abs", "short").read_bytes()
    assert obj.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["a.o"]


def test_rewrite_file_does_not_touch_an_unchanged_file(fx: Fx, tmp_path: Path) -> None:
    obj = tmp_path / "a.o"
    obj.write_bytes(fx.path("gcc-dwarf5-g-rel", "short").read_bytes())
    before = obj.stat()
    report = objrewrite.rewrite_file(obj, [("/not/there", "/x")])
    assert not report.changed and obj.stat().st_ino == before.st_ino


def test_strip_the_mirror_root(fx: Fx, tmp_path: Path) -> None:
    """The daemon's case: map the job root to "" so the client's paths remain."""
    root = str(fx.root)
    out = tmp_path / "a.o"
    report = objrewrite.rewrite_file(fx.path("gcc-dwarf4-g3-abs", "short"), [(root, "")], out=out)
    assert report.ok
    texts = {e.text for e in objrewrite.list_paths(out)}
    assert "/s/proj/src" in texts and "/s/proj/include" in texts
    assert verify_errors(out) == verify_errors(fx.path("gcc-dwarf4-g3-abs", "short"))


def test_backends_are_chosen_by_magic(fx: Fx) -> None:
    assert api.backend_for(fx.path("gcc-dwarf4-g-rel", "short").read_bytes()).name == "elf"
    assert api.backend_for(fx.path("macho-arm64-dwarf4", "short").read_bytes()).name == "macho"
    macho_backend = next(b for b in api.BACKENDS if b.name == "macho")
    assert macho_backend.magics == macho.MAGICS
    with pytest.raises(objrewrite.FormatError):
        api.backend_for(b"!<arch>\n")


def test_objrewrite_imports_no_higher_layer() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
        "import objrewrite.cli, objrewrite.elf.backend, objrewrite.macho, objrewrite.dwarf.paths\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('client', 'daemon', 'pump', 'include_server'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == []


def test_write_atomically_with_many_buffers(tmp_path: Path) -> None:
    parts: list[bytes | bytearray | memoryview] = [bytes([i % 251]) * (i % 7) for i in range(3000)]
    dest = tmp_path / "out.o"
    api.write_atomically(dest, parts)
    assert dest.read_bytes() == b"".join(parts)
    assert os.listdir(tmp_path) == ["out.o"]


def test_user_map_first_then_root_map_resolves_like_compile_time_maps(
    fx: Fx, tmp_path: Path
) -> None:
    """What the daemon does: the user's map (re-rooted) before the root map.

    Every file then resolves to the same path as with the maps given at compile time,
    though not byte for byte: clang splits file names into directory + name differently
    when a map changes the compilation directory, so user maps belong at compile time and
    objrewrite is the safety net for the root.
    """
    local, mirror, out = tmp_path / "local.o", tmp_path / "mirror.o", tmp_path / "out.o"

    def cc(tree: str, dest: Path, *extra: str) -> None:
        subprocess.run(
            ["clang", "-g", "-c", "a.c", "-I", f"{tree}/include", *extra, "-o", str(dest)],
            cwd=f"{tree}/src",
            check=True,
        )

    def files(obj: Path) -> set[str]:
        dump = subprocess.run(
            ["llvm-dwarfdump", "--debug-info", str(obj)], capture_output=True, text=True, check=True
        ).stdout
        return {
            ln.split("(", 1)[1]
            for ln in dump.splitlines()
            if "DW_AT_decl_file" in ln or "DW_AT_comp_dir" in ln
        }

    cc(fx.short, local, f"-ffile-prefix-map={fx.short}/src=/X")
    cc(fx.long, mirror)
    report = objrewrite.rewrite_file(
        mirror, [(fx.long + "/src", "/X"), (fx.long, fx.short)], out=out
    )
    assert report.ok
    assert files(out) == files(local)
    assert any("/X/a.c" in f for f in files(out))
    assert verify_errors(out) == 0


def test_rewrite_through_a_symlink_keeps_the_link(fx: Fx, tmp_path: Path) -> None:
    real = tmp_path / "real.o"
    real.write_bytes(fx.path("clang-dwarf4-g-rel", "long").read_bytes())
    link = tmp_path / "link.o"
    link.symlink_to(real)
    assert objrewrite.rewrite_file(link, [(fx.long, fx.short)]).ok
    assert link.is_symlink()
    assert real.read_bytes() == fx.path("clang-dwarf4-g-rel", "short").read_bytes()
