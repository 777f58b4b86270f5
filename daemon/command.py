"""The one step where the daemon looks inside a received command line (protocols 1 and 2).

``prepare(argv)`` decides whether the server will run this command at all and, if so,
returns a ``ServerCommand`` that knows the source word the client named (for the log),
the suffix the temp input must have (``.i``/``.ii``/``.mi``/``.mii``: the compiler must
not preprocess again), and how to build the argv that runs with the temp input and the
temp output substituted.

The shared command-line model (``common.compiler``, branch ``compiler``) will own this
knowledge; until it lands, ``_scan`` is a faithful copy of the rules of distcc 3.4's
``dcc_scan_args`` (reference §3.2), which is what a stock daemon applies.  Whatever the
model says, ``-fplugin=`` and ``-specs=`` are refused here too (CVE-2004-2687 hardening).

Invariants: pure (no I/O); a refusal is a ``Refused`` value with a readable reason, never
an exception; ``ServerCommand.argv`` never returns the client's own paths for the input
or the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_SOURCE_SUFFIX = {
    "c": ".i",
    "i": ".i",
    "cc": ".ii",
    "cpp": ".ii",
    "cxx": ".ii",
    "cp": ".ii",
    "c++": ".ii",
    "C": ".ii",
    "ii": ".ii",
    "m": ".mi",
    "mi": ".mi",
    "mm": ".mii",
    "M": ".mii",
    "mii": ".mii",
}
_PROFILE_PREFIXES = ("-fprofile-generate", "-fprofile-use", "-fauto-profile")
_PROFILE_WORDS = ("-fprofile-arcs", "-ftest-coverage", "--coverage", "-fprofile-correction")
_X_LANGUAGES = ("c", "c++", "objective-c", "objective-c++", "go")


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class ServerCommand:
    words: tuple[str, ...]  # the received argv, with -o appended if it was implied
    source_index: int
    output_index: int  # index of the -o word (separate) or of the joined -oFILE
    output_joined: bool

    @property
    def source(self) -> str:
        return self.words[self.source_index]

    @property
    def compiler(self) -> str:
        return self.words[0]

    @property
    def input_suffix(self) -> str:
        return input_suffix(self.source)

    def argv(self, program: str, input_path: str, output_path: str) -> list[str]:
        """The command to run: ``program`` as argv[0], temp input and output swapped in."""
        out = list(self.words)
        out[0] = program
        out[self.source_index] = input_path
        if self.output_joined:
            out[self.output_index] = "-o" + output_path
        else:
            out[self.output_index + 1] = output_path
        return out


def input_suffix(source: str) -> str:
    """distcc's preprocessed extension for a source name (``.tmp`` if unknown)."""
    dot = source.rfind(".")
    if dot < 0 or "/" in source[dot:]:
        return ".tmp"
    return _SOURCE_SUFFIX.get(source[dot + 1 :], ".tmp")


def is_source(word: str) -> bool:
    dot = word.rfind(".")
    return dot >= 0 and "/" not in word[dot:] and word[dot + 1 :] in _SOURCE_SUFFIX


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def prepare(argv: Sequence[str]) -> ServerCommand | Refused:
    """Decide whether to run ``argv`` (as received) and how."""
    for word in argv:
        if word.startswith(("-fplugin=", "-specs=")):
            return Refused(f"{word}: -fplugin= and -specs= are insecure and not supported")
    return _scan(argv)


def _scan(argv: Sequence[str]) -> ServerCommand | Refused:
    words = list(argv)
    if not words or words[0].startswith("-"):
        return Refused("no compiler name")
    seen_c = seen_s = False
    source_index = -1
    output_index = -1
    output_joined = False
    i = 1
    while i < len(words):
        a = words[i]
        if a.startswith("-"):
            if a == "-E":
                return Refused("-E call for cpp must be local")
            if a in ("-MD", "-MMD", "-MG", "-MP"):
                pass
            elif a in ("-MF", "-MT", "-MQ"):
                i += 1
            elif a.startswith(("-MF", "-MT", "-MQ")):
                pass
            elif a[1:2] == "M":
                return Refused(f"{a} implies -E and must be local")
            elif a in ("-march=native", "-mtune=native") or (
                a.startswith("-Wa,") and (",-a" in a or "--MD" in a)
            ):
                return Refused(f"{a} must be local")
            elif a == "-S":
                seen_s = True
            elif a in _PROFILE_WORDS or a.startswith(_PROFILE_PREFIXES) or a == "-frepo":
                return Refused(f"{a}: profile data must be local")
            elif a.startswith("-x") and i + 1 < len(words):
                if not words[i + 1].startswith(_X_LANGUAGES):
                    return Refused(f"-x {words[i + 1]} must be local")
            elif a.startswith("-dr"):
                return Refused(f"{a} may write extra files")
            elif a == "-c":
                seen_c = True
            elif a == "-o":
                if i + 1 >= len(words):
                    return Refused("-o without a file")
                if output_index >= 0:
                    return Refused("two outputs: called for link?")
                output_index, output_joined = i, False
                i += 1
            elif a.startswith("-o"):
                if output_index >= 0:
                    return Refused("two outputs: called for link?")
                output_index, output_joined = i, True
        elif is_source(a):
            if source_index >= 0:
                return Refused("two input files")
            source_index = i
        elif a.endswith(".o"):
            return Refused(f"stray object {a}: called for link?")
        i += 1
    if not seen_c and not seen_s:
        return Refused("compiler apparently called not for compile")
    if source_index < 0:
        return Refused("no visible input file")
    source = words[source_index]
    if _basename(source).startswith(("conftest.", "tmp.conftest.")):
        return Refused("autoconf test file")
    if output_index < 0:
        stem = _basename(source).rsplit(".", 1)[0]
        words += ["-o", stem + (".s" if seen_s else ".o")]
        output_index, output_joined = len(words) - 2, False
    output = words[output_index][2:] if output_joined else words[output_index + 1]
    if output == "-":
        return Refused("output to stdout")
    return ServerCommand(tuple(words), source_index, output_index, output_joined)
