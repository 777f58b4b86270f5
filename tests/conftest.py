"""Fixtures shared by every test package.

``tool_bin``: a directory of launchers for our commands that run this checkout's code with
the current interpreter (no install needed), the same way the installed launchers do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# command name -> "module:function"
COMMANDS = {
    "distcc": "client.main:main",
    "distccd": "daemon.main:main",
    "objrewrite": "objrewrite.cli:main",
}


def make_launchers(dest: Path, commands: dict[str, str] = COMMANDS) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name, target in commands.items():
        module, func = target.split(":")
        script = dest / name
        script.write_text(
            f"#!{sys.executable} -S\n"
            "import sys\n"
            f"sys.path.insert(0, {str(REPO)!r})\n"
            f"from {module} import {func}\n"
            f"sys.exit({func}())\n"
        )
        script.chmod(0o755)
    return dest


@pytest.fixture(scope="session")
def tool_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory holding ``distcc``, ``distccd``, ... launchers for this checkout."""
    return make_launchers(tmp_path_factory.mktemp("bin"))


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """An environment without any DISTCC_* variable, with private TMPDIR and DISTCC_DIR."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISTCC", "INCLUDE_SERVER"))}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    (tmp_path / "distcc-dir").mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmp_path / "tmp")
    env["DISTCC_DIR"] = str(tmp_path / "distcc-dir")
    return env
