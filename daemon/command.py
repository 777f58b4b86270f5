"""The one step where the daemon looks inside a received command line (protocols 1 and 2).

``prepare(argv)`` decides whether the server will run this command at all and, if so,
returns a ``ServerCommand`` that knows the source word the client named (for the log),
the suffix the temp input must have (``.i``/``.ii``/``.mi``/``.mii``, so the compiler does
not preprocess again), and how to build the argv that runs with the temp input and the
temp output substituted.

The knowledge is the shared command-line model's (``common.compiler.classify`` and
``common.compiler.rewrite.server_argv``): the daemon refuses what a client would not
distribute.  On top of it, the daemon refuses:

- ``@file`` words: the model would expand them by reading *the daemon's* files (distcc
  3.4 let gcc read them on the server);
- ``-fplugin=`` and ``-specs=`` (the model says so too; checked here again because a
  refusal there is a security boundary, CVE-2004-2687);
- what ``server_refusal`` names (shared with pump mode): options that make the compiler
  *run* or *read configuration from* a directory the client chooses (``-B``: gcc reads
  ``specs`` from it, so a shipped or pre-placed file runs any command;
  ``--gcc-toolchain``), and options that *write* side files at a path the client
  chooses (``-time=``, ``-fopt-info-*=FILE``, ``-fdiagnostics-add-output=``,
  ``-fcrash-diagnostics-dir=``, ``-MF`` in plain mode, where clients strip it anyway),
  plus the same inside the pass-through options (``-Wa,@FILE``, ``-Xclang -o``,
  ``-Xclang -dependency-file``, ``-mllvm -info-output-file=``...).  These were found by
  the hostile-client suite (tests/security/test_hostile_options.py).

Invariants: pure (no I/O); a refusal is a ``Refused`` value with a readable reason, never
an exception; ``ServerCommand.argv`` never contains the client's input or output paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from common.compiler.classify import classify
from common.compiler.job import RunLocally, preprocessed_extension
from common.compiler.rewrite import server_argv

_INSECURE_PREFIXES = ("-fplugin=", "-specs=", "--specs=")

# Words refused whatever the protocol (see the module docstring).  Prefix matches.
_SERVER_REFUSED_PREFIXES = (
    "-B",  # gcc reads DIR/specs and runs DIR/as, DIR/cc1: code execution
    "--gcc-toolchain",
    "--prefix",  # gcc's spelling of -B (--prefix=DIR, --prefix DIR)
    "-fcrash-diagnostics",
    "-fdiagnostics-add-output",
    "-fdiagnostics-set-output",
    "-iplugindir",
    "-fself-test",
    "-wrapper",
)
_SERVER_REFUSED_EXACT = frozenset(("-time",))
# Pass-through options whose next word goes to another program unchecked by the model.
_PASSTHROUGH = frozenset(("-Xclang", "-mllvm", "-Xassembler", "-Xpreprocessor", "-Xlinker"))
# Values of ``-Xclang`` that name an output, a plugin or a file to read.
_XCLANG_REFUSED = (
    "-o",
    "-dependency-file",
    "-header-include-file",
    "-diagnostic-log-file",
    "-serialize-diagnostic-file",
    "-stats-file",
    "-load",
    "-plugin",
    "-add-plugin",
    "-MF",
    "-MT",
    "-fmodules-cache-path",
    "-module-file",
    "-ast-dump",
    "-dump",
)


def _pass_through_refusal(option: str, value: str) -> str | None:
    if value.startswith("@"):
        return f"{option} {value}: response files are not read on the server"
    if option == "-Xclang" and value.startswith(_XCLANG_REFUSED):
        return f"{option} {value}: writes or loads files the client names"
    if option == "-mllvm" and ("file" in value or "output" in value):
        return f"{option} {value}: writes or reads files the client names"
    return None


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class ServerCommand:
    words: tuple[str, ...]  # the argv as received
    source: str  # the source word as the client named it
    input_suffix: str

    @property
    def compiler(self) -> str:
        return self.words[0]

    def argv(self, program: str, input_path: str, output_path: str) -> list[str]:
        """The command to run: ``program`` as argv[0], temp input and output swapped in."""
        out = server_argv(self.words, input_path, output_path)
        if isinstance(out, RunLocally):  # prepare() classified these very words
            raise AssertionError(f"classification changed: {out.detail}")
        out[0] = program
        return out


def _escapes(path: str) -> bool:
    """A path that is absolute or climbs (``..``): it would leave the job directory."""
    return path.startswith("/") or ".." in path.split("/")


def server_refusal(words: Sequence[str], plain: bool = True) -> str | None:
    """Why the server refuses to run ``words`` (argv as received), or None.

    Independent of the command-line model's classification (which decides what a
    *client* distributes): this is the daemon's own list of options that would let a
    client run programs, read configuration or write files outside the job.  ``plain``
    (protocols 1 and 2) also refuses an ``-MF`` outside the job directory (plain-mode
    clients strip ``-MF``; pump mode re-roots it).
    """
    previous = ""
    for word in words[1:]:
        if previous in _PASSTHROUGH:
            why = _pass_through_refusal(previous, word)
            if why:
                return why
            previous = ""
            continue
        if plain and previous == "-MF" and _escapes(word):
            return f"-MF {word}: outside the job directory"
        previous = word
        if word.startswith("@"):
            return f"{word}: response files are not read on the server"
        if word.startswith(_INSECURE_PREFIXES):
            return f"{word}: -fplugin= and -specs= are insecure and not supported"
        if word.startswith(_SERVER_REFUSED_PREFIXES) or word in _SERVER_REFUSED_EXACT:
            return f"{word}: runs, reads or writes files the client names"
        if word.startswith("-time=") or (word.startswith("-fopt-info") and "=" in word):
            return f"{word}: writes a file the client names"
        if plain and word.startswith("-MF") and len(word) > 3 and _escapes(word[3:]):
            return f"{word}: outside the job directory"
        if word.startswith(("-Wa,", "-Wp,", "-Wl,")):
            for part in word[4:].split(","):
                if part.startswith("@"):
                    return f"{word}: response files are not read on the server"
    return None


def _no_files(path: str) -> bytes:
    raise OSError(f"response file {path} refused on the server")


def prepare(argv: Sequence[str]) -> ServerCommand | Refused:
    """Decide whether to run ``argv`` (as received) and how."""
    if not argv or not argv[0] or argv[0].startswith("-"):
        return Refused("no compiler name")
    why = server_refusal(argv)
    if why:
        return Refused(why)
    job = classify(argv, None, _no_files)
    if isinstance(job, RunLocally):
        return Refused(f"{job.reason}: {job.detail}")
    return ServerCommand(tuple(argv), job.source, preprocessed_extension(job.language))
