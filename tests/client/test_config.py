"""The configuration registry: one row per variable, distcc's parsing, exit 101 on bad values."""

from __future__ import annotations

import pytest

from client.config import DERIVED, SETTINGS, Config, ConfigError, Kind
from common.exitcodes import ExitCode


def test_registry_matches_config_fields() -> None:
    keys = [s.key for s in SETTINGS]
    assert len(set(keys)) == len(keys)
    assert Config.__slots__ == (*keys, *DERIVED)
    assert set(Config.__annotations__) == set(Config.__slots__)
    envs = [s.env for s in SETTINGS]
    assert envs == sorted(envs) and len(set(envs)) == len(envs)
    for s in SETTINGS:
        assert s.kind in (Kind.STR, Kind.FLAG, Kind.BOOL, Kind.INT)
        assert (s.minimum is not None) == (s.kind == Kind.INT)


def test_registry_covers_the_documented_client_variables() -> None:
    envs = {s.env for s in SETTINGS}
    for name in [
        "DISTCC_HOSTS",
        "DISTCC_DIR",
        "DISTCC_VERBOSE",
        "DISTCC_LOG",
        "DISTCC_FALLBACK",
        "DISTCC_SKIP_LOCAL_RETRY",
        "DISTCC_BACKOFF_PERIOD",
        "DISTCC_IO_TIMEOUT",
        "DISTCC_PAUSE_TIME_MSEC",
        "DISTCC_SAVE_TEMPS",
        "DISTCC_TCP_CORK",
        "DISTCC_SSH",
        "DISTCC_NO_REWRITE_CROSS",
        "DISTCC_MAX_DISCREPANCY",
        "TMPDIR",
        "INCLUDE_SERVER_PORT",
        "UNCACHED_ERR_FD",
        "INCLUDE_SERVER_STUB",
        "DISTCC_TESTING_INCLUDE_SERVER",
        "HOME",
        "DISTCC_EXCLUDE_FRESH_FILES",
        "DISTCC_PRINCIPAL",
        "_DISTCC_SAFEGUARD",
    ]:
        assert name in envs


def test_defaults() -> None:
    c = Config.from_env({"HOME": "/home/u"})
    assert (c.backoff_period, c.io_timeout, c.pause_time_ms, c.max_discrepancy) == (
        60,
        300,
        1000,
        1,
    )
    assert c.fallback and c.tcp_cork and not c.save_temps and not c.verbose
    assert not c.skip_local_retry and not c.no_rewrite_cross
    assert c.ssh == "ssh" and c.hosts is None and c.log is None
    assert c.distcc_dir == "/home/u/.distcc" and not c.distcc_dir_user_set
    assert c.tmpdir == "/tmp"
    assert not c.pump_disabled_by_env
    assert Config.from_env({}).distcc_dir is None


ROWS = [
    # env, attribute, value
    ({"DISTCC_DIR": "/d"}, "distcc_dir", "/d"),
    ({"DISTCC_DIR": "/d"}, "distcc_dir_user_set", True),
    ({"TMPDIR": ""}, "tmpdir", "/tmp"),
    ({"TMPDIR": "/t"}, "tmpdir", "/t"),
    # dcc_getenv_bool: "1"/"0", anything else is the default.
    ({"DISTCC_FALLBACK": "0"}, "fallback", False),
    ({"DISTCC_FALLBACK": "no"}, "fallback", True),
    ({"DISTCC_FALLBACK": ""}, "fallback", True),
    ({"DISTCC_VERBOSE": "1"}, "verbose", True),
    ({"DISTCC_VERBOSE": "2"}, "verbose", False),
    ({"DISTCC_TCP_CORK": "0"}, "tcp_cork", False),
    ({"DISTCC_SAVE_TEMPS": "1"}, "save_temps", True),
    # getenv() != NULL: set at all, even empty or "0".
    ({"DISTCC_SKIP_LOCAL_RETRY": ""}, "skip_local_retry", True),
    ({"DISTCC_SKIP_LOCAL_RETRY": "0"}, "skip_local_retry", True),
    ({"DISTCC_NO_REWRITE_CROSS": "1"}, "no_rewrite_cross", True),
    ({"DISTCC_BACKOFF_PERIOD": "0"}, "backoff_period", 0),
    ({"DISTCC_BACKOFF_PERIOD": " 5 "}, "backoff_period", 5),
    ({"DISTCC_BACKOFF_PERIOD": ""}, "backoff_period", 60),
    ({"DISTCC_IO_TIMEOUT": "+7"}, "io_timeout", 7),
    ({"DISTCC_PAUSE_TIME_MSEC": "0"}, "pause_time_ms", 0),
    ({"DISTCC_MAX_DISCREPANCY": "3"}, "max_discrepancy", 3),
    ({"DISTCC_SSH": "ssh -p 2222"}, "ssh", "ssh -p 2222"),
    ({"DISTCC_HOSTS": ""}, "hosts", ""),  # set but empty is kept: NoHosts_Case
    ({"INCLUDE_SERVER_PORT": "/tmp/s"}, "include_server_port", "/tmp/s"),
    ({"UNCACHED_ERR_FD": "5"}, "uncached_err_fd", 5),
    ({"CPATH": "/x"}, "pump_disabled_by_env", True),
]


@pytest.mark.parametrize(("env", "attr", "value"), ROWS)
def test_values(env: dict[str, str], attr: str, value: object) -> None:
    assert getattr(Config.from_env(env), attr) == value


BAD = [
    ("DISTCC_IO_TIMEOUT", "0"),  # distcc: "Bad DISTCC_IO_TIMEOUT value", exit 101
    ("DISTCC_IO_TIMEOUT", "-1"),
    ("DISTCC_MAX_DISCREPANCY", "0"),  # distcc: exit 101 too
    ("DISTCC_BACKOFF_PERIOD", "-5"),
    ("DISTCC_BACKOFF_PERIOD", "sixty"),  # distcc's atoi would read 0; we refuse
    ("DISTCC_PAUSE_TIME_MSEC", "1e3"),
    ("DISTCC_IO_TIMEOUT", "60s"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_bad_values_exit_101(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"Bad {name} value") as info:
        Config.from_env({name: value})
    assert info.value.code == ExitCode.BAD_ARGUMENTS == 101


def test_config_is_immutable_and_describable() -> None:
    c = Config.from_env({"DISTCC_HOSTS": "a b"})
    with pytest.raises(AttributeError):
        c.hosts = "x"
    assert ("DISTCC_HOSTS", "a b") in c.describe()
    assert len(c.describe()) == len(SETTINGS)
