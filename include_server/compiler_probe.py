"""Ask the compiler for its default include directories and predefined macros, once.

Purpose: ``<cc> <probe args> -x <lang> -E -dM -v /dev/null`` prints the built-in search list
on stderr (between ``#include <...> search starts here:`` and ``End of search list.``) and
the predefined macros on stdout.  Both depend only on the compiler binary, the language and
the few options ``search_paths.probe_args`` keeps (sysroot, target, ``-m32``, ``-stdlib=``,
``-nostdinc``...), so results are memoised per (compiler realpath, its mtime and size,
language, those options, ``SDKROOT``).  The probe runs without CPATH & co.: those belong
to the compile (``search_paths.env_dirs``).

Invariants:
- ``(framework directory)`` lines (macOS) are dropped; directories are kept as the compiler
  printed them (absolute), never guessed.
- A probe that fails (no compiler, exec format error, no search list) raises
  ``ProbeError``; the caller reports "not covered" and the job is preprocessed locally.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from include_server.scanner import Define, definitions_in

# Environment variables that change the compiler's search list; the probe runs without them.
PATH_ENV = ("CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH")


class ProbeError(Exception):
    """The compiler could not be asked for its defaults."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    default_dirs: tuple[str, ...]
    predefined: tuple[Define, ...]


def parse_search_list(stderr: str) -> tuple[str, ...]:
    dirs: list[str] = []
    inside = False
    for line in stderr.splitlines():
        if line.startswith("#include <...> search starts here:"):
            inside = True
            continue
        if line.startswith("End of search list."):
            return tuple(dirs)
        if inside and line.startswith(" "):
            entry = line.strip()
            if entry.endswith("(framework directory)"):
                continue
            dirs.append(entry)
    raise ProbeError("no '#include <...> search starts here:' list in the compiler's -v output")


class CompilerProbe:
    """Memoised probes; ``run`` is injectable so tests can count calls."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        # Without the variables that add directories: those are the compile's, not the
        # compiler's (``search_paths.env_dirs`` gives them their real role).
        self._env = {
            k: v for k, v in (os.environ if env is None else env).items() if k not in PATH_ENV
        }
        self._memo: dict[tuple[object, ...], ProbeResult] = {}
        self._which: dict[str, str] = {}
        self._realpaths: dict[tuple[str, int], str] = {}  # (path, inode of target) -> real
        self.runs = 0

    def key(
        self, compiler: str, language: str, args: Sequence[str], cwd: str
    ) -> tuple[object, ...]:
        if "/" in compiler:
            found: str | None = os.path.join(cwd, compiler)
        else:
            # PATH lookups are memoised (this server's PATH does not change); the stat
            # below still sees a compiler replaced in place.
            found = self._which.get(compiler)
            if found is None:
                found = shutil.which(compiler, path=self._env.get("PATH"))
                if found is not None:
                    found = os.path.abspath(found)
                    self._which[compiler] = found
        if found is None:
            raise ProbeError(f"compiler {compiler!r} not found on PATH")
        try:
            st = os.stat(found)
        except OSError as exc:
            raise ProbeError(f"compiler {found!r}: {exc.strerror}") from None
        env_part = self._env.get("SDKROOT", "")
        real = self._realpaths.get((found, st.st_ino))
        if real is None:
            real = self._realpaths[(found, st.st_ino)] = os.path.realpath(found)
        return (
            real,
            st.st_mtime_ns,
            st.st_size,
            compiler,
            language,
            tuple(args),
            env_part,
        )

    def compiler_stamp(self, compiler: str, cwd: str) -> tuple[str, int, int] | None:
        """(realpath, mtime_ns, size) of the compiler, or None if it cannot be found."""
        try:
            key = self.key(compiler, "", (), cwd)
        except ProbeError:
            return None
        path, mtime, size = key[0], key[1], key[2]
        assert isinstance(path, str) and isinstance(mtime, int) and isinstance(size, int)
        return path, mtime, size

    def probe(self, compiler: str, language: str, args: Sequence[str], cwd: str) -> ProbeResult:
        key = self.key(compiler, language, args, cwd)
        try:
            return self._memo[key]
        except KeyError:
            pass
        cmd = [compiler, *args, "-x", language, "-E", "-dM", "-v", "/dev/null"]
        self.runs += 1
        try:
            proc = subprocess.run(
                cmd, cwd=cwd, env=self._env, capture_output=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProbeError(f"running {cmd[0]}: {exc}") from None
        stderr = proc.stderr.decode("latin-1")
        if proc.returncode != 0:
            last = stderr.strip().splitlines()[-1:] or [""]
            raise ProbeError(f"{' '.join(cmd)} exited {proc.returncode}: {last[0]}")
        result = ProbeResult(parse_search_list(stderr), tuple(definitions_in(proc.stdout)))
        self._memo[key] = result
        return result
