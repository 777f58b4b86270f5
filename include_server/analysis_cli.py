"""``include-analysis``: print the include closure of one compile command.

Usage::

    include-analysis [--format list|json|tree] [--system] [--check] [--stats] -- CC ARGS...

The command is analysed in the current directory, in process (no server needed).

- ``list``: one absolute (canonical) path per line, the source first; system headers only
  with ``--system``.  ``json``: everything the daemon would need (digests, sizes, symlinks,
  directories that must exist, misses, not-covered entries).  ``tree``: who includes whom.
- ``--check``: also run the compiler with ``-M`` (``-MM`` without ``--system``); exit 1 and
  name every dependency the closure misses.
- ``--stats``: closure size against the compiler's own dependency count.

Exit status: 0 fine; 1 ``--check`` found a missing dependency; 2 bad usage or not a
compile command; 3 the analysis is not covered (reasons on stderr, closure still printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import TextIO

from common.compiler.job import CompileJob, Meaning
from include_server.cache import Analyzer
from include_server.closure import Closure

_DROP_FOR_M = frozenset(
    {
        Meaning.OUTPUT,
        Meaning.DEP_MD,
        Meaning.DEP_MMD,
        Meaning.DEP_FILE,
        Meaning.DEP_TARGET,
        Meaning.DEP_TARGET_QUOTED,
        Meaning.DEP_ONLY,
        Meaning.SPLIT_DWARF,
    }
)


def dependency_command(job: CompileJob, system: bool, dep_file: str) -> list[str]:
    """The job's argv with outputs removed and ``-M``/``-MM -MF dep_file`` added."""
    drop: set[int] = set()
    for opt in job.options:
        if opt.spec.meaning in _DROP_FOR_M:
            drop.update(range(opt.index, opt.index + opt.words))
    n = len(job.argv)
    if job.output_implied and n - 1 not in drop and job.argv[n - 2 : n] == ("-o", job.output):
        drop.update((n - 2, n - 1))
    argv = [w for i, w in enumerate(job.argv) if i not in drop]
    return [*argv, "-M" if system else "-MM", "-MF", dep_file]


def parse_make_deps(text: str) -> list[str]:
    """The prerequisites of a make rule as written by ``cc -M`` (targets dropped)."""
    text = text.replace("\\\n", " ")
    words: list[str] = []
    for line in text.splitlines():
        if ":" not in line:
            continue
        # The target is everything up to the first ": " (paths may hold escaped spaces).
        rest = line.split(": ", 1)[1] if ": " in line else line.split(":", 1)[1]
        cur = ""
        i = 0
        while i < len(rest):
            ch = rest[i]
            if ch == "\\" and i + 1 < len(rest) and rest[i + 1] in " #":
                cur += rest[i + 1]
                i += 2
                continue
            if ch == "$" and rest[i + 1 : i + 2] == "$":
                cur += "$"
                i += 2
                continue
            if ch.isspace():
                if cur:
                    words.append(cur)
                cur = ""
            else:
                cur += ch
            i += 1
        if cur:
            words.append(cur)
    return words


def compiler_deps(job: CompileJob, system: bool, cwd: str) -> tuple[list[str], str]:
    """Canonical dependencies the compiler itself reports, and its stderr on failure."""
    with tempfile.TemporaryDirectory(prefix="include-analysis-") as tmp:
        dep_file = os.path.join(tmp, "deps.d")
        cmd = dependency_command(job, system, dep_file)
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
        if proc.returncode != 0:
            return [], proc.stderr.decode(errors="replace")
        with open(dep_file, encoding="latin-1") as f:
            deps = parse_make_deps(f.read())
    return [os.path.realpath(os.path.join(cwd, d)) for d in deps], ""


def closure_json(closure: Closure) -> dict[str, object]:
    return {
        "source": closure.source,
        "covered": closure.covered,
        "files": [
            {
                "path": f.path,
                "size": f.size,
                "digest": f.digest,
                "system": f.system,
                "default": f.default,
            }
            for f in closure.files
        ],
        "symlinks": [{"path": p, "target": t} for p, t in closure.symlinks],
        "must_exist": list(closure.must_exist),
        "missing": [{"file": m.file, "line": m.line, "name": m.name} for m in closure.missing],
        "not_covered": [
            {"file": n.file, "line": n.line, "reason": n.reason} for n in closure.not_covered
        ],
        "search_dirs": list(closure.search_dirs),
        "default_dirs": list(closure.default_dirs),
    }


def print_tree(closure: Closure, out: TextIO, system: bool) -> None:
    children: dict[str, list[str]] = {}
    for parent, child in closure.edges:
        children.setdefault(parent, []).append(child)
    sys_flag = {f.path: f.system for f in closure.files}
    stack: list[tuple[str, int]] = [(c, 0) for c in reversed(children.get("", []))]
    while stack:
        path, depth = stack.pop()
        if sys_flag.get(path) and not system:
            continue
        out.write("  " * depth + path + "\n")
        stack.extend((c, depth + 1) for c in reversed(children.get(path, [])))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="include-analysis", description="Print the include closure of a compile command."
    )
    parser.add_argument("--format", choices=("list", "json", "tree"), default="list")
    parser.add_argument("--system", action="store_true", help="include system headers")
    parser.add_argument("--check", action="store_true", help="compare with the compiler's -M")
    parser.add_argument("--stats", action="store_true", help="closure size against -M")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.error("no compile command given (after --)")
    cwd = os.getcwd()
    analysis = Analyzer().analyze(command, cwd, env=os.environ, want_edges=args.format == "tree")
    if analysis.closure is None or analysis.job is None:
        print(f"include-analysis: {analysis.reason}", file=sys.stderr)
        return 2
    closure = analysis.closure
    out = sys.stdout
    if args.format == "json":
        json.dump(closure_json(closure), out, indent=1)
        out.write("\n")
    elif args.format == "tree":
        print_tree(closure, out, args.system)
    else:
        for f in closure.files:
            if args.system or not f.system:
                out.write(f.path + "\n")
    status = 0
    for n in closure.not_covered:
        print(f"include-analysis: not covered: {n.file}:{n.line}: {n.reason}", file=sys.stderr)
        status = 3
    if args.check or args.stats:
        deps, error = compiler_deps(analysis.job, args.system, cwd)
        if error:
            print(f"include-analysis: the compiler's -M failed:\n{error}", file=sys.stderr)
            return 2
        ours = {f.path for f in closure.files}
        missing = [d for d in dict.fromkeys(deps) if d not in ours]
        if args.stats:
            listed = sum(1 for f in closure.files if args.system or not f.system)
            print(
                f"closure: {len(closure.files)} files ({listed} listed); "
                f"compiler: {len(set(deps))} files; "
                f"over-approximation: {len(ours - set(deps))} files; missing: {len(missing)}",
                file=sys.stderr,
            )
        if args.check and missing:
            for d in missing:
                print(f"include-analysis: missing from closure: {d}", file=sys.stderr)
            return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
