"""Real projects for the differential tests: fetch, build once with a recording compiler.

``compile_commands(name)`` returns every (cwd, argv) the project's own build ran through the
compiler.  The tree is fetched with ``/work/shared/corpus/get.sh`` and built with
``CC="<recorder> gcc"``; the recorder appends one JSON line per call, then runs gcc.  Builds
are kept under ``$INCSERVER_CORPUS_CACHE`` (default ``/var/tmp/incserver-corpus``, not /tmp: the
include server watches the parents of the directories it reads, and /tmp is busy), so a second
test session reuses them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

GET = Path("/work/shared/corpus/get.sh")
CACHE = Path(os.environ.get("INCSERVER_CORPUS_CACHE", "/var/tmp/incserver-corpus"))
PROJECTS = {
    # name: (get.sh extra args, make args)
    "lua5.4": ([], ["linux"]),
    "redis": (["--patched"], ["MALLOC=libc"]),
}
RECORDER = f"""#!{sys.executable} -S
import json, os, sys
with open(os.environ["RECORD_FILE"], "a") as f:
    f.write(json.dumps({{"cwd": os.getcwd(), "argv": sys.argv[1:]}}) + "\\n")
os.execvp(sys.argv[1], sys.argv[1:])
"""


def compile_commands(name: str) -> tuple[Path, list[tuple[str, list[str]]]]:
    base = CACHE / name
    record = base / "commands.jsonl"
    tree = base / "src"
    if not (base / "done").exists():
        base.mkdir(parents=True, exist_ok=True)
        extra, make_args = PROJECTS[name]
        subprocess.run(["bash", str(GET), name, str(tree), *extra], check=True, capture_output=True)
        recorder = base / "record-cc"
        recorder.write_text(RECORDER)
        recorder.chmod(0o755)
        record.unlink(missing_ok=True)
        env = {**os.environ, "RECORD_FILE": str(record)}
        subprocess.run(
            ["make", "-C", str(tree), "-j2", *make_args, f"CC={recorder} gcc"],
            env=env,
            check=True,
            capture_output=True,
        )
        (base / "done").touch()
    commands = []
    for line in record.read_text().splitlines():
        entry = json.loads(line)
        argv = entry["argv"]
        sources = [w for w in argv if w.endswith((".c", ".cc", ".cpp"))]
        # Configure-style probes compile a file they delete afterwards: skip those.
        if "-c" in argv and sources and os.path.exists(os.path.join(entry["cwd"], sources[0])):
            commands.append((entry["cwd"], argv))
    return tree, commands
