"""Shared pieces of the benchmark scripts: launchers, daemons, timing helpers.

Benchmarks compare our implementation with Debian's stock distcc 3.4 *in the same run*, on
the same machine state, so that ratios are meaningful even when absolute times drift.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
STOCK = {"distcc": "/usr/bin/distcc", "distccd": "/usr/bin/distccd"}


def compile_bytecode() -> None:
    """Write .pyc files for our packages, as ``pip install`` does.

    This machine sets PYTHONDONTWRITEBYTECODE=1, so a source checkout would otherwise
    recompile every module at every start (a few ms per module)."""
    import compileall

    for pkg in ("common", "client", "daemon", "include_server", "objrewrite", "pump"):
        if (REPO / pkg).is_dir():
            compileall.compile_dir(str(REPO / pkg), quiet=1)
    if (REPO / "client" / "preload_build.py").is_file():  # the client's start-up cache
        subprocess.run([sys.executable, "-m", "client.preload_build"], cwd=REPO, check=False)


# Commands started without -S (they need site initialisation for third-party libraries);
# they are not on the client's per-job path.
SITE_COMMANDS = frozenset({"pump", "include-server"})


def make_launchers(dest: Path, pump: bool = False) -> dict[str, str]:
    """Launchers for this checkout, started like the installed ones (python -S).

    With ``pump``, also ``pump`` and ``include-server`` (pump finds the latter beside
    itself)."""
    compile_bytecode()
    dest.mkdir(parents=True, exist_ok=True)
    targets = {"distcc": "client.main:run", "distccd": "daemon.main:main"}
    if pump:
        targets |= {"pump": "pump.main:main", "include-server": "include_server.server:main"}
    out = {}
    for name, target in targets.items():
        module, func = target.split(":")
        path = dest / name
        site_dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
        flag = "" if name in SITE_COMMANDS else " -S"
        # The client's launcher turns the cycle collector off, as bin/distcc does.
        prelude = "import gc\ngc.disable()\n" if name == "distcc" else ""
        # ... and loads the client's start-up cache (client/__init__.py), as bin/distcc.
        preload = (
            "import client\nclient.speculate()\nclient.preload()\n" if name == "distcc" else ""
        )
        path.write_text(
            # sys.path[0] (the launcher's directory) is replaced, as bin/distcc drops it.
            f"#!{sys.executable}{flag}\n{prelude}import sys\nsys.path[0] = {str(REPO)!r}\n"
            f"sys.path.extend({site_dirs!r})\n{preload}"
            f"from {module} import {func}\nsys.exit({func}())\n"
        )
        path.chmod(0o755)
        out[name] = str(path)
    return out


def checkout_launchers(repo: Path, dest: Path, pump: bool = False) -> dict[str, str]:
    """The launchers of another checkout (a baseline), made by that checkout's own
    ``bench/benchlib.py``: how a checkout starts its client is part of what is compared."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_benchlib", repo / "bench" / "benchlib.py")
    assert spec is not None and spec.loader is not None
    lib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lib)
    tools: dict[str, str] = lib.make_launchers(dest, pump=pump)
    return tools


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10, address: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Daemon:
    def __init__(
        self,
        binary: str,
        jobs: int,
        workdir: Path,
        address: str = "127.0.0.1",
        extra: tuple[str, ...] = (),
        env_extra: dict[str, str] | None = None,
    ) -> None:
        self.address = address
        self.port = free_port(address)
        self.tmp = workdir / f"d{self.port}"
        self.tmp.mkdir(parents=True)
        for d in (workdir, self.tmp):
            d.chmod(0o1777)
        self.log = self.tmp / "log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCC")}
        env["TMPDIR"] = str(self.tmp)
        env.update(env_extra or {})
        self.proc = subprocess.Popen(
            [
                binary,
                "--no-detach",
                "--daemon",
                "--listen",
                address,
                "--port",
                str(self.port),
                "--allow",
                "127.0.0.0/8",
                "--jobs",
                str(jobs),
                "--log-file",
                str(self.log),
                "--enable-tcp-insecure",
                *extra,
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.port, address=address)

    def cpu_seconds(self) -> float:
        """CPU of the daemon and of every process it has reaped (its compilers)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        tck = os.sysconf("SC_CLK_TCK")
        return sum(int(x) for x in fields[11:15]) / tck

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=10)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fresh_workdir(prefix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o1777)
    return d


def get_corpus(name: str, dest: Path) -> Path:
    """A pristine Debian source tree (../shared/corpus/get.sh when present)."""
    script = SHARED / "corpus" / "get.sh"
    args = [str(script), name, str(dest)] + (["--patched"] if name == "redis" else [])
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return dest


def copy_tree(src: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, symlinks=True)
    return dest
