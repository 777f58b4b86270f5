"""The client's hot path must not import the expensive stdlib modules (see common/values.py).

Each of these costs 4-14 ms to import on the reference machine, against a per-job budget
of ~15 ms for the whole client, so the modules started on every compile avoid them.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

FORBIDDEN = (
    "dataclasses",
    "enum",
    "typing",
    "logging",
    "subprocess",
    "socket",
    "re",
    "inspect",
    "functools",
    "collections",
)
HOT_MODULES = (
    "common.protocol",
    "common.exitcodes",
    "common.compiler.job",
    "common.compiler.options",
    "common.compiler.classify",
    "common.compiler.rewrite",
    "client.hosts",
    "client.resolve",
    "client.locks",
    "client.backoff",
    "client.state",
    "client.config",
    "client.where",
    "client.main",
    "client.invoke",
    "client.compile",
    "client.slots",
    "client.proc",
    "client.transport",
    "client.remote",
    "client.native",
    "client.lz4frame",
    "client.pumpmode",
    "client.outputs",
    "client.log",
)


def test_hot_path_modules_avoid_expensive_imports() -> None:
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        f"for m in {HOT_MODULES!r}: __import__(m)\n"
        f"print(' '.join(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [], f"hot-path modules pulled in: {out}"
