"""Turn a compile command into a ``CompileJob`` through the shared command-line model.

The include server never parses argv itself: ``common.compiler.classify`` knows every
option's arity, so an option's argument is never taken for a second source file (distcc
#48, #76), and the search configuration is built from the parsed options by meaning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from common.compiler.classify import classify
from common.compiler.job import CompileJob, RunLocally


def classify_command(
    argv: Sequence[str], env: Mapping[str, str] | None = None
) -> CompileJob | RunLocally:
    return classify(list(argv), env=env)
