"""The client's logging, through stdlib ``logging``, imported only when something is logged.

distcc prints warnings and errors to stderr as ``distcc[PID] (function) ERROR: ...`` and, with
``DISTCC_VERBOSE=1``, debug traces too; ``DISTCC_LOG=FILE`` sends everything to a file at
INFO level (or DEBUG when verbose).  A successful compile logs nothing at the default level,
so the hot path never pays for importing ``logging`` (~13 ms here): the real logger is built
on first use.

Usage: ``log = client.log.get()`` once per process, then ``log.warning("...")``.
"""

from __future__ import annotations

import os
import sys

from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

_VERBOSE = False
_LOGFILE: str | None = None
_logger: logging.Logger | None = None


def configure(env: Mapping[str, str]) -> None:
    """Read DISTCC_VERBOSE / DISTCC_LOG; nothing is imported yet."""
    global _VERBOSE, _LOGFILE, _logger
    _VERBOSE = env.get("DISTCC_VERBOSE", "0") not in ("", "0")
    _LOGFILE = env.get("DISTCC_LOG") or None
    _logger = None


def verbose() -> bool:
    return _VERBOSE


def _build() -> logging.Logger:
    global _logger
    import logging

    logger = logging.getLogger("distcc")
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
    fmt = logging.Formatter(f"distcc[{os.getpid()}] %(levelname)s: %(message)s")
    handler: logging.Handler
    level = logging.DEBUG if _VERBOSE else logging.WARNING
    if _LOGFILE:
        try:
            handler = logging.FileHandler(_LOGFILE)
            if not _VERBOSE:
                level = logging.INFO
        except OSError as exc:
            # As distcc: say so on stderr and carry on logging there.
            sys.stderr.write(f"distcc[{os.getpid()}] failed to open logfile {_LOGFILE}: {exc}\n")
            handler = logging.StreamHandler(sys.stderr)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(fmt)
    logger.addHandler(handler)
    logger.setLevel(level)
    _logger = logger
    return logger


def _get() -> logging.Logger:
    return _logger if _logger is not None else _build()


def debug(msg: str) -> None:
    if _VERBOSE:
        _get().debug(msg)


def info(msg: str) -> None:
    if _VERBOSE or _LOGFILE:
        _get().info(msg)


def warning(msg: str) -> None:
    _get().warning(msg)


def error(msg: str) -> None:
    _get().error(msg)


def shutdown() -> None:
    """Flush and close the handlers, if logging was ever set up (before ``os._exit``)."""
    if _logger is not None:
        for handler in _logger.handlers:
            handler.flush()
            handler.close()
