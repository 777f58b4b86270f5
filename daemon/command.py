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
  refusal there is a security boundary, CVE-2004-2687).

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


def _no_files(path: str) -> bytes:
    raise OSError(f"response file {path} refused on the server")


def prepare(argv: Sequence[str]) -> ServerCommand | Refused:
    """Decide whether to run ``argv`` (as received) and how."""
    if not argv or not argv[0] or argv[0].startswith("-"):
        return Refused("no compiler name")
    for word in argv[1:]:
        if word.startswith("@"):
            return Refused(f"{word}: response files are not read on the server")
        if word.startswith(_INSECURE_PREFIXES):
            return Refused(f"{word}: -fplugin= and -specs= are insecure and not supported")
    job = classify(argv, None, _no_files)
    if isinstance(job, RunLocally):
        return Refused(f"{job.reason}: {job.detail}")
    return ServerCommand(tuple(argv), job.source, preprocessed_extension(job.language))
