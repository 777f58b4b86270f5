"""What this server's compilers are: their default include directories and their family.

The stock include server ships, for each of the *client's* default include directories,
a link that climbs out of the server's root to the same directory on the server (reference
§4.4, §5.4).  The daemon accepts such a link only when it lands on one of *this* server's
default directories for the compiler the job runs; anything else leaving the root is
refused.  The family (gcc or clang) decides how a ``.d`` file is wrapped (daemon/dotd.py).

``probe(program, language, extra)`` runs ``program -x LANG [extra] -E -v /dev/null`` once
and parses the lines between ``#include <...> search starts here:`` and ``End of search
list.``; results are cached per (program, language, extra) for the daemon's life.  Every
directory is stored as its ``realpath``.

Vocabulary: *extra* are the words of the job that change the default directories
(``-m32``, ``--target=``, ``--sysroot``, ``-nostdinc``...).
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass

_LANG = {
    "c": "c",
    "cpp-output": "c",
    "c++": "c++",
    "c++-cpp-output": "c++",
    "objective-c": "objective-c",
    "objective-c-cpp-output": "objective-c",
    "objective-c++": "objective-c++",
    "objective-c++-cpp-output": "objective-c++",
}


@dataclass(frozen=True)
class CompilerFacts:
    include_dirs: tuple[str, ...]  # realpaths, in search order
    clang: bool

    def allows(self, server_path: str) -> bool:
        """Is ``server_path`` (after realpath) one of the default include directories?"""
        return os.path.realpath(server_path) in self.include_dirs


def parse_verbose(stderr: str) -> CompilerFacts:
    dirs: list[str] = []
    inside = False
    for line in stderr.splitlines():
        if line.startswith("#include <...> search starts here:"):
            inside = True
        elif line.startswith("End of search list"):
            inside = False
        elif inside and line.startswith(" "):
            d = line.strip()
            if d.endswith("(framework directory)"):
                continue
            dirs.append(os.path.realpath(d))
    clang = "clang version" in stderr
    return CompilerFacts(tuple(dirs), clang)


class Prober:
    def __init__(self, env: dict[str, str]) -> None:
        self._env = {"PATH": env.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        self._cache: dict[tuple[str, str, tuple[str, ...]], CompilerFacts] = {}
        self._lock = threading.Lock()

    def probe(self, program: str, language: str, extra: tuple[str, ...] = ()) -> CompilerFacts:
        lang = _LANG.get(language, "c")
        key = (program, lang, extra)
        with self._lock:
            facts = self._cache.get(key)
        if facts is not None:
            return facts
        try:
            done = subprocess.run(
                [program, "-x", lang, *extra, "-E", "-v", "/dev/null", "-o", "/dev/null"],
                env=self._env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=60,
                cwd="/",
            )
            facts = parse_verbose(done.stderr.decode("utf-8", "replace"))
        except (OSError, subprocess.TimeoutExpired):
            facts = CompilerFacts((), False)
        with self._lock:
            self._cache[key] = facts
        return facts
