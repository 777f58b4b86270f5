"""Where distccd's log goes, and the form of a line.

As distcc: while starting, messages go to stderr (unless stderr is a socket, as under
inetd); then to ``--log-stderr``, else ``--log-file`` (if it can be opened), else syslog
(facility daemon).  Lines look like distcc's::

    distccd[4242] (serve) client: 127.0.0.1:40000 COMPILE_OK exit:0 ... gcc hello.c
    distccd[4242] (_start) ERROR: failed to exec nosuchcc: No such file or directory

All loggers live under ``daemon``; ``setup`` replaces its handlers, so it can run twice
(start-up, then the real destination).  The per-job SERR copy (``JobLogCapture``) is
installed beside them and uses the same format.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import stat
import sys

from daemon.job import JobLogCapture

ROOT = "daemon"
_PREFIX = {logging.CRITICAL: "CRIT! ", logging.ERROR: "ERROR: ", logging.WARNING: "Warning: "}


class DistccFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        prefix = _PREFIX.get(record.levelno, "")
        return f"distccd[{record.process}] ({record.funcName}) {prefix}{text}"


def fd_is_socket(fd: int) -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


def _reset(level: int) -> logging.Logger:
    logger = logging.getLogger(ROOT)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        if not isinstance(handler, JobLogCapture):
            handler.close()
    logger.setLevel(level)
    logger.propagate = False
    capture = JobLogCapture()
    capture.setFormatter(DistccFormatter())
    logger.addHandler(capture)
    return logger


def setup_startup(level: int = logging.WARNING) -> None:
    logger = _reset(level)
    if not fd_is_socket(2):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(DistccFormatter())
        logger.addHandler(handler)


def setup(level: int, log_stderr: bool, log_file: str | None) -> None:
    """The real destination; a log file that cannot be opened falls back to syslog."""
    handler: logging.Handler | None = None
    problem = None
    if log_stderr:
        handler = logging.StreamHandler(sys.stderr)
    elif log_file:
        try:
            # Watched: reopened when logrotate moves the file away.
            handler = logging.handlers.WatchedFileHandler(
                log_file, encoding="utf-8", errors="replace"
            )
        except OSError as exc:
            problem = f"failed to open {log_file}: {exc.strerror}"
    logger = _reset(level)
    if handler is None:
        try:
            handler = logging.handlers.SysLogHandler(
                "/dev/log", logging.handlers.SysLogHandler.LOG_DAEMON, socket.SOCK_DGRAM
            )
        except OSError:
            handler = logging.NullHandler()
    handler.setFormatter(DistccFormatter())
    handler.setLevel(level)
    logger.addHandler(handler)
    if problem:
        logger.error("%s", problem)
