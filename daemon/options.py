"""distccd's command line: one table of options, parsed into a frozen ``Config``.

The spellings, short letters and meanings are those of distcc 3.4's ``src/dopt.c`` (popt),
so scripts written for the stock daemon keep working.  popt accepts ``--opt VALUE``,
``--opt=VALUE``, ``-x VALUE`` and ``-xVALUE``; so do we.  Differences from 3.4, all on the
side of safety, are listed in docs/distccd.md (loopback by default, ``--allow-compiler``).

Invariants: ``parse`` is pure (no I/O, no environment: the caller passes ``cpu_count``);
every value in a ``Config`` has been range-checked, so ``--port 80000`` fails here, before
any pid file is written; errors are ``OptionError`` carrying distcc's exit code
(``BAD_ARGUMENTS``, 101).

Vocabulary: *flag* options take no value; *repeatable* options collect a tuple.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from common.exitcodes import ExitCode
from common.protocol import DEFAULT_PORT, DEFAULT_STATS_PORT

NOTICE = 25  # syslog's "notice", between INFO and WARNING; distccd's default level
logging.addLevelName(NOTICE, "NOTICE")

LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "notice": NOTICE,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}

VERSION = "3.4"
GNU_HOST = "x86_64-pc-linux-gnu"


class OptionError(Exception):
    """A bad command line; ``code`` is the exit status distccd ends with."""

    def __init__(self, message: str, code: int = ExitCode.BAD_ARGUMENTS) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Config:
    """Everything the command line decides, validated."""

    action: str = "serve"  # "serve", "help" or "version"
    pid_file: str | None = None
    nice: int = 5
    user: str | None = None
    jobs: int = 0  # 0 only before parse() fills in the CPU-based default
    job_lifetime: float = 0.0  # seconds, 0 = no limit
    port: int = DEFAULT_PORT
    listen: str | None = None  # None = loopback (stock 3.4: every address)
    allow: tuple[str, ...] = ()
    allow_private: bool = False
    allow_compiler: tuple[str, ...] = ()
    stats: bool = False
    stats_port: int = DEFAULT_STATS_PORT
    log_level: int = NOTICE
    log_file: str | None = None
    log_stderr: bool = False
    no_detach: bool = False
    no_fork: bool = False
    inetd: bool = False
    daemon: bool = False
    lifetime: float = 0.0  # seconds, 0 = forever
    idle_lifetime: float = 0.0  # exit after this many seconds without a connection; 0 = never
    enable_tcp_insecure: bool = False
    sandbox: bool = False  # run compilers in namespaces (daemon/sandbox.py)
    sandbox_optional: bool = False  # without namespace support, run unsandboxed
    sandbox_bind: tuple[str, ...] = ()  # more read-only toolchain directories
    wizard: bool = False
    warnings: tuple[str, ...] = ()  # non-fatal complaints found while parsing


def _int_in(low: int, high: int | None) -> Callable[[str, str], int]:
    def convert(name: str, text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise OptionError(f"{name}: not a number: {text!r}") from None
        if value < low or (high is not None and value > high):
            upper = "" if high is None else f" and {high}"
            bound = f"between {low}{upper}" if high is not None else f"at least {low}"
            raise OptionError(f"{name} argument must be {bound}: {value}")
        return value

    return convert


def _text(name: str, text: str) -> str:
    if not text:
        raise OptionError(f"{name}: empty argument")
    return text


def _absolute(name: str, text: str) -> str:
    if not text.startswith("/"):
        raise OptionError(f"{name}: not an absolute path: {text!r}")
    return text.rstrip("/") or "/"


@dataclass(frozen=True)
class Option:
    """One row of the table: how an option is spelled and which field it sets."""

    long: str  # without the leading "--"
    short: str | None
    field: str
    help: str
    value: Callable[[str, str], object] | None = None  # None = flag
    metavar: str = ""
    repeat: bool = False
    const: object = True  # what a flag stores


_port = _int_in(1, 65535)

# Sorted by long name; tests check that it stays sorted and that every field exists.
OPTIONS: tuple[Option, ...] = (
    Option("allow", "a", "allow", "client address access control", _text, "IP[/BITS]", True),
    Option(
        "allow-compiler",
        None,
        "allow_compiler",
        "also allow this compiler (name, or absolute path)",
        _text,
        "NAME",
        True,
    ),
    Option("allow-private", None, "allow_private", "allow the private address ranges"),
    Option("daemon", None, "daemon", "bind and listen on socket"),
    Option("enable-tcp-insecure", None, "enable_tcp_insecure", "run any compiler a client names"),
    Option("help", None, "action", "explain usage and exit", const="help"),
    Option(
        "idle-lifetime",
        None,
        "idle_lifetime",
        "exit after this many seconds without a connection (ours)",
        _int_in(0, None),
        "SECONDS",
    ),
    Option("inetd", None, "inetd", "serve client connected to stdin"),
    Option(
        "job-lifetime",
        None,
        "job_lifetime",
        "maximum lifetime of a compile request",
        _int_in(0, None),
        "SECONDS",
    ),
    Option("jobs", "j", "jobs", "maximum compilers at any time", _int_in(1, 200), "LIMIT"),
    Option(
        "lifetime", None, "lifetime", "exit after this many seconds", _int_in(0, None), "SECONDS"
    ),
    Option(
        "listen", None, "listen", "IP address to listen on (default 127.0.0.1)", _text, "ADDRESS"
    ),
    Option("log-file", None, "log_file", "send messages here instead of syslog", _text, "FILE"),
    Option("log-level", None, "log_level", "set detail level for log file", _text, "LEVEL"),
    Option("log-stderr", None, "log_stderr", "send messages to stderr"),
    Option("make-me-a-botnet", None, "enable_tcp_insecure", "same as --enable-tcp-insecure"),
    Option("nice", "N", "nice", "lower priority, 20=most nice", _int_in(-20, 40), "LEVEL"),
    Option("no-detach", None, "no_detach", "don't detach from parent (for daemontools, etc)"),
    Option("no-fifo", None, "", "ignored (compatibility)"),
    Option("no-fork", None, "no_fork", "serve one connection at a time, in the main thread"),
    Option("pid-file", "P", "pid_file", "save daemon process id to file", _text, "FILE"),
    Option("port", "p", "port", "TCP port to listen on", _port, "PORT"),
    Option("sandbox", None, "sandbox", "run compilers in a private root, without network"),
    Option(
        "sandbox-bind",
        None,
        "sandbox_bind",
        "also show this server directory (read-only) to sandboxed compilers",
        _absolute,
        "DIR",
        True,
    ),
    Option(
        "sandbox-optional",
        None,
        "sandbox_optional",
        "with --sandbox: run unsandboxed if the kernel cannot",
    ),
    Option("stats", None, "stats", "enable statistics reporting via HTTP server"),
    Option("stats-port", None, "stats_port", "TCP port for statistics requests", _port, "PORT"),
    Option("user", None, "user", "if run by root, change to this persona", _text, "USER"),
    Option("verbose", None, "log_level", 'set log level to "debug"', const=logging.DEBUG),
    Option("version", None, "action", "show version and exit", const="version"),
    Option(
        "wizard",
        "W",
        "wizard",
        "for running under gdb: --daemon --no-detach --no-fork --log-stderr --verbose",
    ),
)

_BY_LONG = {o.long: o for o in OPTIONS}
_BY_SHORT = {o.short: o for o in OPTIONS if o.short}


def parse(argv: Sequence[str], cpu_count: int) -> Config:
    """Parse distccd's arguments (without argv[0]).  Raises ``OptionError``."""
    fields: dict[str, object] = {}
    repeated: dict[str, list[str]] = {}
    warnings: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word.startswith("--") and len(word) > 2:
            name, eq, inline = word[2:].partition("=")
            option = _BY_LONG.get(name)
            if option is None:
                raise OptionError(f"{word}: unknown option")
            value: str | None = inline if eq else None
            if eq and option.value is None:
                raise OptionError(f"{word}: option takes no argument")
        elif word.startswith("-") and len(word) > 1:
            option = _BY_SHORT.get(word[1])
            if option is None:
                raise OptionError(f"{word}: unknown option")
            value = word[2:] or None
            if value is not None and option.value is None:
                raise OptionError(f"{word}: option takes no argument")
        else:
            raise OptionError(f"unexpected argument: {word!r}")
        if option.value is not None and value is None:
            if i >= len(argv):
                raise OptionError(f"{word}: missing argument")
            value = argv[i]
            i += 1
        if not option.field:
            continue
        if option.value is None:
            fields[option.field] = option.const
        elif option.repeat:
            assert value is not None
            repeated.setdefault(option.field, []).append(str(option.value(word, value)))
        elif option.field == "log_level":
            assert value is not None
            level = LOG_LEVELS.get(value.lower())
            if level is None:
                warnings.append(f'invalid --log-level argument "{value}"')
            else:
                fields["log_level"] = level
        else:
            assert value is not None
            fields[option.field] = option.value(word, value)
    for key, values in repeated.items():
        fields[key] = tuple(values)
    fields.setdefault("jobs", max(1, cpu_count) + 2)
    if fields.get("wizard"):
        fields.update(
            daemon=True, no_detach=True, no_fork=True, log_stderr=True, log_level=logging.DEBUG
        )
    fields["warnings"] = tuple(warnings)
    config = Config(**fields)  # type: ignore[arg-type]
    if config.inetd and config.daemon:
        raise OptionError("--inetd and --daemon are exclusive")
    return config


def with_changes(config: Config, **changes: object) -> Config:
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def version_text() -> str:
    return (
        f"distccd {VERSION} {GNU_HOST}\n"
        f"  (protocols 1, 2 and 3) (default port {DEFAULT_PORT})\n"
        "  a Python reimplementation of distcc's compile server\n"
        "\n"
        "distcc comes with ABSOLUTELY NO WARRANTY.  distcc is free software, and\n"
        "you may use, modify and redistribute it under the terms of the GNU\n"
        "General Public License version 2 or later.\n"
    )


def usage_text() -> str:
    lines = [version_text(), "Usage:", "   distccd [OPTIONS]", "", "Options:"]
    for option in OPTIONS:
        if option.long == "no-fifo":
            continue
        spelling = f"--{option.long}"
        if option.short:
            spelling = f"-{option.short}, {spelling}"
        if option.metavar:
            spelling += f" {option.metavar}"
        lines.append(f"    {spelling:<30} {option.help}")
    lines += [
        "",
        "  log levels: critical, error, warning, notice, info, debug",
        "",
        "distccd runs either from inetd or as a standalone daemon to compile",
        "files submitted by the distcc client.",
        "",
        "distccd should only run on trusted networks.",
    ]
    return "\n".join(lines) + "\n"
