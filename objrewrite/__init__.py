"""Rewrite path prefixes in object files' debug information (ELF, Mach-O).

The daemon's safety net after a remote compile in a mirror root, and a standalone tool
(``objrewrite``, see docs/objrewrite.md).  Public API: ``rewrite_file``, ``rewrite_bytes``,
``find_prefix``, ``list_paths``, ``PrefixMap``, ``RewriteReport``, ``Hit``, and the errors.
"""

from __future__ import annotations

from objrewrite.api import find_prefix, list_paths, rewrite_bytes, rewrite_file
from objrewrite.errors import FormatError, ObjRewriteError, UnsupportedError
from objrewrite.prefixmap import PrefixMap
from objrewrite.report import Hit, PathEntry, RewriteReport

__all__ = [
    "FormatError",
    "Hit",
    "ObjRewriteError",
    "PathEntry",
    "PrefixMap",
    "RewriteReport",
    "UnsupportedError",
    "find_prefix",
    "list_paths",
    "rewrite_bytes",
    "rewrite_file",
]
