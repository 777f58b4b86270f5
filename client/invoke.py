"""How the client was invoked: explicit, implicit or masquerade; PATH trimming; recursion guard.

- *explicit*: ``distcc gcc -c x.c``: the compiler is the first argument.
- *implicit*: ``distcc -c x.c``: the first argument is an option or a source/object file,
  so ``cc`` is inserted.
- *masquerade*: the program was called through a link named ``gcc``, ``cc``, ``g++``...:
  PATH is trimmed up to and including the directory holding that link, so the next ``gcc``
  on PATH is the real compiler and not us again.

The recursion guard: every program we run gets ``_DISTCC_SAFEGUARD`` = our level + 1.  A
client that starts with it already set exits 111, except at level 1 in masquerade mode
after trimming PATH (a compiler wrapper calling "gcc" that was us), which compiles locally.

``resolve_invocation`` is pure over (argv, env, a file-existence probe).
"""

from __future__ import annotations

import os

from common.compiler.classify import is_source
from common.values import TYPE_CHECKING, Value

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

SAFEGUARD = "_DISTCC_SAFEGUARD"


class Invocation(Value):
    """The compiler command to run and the environment to run it in."""

    __slots__ = ("argv", "env", "masquerade", "safeguard_level")
    argv: tuple[str, ...]  # compiler argv (argv[0] = compiler name or path)
    env: dict[str, str]  # environment for children (PATH trimmed, safeguard bumped)
    masquerade: bool
    safeguard_level: int  # the level found in our own environment (0 = none)

    def __init__(
        self, argv: tuple[str, ...], env: dict[str, str], masquerade: bool, safeguard_level: int
    ) -> None:
        self._init(argv=argv, env=env, masquerade=masquerade, safeguard_level=safeguard_level)


def safeguard_level(env: Mapping[str, str]) -> int:
    raw = env.get(SAFEGUARD, "")
    try:
        return max(int(raw), 0) if raw else 0
    except ValueError:
        return 1


def looks_implicit(first_arg: str) -> bool:
    """distcc inserts ``cc`` when the first argument is an option, a source or an object."""
    return first_arg.startswith("-") or is_source(first_arg) or first_arg.endswith(".o")


def trim_path(path_var: str, link_dir: str) -> str:
    """Drop every PATH entry up to and including ``link_dir``."""
    entries = path_var.split(os.pathsep)
    target = os.path.realpath(link_dir)
    for i, entry in enumerate(entries):
        if os.path.realpath(entry or ".") == target:
            return os.pathsep.join(entries[i + 1 :])
    return path_var


def resolve_invocation(
    argv0: str,
    args: Sequence[str],
    env: Mapping[str, str],
    find_on_path: Callable[[str, str], str | None],
) -> Invocation:
    """Work out the compiler argv and the children's environment.

    ``argv0`` is how we were called, ``args`` what followed.  ``find_on_path(name, PATH)``
    returns the directory-qualified program PATH would run, or None.
    """
    level = safeguard_level(env)
    child_env = dict(env)
    child_env[SAFEGUARD] = str(level + 1)
    name = os.path.basename(argv0)
    if name in ("distcc", "distcc.py"):
        if not args:
            return Invocation((), child_env, False, level)
        if looks_implicit(args[0]):
            return Invocation(("cc", *args), child_env, False, level)
        return Invocation(tuple(args), child_env, False, level)
    # Masquerade: find the directory holding the link we were called through.
    path_var = env.get("PATH", os.defpath)
    if "/" in argv0:
        link_dir = os.path.dirname(os.path.abspath(argv0))
    else:
        found = find_on_path(name, path_var)
        link_dir = os.path.dirname(found) if found else ""
    if link_dir:
        child_env["PATH"] = trim_path(path_var, link_dir)
    return Invocation((name, *args), child_env, True, level)
