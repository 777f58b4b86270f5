"""The exception tree of objrewrite, sorted by what the caller does next.

- ``ObjRewriteError``: base class; never raised directly.
- ``FormatError``: the input is not an object we understand (unknown magic, truncated or
  inconsistent headers).  The input is left untouched; the caller reports it.
- ``UnsupportedError``: the object is well formed but the asked-for rewrite cannot be done
  safely (a path would have to grow in place, an unknown relocation type, a compression we
  cannot decode).  Nothing is written; a daemon falls back to failing the job loudly.
"""

from __future__ import annotations


class ObjRewriteError(Exception):
    """Base of every error objrewrite raises on purpose."""


class FormatError(ObjRewriteError):
    """The input is not a well-formed object file of a known format."""


class UnsupportedError(ObjRewriteError):
    """The rewrite asked for cannot be done safely on this input."""
