"""``objrewrite``: rewrite, list or check the paths in object files' debug info.

Usage::

    objrewrite --map OLD=NEW [--map OLD=NEW ...] [-o OUT] FILE...
    objrewrite --list FILE...
    objrewrite --check PREFIX [--check PREFIX ...] FILE...

Exit codes (``EXIT_*``; documented in docs/objrewrite.md):
  0  done: every file rewritten (or listed, or checked clean)
  1  a prefix is left in debug sections (``--check``, or after a rewrite; the file is then
     left untouched unless ``--partial``)
  2  usage error
  3  an input is unreadable or not a well-formed ELF/Mach-O object
  4  the rewrite is not possible safely (a path would grow in place, unknown relocation)
With several files the highest code wins; every file is still processed.  ``__FILE__``
strings found in data sections are warnings (stderr) and do not change the exit code.
"""

from __future__ import annotations

import sys

from objrewrite import api
from objrewrite.errors import FormatError, UnsupportedError
from objrewrite.prefixmap import PrefixMap

TYPE_CHECKING = False  # mypy treats this name as True; see report.py on import cost
if TYPE_CHECKING:
    from collections.abc import Sequence

    from objrewrite.report import Hit

EXIT_OK, EXIT_LEFT, EXIT_USAGE, EXIT_INPUT, EXIT_UNSUPPORTED = 0, 1, 2, 3, 4

USAGE = """\
usage: objrewrite --map OLD=NEW [--map OLD=NEW ...] [-o OUT] [--partial] [-q] FILE...
       objrewrite --list FILE...
       objrewrite --check PREFIX [--check PREFIX ...] [-q] FILE...

Rewrite path prefixes in the debug info of ELF and Mach-O objects.

  -m, --map OLD=NEW     replace path prefix OLD by NEW (repeatable; first match wins)
  -l, --list            print every path string in the debug info: section, form, holder
  -c, --check PREFIX    exit 1 if PREFIX occurs in a debug section (repeatable)
  -o, --output OUT      write the result to OUT (one FILE only) instead of in place
  --partial             write the result even if a prefix is left in debug sections
  -q, --quiet           no warnings about paths in data sections
  -h, --help            show this help

exit codes: 0 ok, 1 prefix left in debug sections, 2 usage error,
            3 unreadable or malformed input, 4 rewrite not possible safely
"""


class _Args:
    __slots__ = ("check", "files", "list", "map", "output", "partial", "quiet")

    def __init__(self) -> None:
        self.map: list[str] = []
        self.check: list[str] = []
        self.list = self.partial = self.quiet = False
        self.output: str | None = None
        self.files: list[str] = []


class _UsageError(Exception):
    pass


def _parse(argv: Sequence[str]) -> _Args:
    a = _Args()
    it = iter(argv)
    takes = {
        "-m": "map",
        "--map": "map",
        "-c": "check",
        "--check": "check",
        "-o": "output",
        "--output": "output",
    }
    flags = {
        "-l": "list",
        "--list": "list",
        "--partial": "partial",
        "-q": "quiet",
        "--quiet": "quiet",
    }
    only_files = False
    for arg in it:
        if only_files or not arg.startswith("-") or arg == "-":
            a.files.append(arg)
            continue
        if arg == "--":
            only_files = True
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in takes:
            if not eq:
                nxt = next(it, None)
                if nxt is None:
                    raise _UsageError(f"{name} needs a value")
                value = nxt
            key = takes[name]
            if key == "output":
                a.output = value
            else:
                getattr(a, key).append(value)
        elif arg in flags:
            setattr(a, flags[arg], True)
        elif len(arg) > 2 and arg[1] != "-" and arg[:2] in takes:
            getattr(a, takes[arg[:2]]).append(arg[2:]) if takes[arg[:2]] != "output" else (
                setattr(a, "output", arg[2:])
            )
        else:
            raise _UsageError(f"unknown option {arg}")
    modes = bool(a.map) + bool(a.check) + a.list
    if modes != 1:
        raise _UsageError("give exactly one of --map, --list, --check")
    if not a.files:
        raise _UsageError("no FILE given")
    if a.output and (not a.map or len(a.files) != 1):
        raise _UsageError("-o needs --map and exactly one FILE")
    return a


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "-h" in argv or "--help" in argv:
        sys.stdout.write(USAGE)
        return EXIT_OK
    try:
        args = _parse(argv)
        pmap = PrefixMap.parse(args.map) if args.map else None
    except (_UsageError, ValueError) as exc:
        sys.stderr.write(f"objrewrite: {exc}\n{USAGE.splitlines()[0]}\n")
        return EXIT_USAGE
    status = EXIT_OK
    for name in args.files:
        try:
            if pmap is not None:
                code = _rewrite(name, pmap, args)
            elif args.list:
                code = _list(name, len(args.files) > 1)
            else:
                code = _check(name, args.check, args.quiet)
        except FormatError as exc:
            print(f"objrewrite: {name}: {exc}", file=sys.stderr)
            code = EXIT_INPUT
        except OSError as exc:
            print(f"objrewrite: {name}: {exc.strerror or exc}", file=sys.stderr)
            code = EXIT_INPUT
        except UnsupportedError as exc:
            print(f"objrewrite: {name}: {exc}", file=sys.stderr)
            code = EXIT_UNSUPPORTED
        status = max(status, code)
    return status


def _warn_data(name: str, hits: list[Hit], quiet: bool) -> None:
    if quiet:
        return
    for h in hits:
        print(
            f"objrewrite: {name}: warning: path in non-debug section {h.describe()} "
            "(cannot be rewritten after compilation; use -ffile-prefix-map)",
            file=sys.stderr,
        )


def _rewrite(name: str, pmap: PrefixMap, args: _Args) -> int:
    data = api.read(name)
    new, report = api.rewrite_parts(data, pmap)
    _warn_data(name, report.data_hits, args.quiet)
    if report.remaining:
        for h in report.remaining:
            print(f"objrewrite: {name}: prefix left in {h.describe()}", file=sys.stderr)
        if not args.partial:
            print(f"objrewrite: {name}: not written", file=sys.stderr)
            return EXIT_LEFT
    dest = args.output or name
    if dest != name or new is not data:
        api.write_atomically(dest, new, like=name)
    return EXIT_LEFT if report.remaining else EXIT_OK


def _list(name: str, prefix: bool) -> int:
    for e in api.list_paths(name):
        lead = f"{name}: " if prefix else ""
        print(f"{lead}{e.section}\t{e.form}\t{e.holder}\t{e.text}")
    return EXIT_OK


def _check(name: str, prefixes: list[str], quiet: bool) -> int:
    hits = api.find_prefix(name, prefixes)
    debug = [h for h in hits if h.debug]
    _warn_data(name, [h for h in hits if not h.debug], quiet)
    for h in debug:
        print(f"{name}: {h.describe()}")
    return EXIT_LEFT if debug else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
