"""The client's configuration: one registry of settings, built once into a frozen Config.

Every environment variable the client reads is a row of ``SETTINGS``: attribute name, kind,
default, variable, and what it means (distcc-internals §2.3).  ``Config.from_env(env)``
reads them all at start-up; nothing else in the client calls ``os.environ`` for these.
A test checks that the table and ``Config``'s fields agree.

Kinds (how a value is read, following distcc so scripts keep working):

- ``STR``: the value as is, None when unset (or the default if there is one).
- ``FLAG``: true when the variable is set at all, even empty (distcc's ``getenv() != NULL``:
  DISTCC_SKIP_LOCAL_RETRY, DISTCC_NO_REWRITE_CROSS).
- ``BOOL``: distcc's ``dcc_getenv_bool``: "1" true, "0" false, anything else (unset,
  empty, "yes") the default.
- ``INT``: a decimal integer, optionally signed and space-padded; unset or empty gives the
  default.  Each INT row has a minimum; a value below it, or text that is not a number,
  is a ``ConfigError`` (exit 101, ``EXIT_BAD_ARGUMENTS``).  distcc's ``atoi`` would read
  "abc" as 0 (and "60s" as 60); we refuse them, as it already does for
  ``DISTCC_IO_TIMEOUT=0`` ("Bad DISTCC_IO_TIMEOUT value") and ``DISTCC_MAX_DISCREPANCY=0``.

Derived values: ``distcc_dir`` is ``$DISTCC_DIR`` or ``$HOME/.distcc`` (None if neither is
known) and ``distcc_dir_user_set`` says which (a user's DISTCC_DIR is never created, see
client/locks.py); ``tmpdir`` is ``/tmp`` when TMPDIR is unset or empty.

API: ``Config.from_env(env) -> Config`` (raises ``ConfigError``); ``SETTINGS``;
``Config.describe()`` gives (variable, value) pairs for a ``--doctor``/verbose dump.
"""

from __future__ import annotations

from common.exitcodes import DistccError, ExitCode
from common.values import TYPE_CHECKING, Value

if TYPE_CHECKING:
    from collections.abc import Mapping


class Kind:
    STR = "str"
    FLAG = "flag"
    BOOL = "bool"
    INT = "int"


class ConfigError(DistccError):
    """A bad value in the environment (exit 101, ``EXIT_BAD_ARGUMENTS``)."""

    def __init__(self, message: str) -> None:
        super().__init__(ExitCode.BAD_ARGUMENTS, message)


class Setting(Value):
    """One row of the registry."""

    __slots__ = ("key", "kind", "default", "env", "doc", "minimum")
    key: str  # attribute of Config
    kind: str  # a Kind constant
    default: object
    env: str  # environment variable
    doc: str
    minimum: int | None  # INT only: the smallest accepted value

    def __init__(
        self, key: str, kind: str, default: object, env: str, doc: str, minimum: int | None = None
    ) -> None:
        self._init(key=key, kind=kind, default=default, env=env, doc=doc, minimum=minimum)


# Sorted by environment variable.  Derived fields (distcc_dir, ...) come after.
SETTINGS: tuple[Setting, ...] = (
    Setting("c_include_path", Kind.STR, None, "CPATH", "if set, pump mode is off for the job"),
    Setting("c_include_path_cxx", Kind.STR, None, "CPLUS_INCLUDE_PATH", "disables pump mode"),
    Setting("c_include_path_c", Kind.STR, None, "C_INCLUDE_PATH", "disables pump mode"),
    Setting("dependencies_output", Kind.STR, None, "DEPENDENCIES_OUTPUT", "gcc's env -MD"),
    Setting("backoff_period", Kind.INT, 60, "DISTCC_BACKOFF_PERIOD", "seconds; 0 = off", 0),
    Setting("dir_env", Kind.STR, None, "DISTCC_DIR", "hosts file, lock/ and state/ dirs"),
    Setting(
        "email_whom", Kind.STR, "distcc-pump-errors", "DISTCC_EMAILLOG_WHOM_TO_BLAME", "mail to"
    ),
    Setting("discrepancy_email", Kind.BOOL, False, "DISTCC_ENABLE_DISCREPANCY_EMAIL", "mail"),
    Setting("exclude_fresh_files", Kind.STR, None, "DISTCC_EXCLUDE_FRESH_FILES", "glob"),
    Setting("fallback", Kind.BOOL, True, "DISTCC_FALLBACK", "0 = no local retry"),
    Setting("hosts", Kind.STR, None, "DISTCC_HOSTS", "the host list"),
    Setting("io_timeout", Kind.INT, 300, "DISTCC_IO_TIMEOUT", "I/O timeout, seconds", 1),
    Setting("log", Kind.STR, None, "DISTCC_LOG", "log file (INFO level when set)"),
    Setting("max_discrepancy", Kind.INT, 1, "DISTCC_MAX_DISCREPANCY", "pump demotion", 1),
    Setting("no_rewrite_cross", Kind.FLAG, False, "DISTCC_NO_REWRITE_CROSS", "keep cc name"),
    Setting("pause_time_ms", Kind.INT, 1000, "DISTCC_PAUSE_TIME_MSEC", "all-busy wait", 0),
    Setting("principal", Kind.STR, None, "DISTCC_PRINCIPAL", "GSS-API server principal"),
    Setting("save_temps", Kind.BOOL, False, "DISTCC_SAVE_TEMPS", "keep temp files"),
    Setting("skip_local_retry", Kind.FLAG, False, "DISTCC_SKIP_LOCAL_RETRY", "remote final"),
    Setting("ssh", Kind.STR, "ssh", "DISTCC_SSH", "tunnel command, split on spaces"),
    Setting("tcp_cork", Kind.BOOL, True, "DISTCC_TCP_CORK", "use TCP_CORK"),
    Setting(
        "testing_include_server",
        Kind.BOOL,
        False,
        "DISTCC_TESTING_INCLUDE_SERVER",
        "exit, no fallback",
    ),
    Setting("verbose", Kind.BOOL, False, "DISTCC_VERBOSE", "1 = debug logging"),
    Setting("home", Kind.STR, None, "HOME", "for ~/.distcc"),
    Setting("include_server_port", Kind.STR, None, "INCLUDE_SERVER_PORT", "pump socket path"),
    Setting("include_server_stub", Kind.STR, None, "INCLUDE_SERVER_STUB", "testing file list"),
    Setting("path", Kind.STR, None, "PATH", "compiler lookup, masquerade"),
    Setting("tmpdir_env", Kind.STR, None, "TMPDIR", "temp files (default /tmp)"),
    Setting("uncached_err_fd", Kind.INT, -1, "UNCACHED_ERR_FD", "log fd (from ccache)", -1),
    Setting("safeguard", Kind.INT, 0, "_DISTCC_SAFEGUARD", "recursion guard level", 0),
)

