"""Fixtures shared by every test package.

``tool_bin``: a directory of launchers for our commands that run this checkout's code with
the current interpreter (no install needed), the same way the installed launchers do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# command name -> "module:function"
COMMANDS = {
    "distcc": "client.main:run",
    "distccd": "daemon.main:main",
    "include-server": "include_server.server:main",
    "include-analysis": "include_server.analysis_cli:main",
    "pump": "pump.main:main",
    "objrewrite": "objrewrite.cli:main",
}

# Commands that need site-packages (third-party libraries such as watchdog, lzo): their
# launchers start the interpreter without -S.  They are not on the client's per-job path.
SITE_COMMANDS = frozenset({"include-server", "include-analysis", "pump"})


def _site_dirs() -> list[str]:
    return [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]


def make_launchers(dest: Path, commands: dict[str, str] = COMMANDS) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name, target in commands.items():
        module, func = target.split(":")
        script = dest / name
        script.write_text(
            f"#!{sys.executable}{'' if name in SITE_COMMANDS else ' -S'}\n"
            # The client runs without the cycle collector, as bin/distcc starts it.
            + ("import gc\ngc.disable()\n" if name == "distcc" else "")
            + "import sys\n"
            f"sys.path.insert(0, {str(REPO)!r})\n"
            # -S skips site, so add the directories of installed libraries (lzo, ...) the
            # way bin/distcc does.
            f"sys.path.extend({_site_dirs()!r})\n"
            # ... and loads the client's start-up cache (client/__init__.py), as bin/distcc.
            + ("import client\nclient.speculate()\nclient.preload()\n" if name == "distcc" else "")
            + f"from {module} import {func}\n"
            f"sys.exit({func}())\n"
        )
        script.chmod(0o755)
    return dest


@pytest.fixture(scope="session")
def tool_bin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Directory holding ``distcc``, ``distccd``, ... launchers for this checkout.

    At the end of the session, include servers started through these launchers (by
    ``pump``, which leaves them running for the next build) are stopped."""
    bin_dir = make_launchers(tmp_path_factory.mktemp("bin"))
    yield bin_dir
    subprocess.run(["pkill", "-TERM", "-f", f"{bin_dir}/include-server"], check=False)


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """An environment without any DISTCC_* variable, with private TMPDIR and DISTCC_DIR."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISTCC", "INCLUDE_SERVER"))}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    (tmp_path / "distcc-dir").mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmp_path / "tmp")
    env["DISTCC_DIR"] = str(tmp_path / "distcc-dir")
    return env
