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

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from objrewrite import api
from objrewrite.errors import FormatError, UnsupportedError
from objrewrite.prefixmap import PrefixMap
from objrewrite.report import Hit

EXIT_OK, EXIT_LEFT, EXIT_USAGE, EXIT_INPUT, EXIT_UNSUPPORTED = 0, 1, 2, 3, 4


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="objrewrite",
        description="Rewrite path prefixes in the debug info of ELF and Mach-O objects.",
        epilog="exit codes: 0 ok, 1 prefix left in debug sections, 2 usage, "
               "3 bad input, 4 rewrite not possible",
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--map", "-m", action="append", metavar="OLD=NEW",
                      help="replace path prefix OLD by NEW (repeatable; first match wins)")
    mode.add_argument("--list", "-l", action="store_true",
                      help="print every path string in the debug info with section and form")
    mode.add_argument("--check", "-c", action="append", metavar="PREFIX",
                      help="exit 1 if PREFIX occurs in a debug section")
    p.add_argument("-o", "--output", metavar="OUT", help="write to OUT (one input only)")
    p.add_argument("--partial", action="store_true",
                   help="write the result even if a prefix is left in debug sections")
    p.add_argument("-q", "--quiet", action="store_true", help="no warnings")
    p.add_argument("files", nargs="+", metavar="FILE")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    if args.output and (not args.map or len(args.files) != 1):
        print("objrewrite: -o needs --map and exactly one FILE", file=sys.stderr)
        return EXIT_USAGE
    pmap = None
    if args.map:
        try:
            pmap = PrefixMap.parse(args.map)
        except ValueError as exc:
            print(f"objrewrite: {exc}", file=sys.stderr)
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
        print(f"objrewrite: {name}: warning: path in non-debug section {h.describe()} "
              "(cannot be rewritten after compilation; use -ffile-prefix-map)",
              file=sys.stderr)


def _rewrite(name: str, pmap: PrefixMap, args: argparse.Namespace) -> int:
    src = Path(name)
    data = src.read_bytes()
    new, report = api.rewrite_bytes(data, pmap)
    _warn_data(name, report.data_hits, args.quiet)
    if report.remaining:
        for h in report.remaining:
            print(f"objrewrite: {name}: prefix left in {h.describe()}", file=sys.stderr)
        if not args.partial:
            print(f"objrewrite: {name}: not written", file=sys.stderr)
            return EXIT_LEFT
    dest = Path(args.output) if args.output else src
    if dest != src or new != data:
        api.write_atomically(dest, new, like=src)
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