DERIVED = ("distcc_dir", "distcc_dir_user_set", "tmpdir")


def _read_int(setting: Setting, raw: str) -> int:
    text = raw.strip(" \t\n\v\f\r")
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isdigit() or not digits.isascii():
        raise ConfigError(f"Bad {setting.env} value: {raw}")
    value = int(text)
    if setting.minimum is not None and value < setting.minimum:
        raise ConfigError(f"Bad {setting.env} value: {raw}")
    return value


def _read(setting: Setting, env: Mapping[str, str]) -> object:
    raw = env.get(setting.env)
    kind = setting.kind
    if kind == Kind.FLAG:
        return raw is not None
    if raw is None or (raw == "" and kind != Kind.STR):
        return setting.default
    if kind == Kind.BOOL:
        return True if raw == "1" else False if raw == "0" else setting.default
    if kind == Kind.INT:
        return _read_int(setting, raw)
    return raw


class Config(Value):
    """The client's settings, read once from the environment."""

    __slots__ = tuple(s.key for s in SETTINGS) + DERIVED
    safeguard: int
    c_include_path: str | None
    c_include_path_c: str | None
    c_include_path_cxx: str | None
    dependencies_output: str | None
    backoff_period: int
    dir_env: str | None
    discrepancy_email: bool
    email_whom: str
    exclude_fresh_files: str | None
    fallback: bool
    hosts: str | None
    io_timeout: int
    log: str | None
    max_discrepancy: int
    no_rewrite_cross: bool
    pause_time_ms: int
    principal: str | None
    save_temps: bool
    skip_local_retry: bool
    ssh: str
    tcp_cork: bool
    testing_include_server: bool
    verbose: bool
    home: str | None
    include_server_port: str | None
    include_server_stub: str | None
    path: str | None
    tmpdir_env: str | None
    uncached_err_fd: int
    # derived
    distcc_dir: str | None  # $DISTCC_DIR, else $HOME/.distcc, else None
    distcc_dir_user_set: bool  # True if it came from DISTCC_DIR (then it is never created)
    tmpdir: str  # $TMPDIR, or /tmp when unset or empty

    def __init__(self, **fields: object) -> None:
        self._init(**fields)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        """Read every setting from ``env``; ``ConfigError`` (exit 101) on a bad value."""
        values = {s.key: _read(s, env) for s in SETTINGS}
        dir_env = values["dir_env"]
        home = values["home"]
        if isinstance(dir_env, str):
            values["distcc_dir"] = dir_env
        elif isinstance(home, str):
            values["distcc_dir"] = home + "/.distcc"
        else:
            values["distcc_dir"] = None
        values["distcc_dir_user_set"] = dir_env is not None
        values["tmpdir"] = values["tmpdir_env"] or "/tmp"
        return cls(**values)

    @property
    def pump_disabled_by_env(self) -> bool:
        """CPATH, C_INCLUDE_PATH or CPLUS_INCLUDE_PATH set: pump mode is off (§2.3)."""
        return any(
            v is not None
            for v in (self.c_include_path, self.c_include_path_c, self.c_include_path_cxx)
        )

    def describe(self) -> list[tuple[str, object]]:
        """(environment variable, value) for every setting, in registry order."""
        return [(s.env, getattr(self, s.key)) for s in SETTINGS]
