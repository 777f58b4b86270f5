"""The client's log: distcc's ``distcc[PID] LEVEL: message`` lines, to stderr or a file.

distcc prints warnings and errors to stderr and, with ``DISTCC_VERBOSE=1``, debug traces
too; ``DISTCC_LOG=FILE`` sends everything to that file at INFO level (or DEBUG when
verbose).  A file that cannot be opened is reported once on stderr, and the lines go to
stderr instead, as in distcc.

Why not stdlib ``logging`` (STYLE.md's habit 7): this module is on the per-job path of
every compile, and ``import logging`` costs ~10 ms of CPU here, two thirds of what the
rest of a pump job costs; with ``DISTCC_LOG`` set (pump's benchmark and many build farms
set it) every job paid it for its one INFO line.  What the client needs of ``logging`` is a
level threshold and one line per record, which is this module.  Each line leaves in one
``write`` to a descriptor opened with ``O_APPEND``, so the lines of concurrent clients
sharing one log file never interleave.

Usage: ``from client import log``; ``log.configure(env)`` once (``client.main``), then
``log.warning("...")``; ``log.shutdown()`` before ``os._exit``.
"""

from __future__ import annotations

import os
import sys

from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR"}

_VERBOSE = False
_LOGFILE: str | None = None
_level = WARNING
_fd: int | None = None  # the log file once opened; None = not yet, -1 = stderr


def configure(env: Mapping[str, str]) -> None:
    """Read DISTCC_VERBOSE / DISTCC_LOG; the file is opened on the first line logged."""
    global _VERBOSE, _LOGFILE, _level
    _VERBOSE = env.get("DISTCC_VERBOSE", "0") not in ("", "0")
    _LOGFILE = env.get("DISTCC_LOG") or None
    _level = DEBUG if _VERBOSE else INFO if _LOGFILE else WARNING
    shutdown()


def verbose() -> bool:
    return _VERBOSE


def _open() -> int:
    """The log file's descriptor (appending), or -1 for stderr."""
    global _fd
    if _LOGFILE:
        try:
            _fd = os.open(_LOGFILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
            return _fd
        except OSError as exc:
            # As distcc: say so on stderr and carry on logging there.
            sys.stderr.write(f"distcc[{os.getpid()}] failed to open logfile {_LOGFILE}: {exc}\n")
    _fd = -1
    return _fd


def _emit(level: int, msg: str) -> None:
    if level < _level:
        return
    line = f"distcc[{os.getpid()}] {_NAMES[level]}: {msg}\n"
    fd = _fd if _fd is not None else _open()
    if fd >= 0:
        try:
            os.write(fd, line.encode("utf-8", "backslashreplace"))
            return
        except OSError:
            pass
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr closed: a log line must never fail the compile


def debug(msg: str) -> None:
    _emit(DEBUG, msg)


def info(msg: str) -> None:
    _emit(INFO, msg)


def warning(msg: str) -> None:
    _emit(WARNING, msg)


def error(msg: str) -> None:
    _emit(ERROR, msg)


def shutdown() -> None:
    """Close the log file, if one was opened (before ``os._exit``)."""
    global _fd
    if _fd is not None and _fd >= 0:
        try:
            os.close(_fd)
        except OSError:
            pass
    _fd = None
