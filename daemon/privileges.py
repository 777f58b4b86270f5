"""Dropping root, as distcc's ``dcc_discard_root`` (``src/setuid.c``).

Run by root, distccd becomes ``--user USER``, else ``distcc``, ``distccd`` (Debian's
account), ``nobody``, else uid/gid 65534, and checks that root is really gone.  One
deliberate difference: an explicit ``--user root`` (or any uid-0 account) is honoured with
a warning instead of failing; the operator asked for it, and it is what tests running as
root need.  Run by anyone else, ``--user`` is ignored with a warning.
"""

from __future__ import annotations

import logging
import os
import pwd

log = logging.getLogger(__name__)

FALLBACK_USERS = ("distcc", "distccd", "nobody")


class PrivilegeError(Exception):
    """Root could not be discarded (exit code SETUID_FAILED, 112)."""


def _lookup(names: tuple[str, ...]) -> tuple[int, int, str]:
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            log.info('no such user as "%s"', name)
            continue
        return entry.pw_uid, entry.pw_gid, name
    return 65534, 65534, "65534"


def discard_root(user: str | None) -> None:
    if os.getuid() != 0 and os.geteuid() != 0:
        if user:
            log.warning("--user is ignored when distccd is not run by root")
        return
    names = ((user,) if user else ()) + FALLBACK_USERS
    uid, gid, name = _lookup(names)
    if uid == 0:
        log.warning("running as root because --user %s asked for it", name)
        return
    try:
        os.setgid(gid)
        os.setgroups([gid])
        os.setuid(uid)
    except OSError as exc:
        raise PrivilegeError(f"failed to switch to user {name}: {exc.strerror}") from None
    if os.getuid() == 0 or os.geteuid() == 0:
        raise PrivilegeError("still have root privileges after trying to discard them!")
    log.info("discarded root privileges, changed to uid=%d gid=%d", uid, gid)
