"""distcc's exit codes (``src/exitcode.h``), kept numerically identical.

A compiler's own status passes through untouched; these values are only for failures of
distcc itself.  Scripts and the stock test suite test for the numbers, so never renumber.
"""

from __future__ import annotations


class ExitCode:
    """Named exit codes (plain ints: ``enum`` is too slow to import on the hot path)."""

    OK = 0
    DISTCC_FAILED = 100
    BAD_ARGUMENTS = 101
    BIND_FAILED = 102
    CONNECT_FAILED = 103
    COMPILER_CRASHED = 104
    OUT_OF_MEMORY = 105
    BAD_HOSTSPEC = 106
    IO_ERROR = 107
    TRUNCATED = 108
    PROTOCOL_ERROR = 109
    COMPILER_MISSING = 110
    RECURSION = 111
    SETUID_FAILED = 112
    ACCESS_DENIED = 113
    BUSY = 114
    NO_SUCH_FILE = 115
    NO_HOSTS = 116
    GONE = 117
    TIMEOUT = 118
    GSSAPI_FAILED = 119
    LOCAL_CPP = 120


class DistccError(Exception):
    """An error of distcc itself, carrying the exit code the process should end with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def wait_status_from_returncode(returncode: int) -> int:
    """Turn ``subprocess`` returncode into a Unix wait status (what ``STAT`` carries)."""
    if returncode >= 0:
        return (returncode & 0xFF) << 8
    return (-returncode) & 0x7F


def exit_code_from_wait_status(status: int) -> int:
    """The exit code a shell would report for a wait status: the code, or 128+signal."""
    signal_number = status & 0x7F
    if signal_number == 0:
        return (status >> 8) & 0xFF
    return 128 + signal_number
