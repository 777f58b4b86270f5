"""``.d`` rewriting (daemon/dotd.py) against real gcc and clang ``.d`` files.

Differential: the same tree is compiled where the client has it and again inside a deep
mirror root (absolute ``-I`` re-rooted, as the daemon does); the mirror's ``.d``, rewritten,
must equal the local one byte for byte, although the longer names wrapped differently.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from daemon import dotd
from tests.common.compiler.realcc import COMPILERS

HEADERS = {
    "inc/a_rather_long_header_name_to_make_lines_wrap.h": "int a;\n",
    "inc/short.h": "int b;\n",
    "inc/with space.h": "int c;\n",
    "inc/sub/another_quite_long_name_for_wrapping_purposes.h": "int d;\n",
}
SOURCE = (
    "#include <stdio.h>\n"
    '#include "a_rather_long_header_name_to_make_lines_wrap.h"\n'
    '#include "short.h"\n'
    '#include "with space.h"\n'
    '#include "sub/another_quite_long_name_for_wrapping_purposes.h"\n'
    '#include "local.h"\n'
    "int main(void) { return 0; }\n"
)


def _tree(base: Path) -> None:
    for name, text in HEADERS.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text)
    (base / "src").mkdir(exist_ok=True)
    (base / "src" / "main.c").write_text(SOURCE)
    (base / "src" / "local.h").write_text("int e;\n")


@pytest.mark.parametrize("cc", COMPILERS)
@pytest.mark.parametrize(
    "flags",
    [
        ["-MD"],
        ["-MMD"],
        ["-MD", "-MP"],
        ["-MMD", "-MT", "a target long enough to need wrapping by itself, really", "-MT", "t2"],
    ],
)
def test_rewritten_dotd_equals_local(tmp_path: Path, cc: str, flags: list[str]) -> None:
    client = tmp_path / "c" / "proj"
    client.mkdir(parents=True)
    _tree(client)
    root = tmp_path / ("deep" * 10) / "distccd_abcdef" / "root"
    mirror = Path(str(root) + str(client))
    mirror.mkdir(parents=True)
    shutil.copytree(client, mirror, dirs_exist_ok=True)

    def build(base: Path, dep: str) -> str:
        subprocess.run(
            [cc, "-c", "main.c", f"-I{base}/inc", *flags, "-o", "main.o", "-MF", dep],
            cwd=base / "src",
            check=True,
            capture_output=True,
        )
        return (base / "src" / dep).read_text()

    local = build(client, "main.d")
    remote = build(mirror, "main.d")
    assert str(root) in remote
    assert remote != local  # the long root changed the wrapping
    assert dotd.rewrite(remote, str(root), cc == "clang") == local


@pytest.mark.parametrize("cc", COMPILERS)
def test_round_trip_of_real_files(tmp_path: Path, cc: str) -> None:
    _tree(tmp_path)
    subprocess.run(
        [cc, "-c", "main.c", f"-I{tmp_path}/inc", "-MD", "-MP", "-o", "main.o"],
        cwd=tmp_path / "src",
        check=True,
    )
    text = (tmp_path / "src" / "main.d").read_text()
    dep = dotd.parse(text)
    assert dep is not None
    assert dep.targets == ["main.o"]
    assert dep.prereqs[0] == "main.c"
    assert f"{tmp_path}/inc/with\\ space.h" in dep.prereqs
    assert dep.phony == dep.prereqs[1:]
    assert (dotd.write_clang(dep) if cc == "clang" else dotd.write_gcc(dep)) == text


def test_not_a_dep_file_gets_the_root_removed_textually() -> None:
    assert dotd.rewrite("garbage /R/x\n", "/R", False) == "garbage /x\n"
