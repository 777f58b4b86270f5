"""Which compilers a client may run, and what program that actually executes.

The CVE-2004-2687 defence of distcc 3.3+ (reference §7), plus ``--allow-compiler``:

- ``DISTCC_CMDLIST=FILE`` (one compiler path per line): the last N path components of the
  requested argv[0] (N = ``DISTCC_CMDLIST_NUMWORDS``, default 1) are looked up among the
  last N components of each line and the *listed* full path runs.  If set, it replaces
  every other rule: a name not in the file is refused.
- Otherwise, unless ``--enable-tcp-insecure``: argv[0], after stripping a leading
  ``/bin/`` or ``/usr/bin/`` (case-insensitive, for QtCreator), must contain no ``/`` and
  must be an executable entry of a masquerade directory (``/usr/lib/distcc``,
  ``/usr/local/lib/distcc``) or named by ``--allow-compiler NAME``.  An
  ``--allow-compiler`` value containing ``/`` allows exactly that argv[0].
- ``--enable-tcp-insecure`` allows anything (what the SSH transport uses).

``check`` returns the program to execute (found on the daemon's PATH when it has no
``/``) or a ``Refusal`` whose text goes to the log.  It touches the file system only to
test the masquerade directories, so tests pass their own directories in.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MASQUERADE_DIRS = ("/usr/local/lib/distcc", "/usr/lib/distcc")
_CREATOR_PREFIXES = ("/bin/", "/usr/bin/")
MAX_CMDLIST_BYTES = 1 << 20


@dataclass(frozen=True)
class Refusal:
    reason: str


def last_words(path: str, count: int) -> str:
    """The part of ``path`` after its ``count``-th ``/`` from the end (distcc's stringmap).

    As in distcc, a ``/`` in the first position is never a cut point, so a path with too
    few components is returned whole.
    """
    seen = 0
    for pos in range(len(path) - 1, 0, -1):
        if path[pos] == "/":
            seen += 1
            if seen >= count:
                return path[pos + 1 :]
    return path


@dataclass(frozen=True)
class CmdList:
    """The parsed ``DISTCC_CMDLIST`` file: key (last N words) -> full path, first wins."""

    words: int
    entries: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str, words: int = 1) -> CmdList:
        entries = []
        for line in text.split("\n"):
            if line:
                entries.append((last_words(line, words), line))
        return cls(max(1, words), tuple(entries))

    @classmethod
    def load(cls, path: str, words: int = 1) -> CmdList:
        with open(path, "rb") as f:
            raw = f.read(MAX_CMDLIST_BYTES + 1)
        if len(raw) > MAX_CMDLIST_BYTES:
            raise OSError(f"{path}: larger than {MAX_CMDLIST_BYTES} bytes")
        return cls.parse(os.fsdecode(raw), words)

    def lookup(self, name: str) -> str | None:
        key = last_words(name, self.words)
        for entry_key, value in self.entries:
            if entry_key == key:
                return value
        return None


@dataclass(frozen=True)
class CompilerPolicy:
    insecure: bool = False
    cmdlist: CmdList | None = None
    allowed: frozenset[str] = frozenset()  # --allow-compiler values
    masquerade_dirs: tuple[str, ...] = MASQUERADE_DIRS

    @classmethod
    def build(
        cls,
        insecure: bool,
        allow_compiler: Iterable[str],
        env: dict[str, str],
        masquerade_dirs: Sequence[str] = MASQUERADE_DIRS,
    ) -> CompilerPolicy:
        """From the options and the environment; raises ``OSError`` for a bad CMDLIST."""
        cmdlist = None
        path = env.get("DISTCC_CMDLIST")
        if path:
            words_text = env.get("DISTCC_CMDLIST_NUMWORDS", "1")
            words = int(words_text) if words_text.strip().isdigit() else 1
            cmdlist = CmdList.load(path, words)
        return cls(insecure, cmdlist, frozenset(allow_compiler), tuple(masquerade_dirs))

    def startup_problem(self) -> str | None:
        """distcc's start-up check: with nothing that could allow a compiler, say so."""
        if self.insecure or self.cmdlist is not None or self.allowed:
            return None
        for d in self.masquerade_dirs:
            try:
                if os.listdir(d):
                    return None
            except OSError:
                continue
        return (
            f"{' and '.join(self.masquerade_dirs)} missing or empty. You must set up "
            "masquerade (see distcc(1)) to list allowed compilers, pass --allow-compiler "
            "NAME or --enable-tcp-insecure. To set up masquerade automatically run "
            "update-distcc-symlinks."
        )

    def check(self, argv0: str) -> str | Refusal:
        """The program to run for a requested argv[0], or why it is refused."""
        if not argv0:
            return Refusal("empty compiler name")
        if "\0" in argv0:
            return Refusal("NUL in compiler name")
        if self.cmdlist is not None:
            listed = self.cmdlist.lookup(argv0)
            if listed is None:
                return Refusal(f"lookup of {argv0} in DISTCC_CMDLIST failed")
            return listed
        if self.insecure:
            return argv0
        if argv0 in self.allowed:
            return argv0
        name = argv0
        for prefix in _CREATOR_PREFIXES:
            if argv0[: len(prefix)].lower() == prefix:
                name = argv0[len(prefix) :]
                break
        if "/" in name:
            return Refusal(
                f"compiler name <{argv0}> cannot be a path (or set DISTCC_CMDLIST, "
                "--allow-compiler or --enable-tcp-insecure)"
            )
        if name in (".", "..") or not name:
            return Refusal(f"bad compiler name <{argv0}>")
        if name in self.allowed:
            return name
        for d in self.masquerade_dirs:
            if os.access(os.path.join(d, name), os.X_OK):
                return name
        return Refusal(
            f"{name} not in {' or '.join(self.masquerade_dirs)} whitelist "
            "(nor named by --allow-compiler)"
        )
