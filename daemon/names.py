"""Validation of the paths a pump client names: ``CDIR``, ``NAME`` and ``LINK`` values.

distcc 3.4 prepends its temp root to whatever a client sends, with FIXMEs for ``..`` and
for names that do not start with ``/`` (reference §1.7, §7): a hostile client can write
anywhere the daemon can.  Here every name is checked before anything is created.

A *client path* (``CDIR``, ``NAME``, an absolute ``LINK`` target) must be absolute, at most
``MAX_PATH`` bytes, with no NUL, and its components (empty ones from ``//`` are dropped)
must be neither ``.`` nor ``..`` and at most ``MAX_COMPONENT`` bytes each.  ``components``
returns the component list or raises ``BadName``.

A *relative link target* is judged lexically from the link's own directory under the
mirror root (``resolve_relative``): it either stays inside the root (its client path is
returned) or climbs out of it (the stock include server's system-directory links,
``../`` x (20 + depth) + the directory itself), in which case ``Escapes`` says where it
lands on the server.  The caller decides whether that landing place is allowed.  Lexical
resolution is exact here because the daemon never lets a link be traversed while it builds
the root (see daemon/mirror.py), and every link is checked again with ``realpath`` once
the root is complete.

Pure: no file system access.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

MAX_PATH = 4096  # Linux PATH_MAX
MAX_COMPONENT = 255  # NAME_MAX


class BadName(ValueError):
    """A path from the client that the daemon refuses."""


@dataclass(frozen=True)
class Escapes:
    """A relative link target that climbs above the client's ``/``."""

    server_path: str  # where it lands on this server (normalised, absolute)


def components(path: str, what: str = "NAME", allow_root: bool = False) -> list[str]:
    """The components of an absolute client path, or ``BadName``."""
    if not path:
        raise BadName(f"{what} is empty")
    if len(path.encode("utf-8", "surrogateescape")) > MAX_PATH:
        raise BadName(f"{what} longer than {MAX_PATH} bytes")
    if "\0" in path:
        raise BadName(f"{what} holds a NUL byte")
    if not path.startswith("/"):
        raise BadName(f"{what} {path!r} is not absolute")
    parts = [p for p in path.split("/") if p]
    for p in parts:
        if p in (".", ".."):
            raise BadName(f"{what} {path!r} has a {p!r} component")
        if len(p.encode("utf-8", "surrogateescape")) > MAX_COMPONENT:
            raise BadName(f"{what} {path!r} has a component longer than {MAX_COMPONENT} bytes")
    if not parts and not allow_root:
        raise BadName(f"{what} names the root directory itself")
    return parts


def normal(path: str, what: str = "NAME", allow_root: bool = False) -> str:
    """The checked client path in normal form (``/a/b``)."""
    return "/" + "/".join(components(path, what, allow_root))


def check_target(target: str) -> None:
    """Checks every link target shares (relative or absolute)."""
    if not target:
        raise BadName("LINK target is empty")
    if len(target.encode("utf-8", "surrogateescape")) > MAX_PATH:
        raise BadName(f"LINK target longer than {MAX_PATH} bytes")
    if "\0" in target:
        raise BadName("LINK target holds a NUL byte")


def resolve_relative(root: str, link_name: str, target: str) -> str | Escapes:
    """Where a relative ``target`` of the link at client path ``link_name`` points.

    ``root`` is the server directory standing for the client's ``/``.  Returns the client
    path the target names, or ``Escapes`` with the server path if it climbs out of
    ``root`` (``..`` at the server's ``/`` stays there, as in the kernel).
    """
    check_target(target)
    if target.startswith("/"):
        raise BadName(f"LINK target {target!r} is absolute")
    for part in target.split("/"):
        if len(part.encode("utf-8", "surrogateescape")) > MAX_COMPONENT:
            raise BadName(f"LINK target has a component longer than {MAX_COMPONENT} bytes")
    parent = "/".join(components(link_name)[:-1])
    landed = posixpath.normpath(posixpath.join(root, parent, target))
    if landed == root:
        return "/"
    if landed.startswith(root + "/"):
        return landed[len(root) :]
    return Escapes(landed)
