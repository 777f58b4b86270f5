"""Backoff: keep away from a host that just failed, for DISTCC_BACKOFF_PERIOD seconds.

The record is distcc's (``src/backoff.c``, ``src/timefile.c``): a file in the lock
directory named like the slot locks with kind ``backoff`` and slot 0,

    backoff_localhost_0   backoff_tcp_<host>_<port>_0   backoff_ssh_<host>_0

whose *mtime* is the time of the last failure.  Marking opens it (creating, mode 0666
less the umask) and writes one byte at offset 0, because opening alone does not update
the mtime.  A host whose file is less than ``period`` seconds old (whole seconds, as
distcc's ``time(NULL) - st_mtime``) is left out of the candidates; a host that worked has
its file removed.  ``period == 0`` turns all of it off: no file is read, written or
removed.  A stock distcc sharing the DISTCC_DIR sees our marks and we see its.

API (the clock is a parameter, so tests never sleep):

- ``mark(directory, host, period)``: the host failed (``dcc_disliked_host``).
- ``enjoyed(directory, host, period)``: the host worked (``dcc_enjoyed_host``).
- ``in_backoff(directory, host, period, now) -> bool``.
- ``usable_hosts(directory, hosts, period, now) -> tuple[Host, ...]``: ``hosts`` without
  those in backoff, in order (``dcc_remove_disliked``).  An empty result means "no hosts":
  the caller compiles locally.

Which failures mark a host is the caller's decision; DESIGN.md says a failure that
happened locally (a cpp or syntax error) never does.
"""

from __future__ import annotations

import os

from client.locks import lock_file_name, open_lock_file
from common.exitcodes import DistccError, ExitCode
from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from client.hosts import Host

DEFAULT_PERIOD = 60  # seconds


def backoff_path(directory: str, host: Host) -> str:
    return directory + "/" + lock_file_name(host, 0, "backoff")


def mark(directory: str, host: Host, period: int = DEFAULT_PERIOD) -> None:
    """Record that ``host`` failed now (the file's mtime becomes the current time)."""
    if period == 0:
        return
    path = backoff_path(directory, host)
    fd = open_lock_file(path)
    try:
        if os.write(fd, b"x") != 1:
            raise DistccError(ExitCode.IO_ERROR, f"short write to {path}")
    except OSError as e:
        raise DistccError(ExitCode.IO_ERROR, f"write to {path} failed: {e.strerror}") from e
    finally:
        os.close(fd)


def enjoyed(directory: str, host: Host, period: int = DEFAULT_PERIOD) -> None:
    """Forget any backoff of ``host`` (it just worked)."""
    if period == 0:
        return
    try:
        os.unlink(backoff_path(directory, host))
    except FileNotFoundError:
        pass  # nobody marked it, or another client already removed it
    except OSError:
        pass  # distcc logs and carries on: a stale mark only costs one period


def in_backoff(directory: str, host: Host, period: int, now: float) -> bool:
    """True if ``host`` failed less than ``period`` seconds before ``now``."""
    if period == 0:
        return False
    try:
        mtime = os.stat(backoff_path(directory, host)).st_mtime
    except FileNotFoundError:
        return False
    except OSError:
        return True  # distcc drops a host whose backoff file it cannot stat
    return int(now) - int(mtime) < period


def usable_hosts(
    directory: str, hosts: Iterable[Host], period: int, now: float
) -> tuple[Host, ...]:
    """``hosts`` minus those in backoff, order kept."""
    return tuple(h for h in hosts if not in_backoff(directory, h, period, now))
