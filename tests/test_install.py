"""The package as pip builds it: the launchers start the building interpreter with -S."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_wheel_launchers_start_this_interpreter_with_dash_s(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path / "wheel"),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    scripts = {p.name: p for p in unpacked.glob("*.data/scripts/*")}
    assert set(scripts) == {"distcc", "distccd", "objrewrite"}
    for script in scripts.values():
        first = script.read_text().split("\n", 1)[0]
        assert first == f"#!{sys.executable} -S", (script.name, first)
    # Run as the kernel runs it: the packages found without site (here on PYTHONPATH, as
    # the wheel is not installed), the start-up cache written on the first run.
    launcher = tmp_path / "distcc"
    launcher.write_bytes(scripts["distcc"].read_bytes())
    launcher.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    out = subprocess.run([str(launcher), "--version"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("distcc 3.4 ")
    verbose = subprocess.run(
        [str(launcher), "--version"],
        env={**env, "PYTHONVERBOSE": "1"},
        capture_output=True,
        text=True,
    )
    assert "import 'encodings'" in verbose.stderr  # the check can see imports
    assert "import 'site'" not in verbose.stderr
    tag = sys.implementation.cache_tag
    assert (unpacked / "client" / "__pycache__" / f"preload.{tag}.bin").is_file()
