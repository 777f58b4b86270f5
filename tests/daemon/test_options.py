from __future__ import annotations

import dataclasses
import logging

import pytest

from common.exitcodes import ExitCode
from daemon.options import NOTICE, OPTIONS, Config, OptionError, parse, usage_text, version_text


def test_table_sorted_and_fields_exist() -> None:
    longs = [o.long for o in OPTIONS]
    assert longs == sorted(longs)
    assert len(set(longs)) == len(longs)
    names = {f.name for f in dataclasses.fields(Config)}
    for option in OPTIONS:
        assert option.field == "" or option.field in names, option.long


def test_defaults() -> None:
    config = parse([], cpu_count=4)
    assert config.port == 3632
    assert config.stats_port == 3633
    assert config.jobs == 6
    assert config.listen is None
    assert config.log_level == NOTICE
    assert config.action == "serve"


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        (["--port", "4000"], "port", 4000),
        (["--port=4000"], "port", 4000),
        (["-p", "4000"], "port", 4000),
        (["-p4000"], "port", 4000),
        (["-j", "3"], "jobs", 3),
        (["--jobs=7"], "jobs", 7),
        (["--allow", "10.0.0.0/8", "-a", "::1"], "allow", ("10.0.0.0/8", "::1")),
        (["--allow-compiler", "gcc", "--allow-compiler=cc"], "allow_compiler", ("gcc", "cc")),
        (["--make-me-a-botnet"], "enable_tcp_insecure", True),
        (["--enable-tcp-insecure"], "enable_tcp_insecure", True),
        (["--verbose"], "log_level", logging.DEBUG),
        (["--log-level", "error"], "log_level", logging.ERROR),
        (["--log-level=Warning"], "log_level", logging.WARNING),
        (["-P", "/x.pid"], "pid_file", "/x.pid"),
        (["--lifetime", "5"], "lifetime", 5),
        (["--idle-lifetime", "600"], "idle_lifetime", 600),
        (["--job-lifetime", "9"], "job_lifetime", 9),
        (["--stats", "--stats-port", "9000"], "stats_port", 9000),
        (["--no-detach", "--daemon"], "no_detach", True),
        (["--inetd"], "inetd", True),
        (["--no-fork"], "no_fork", True),
        (["--no-fifo"], "action", "serve"),
        (["--user", "nobody"], "user", "nobody"),
        (["-N", "10"], "nice", 10),
        (["--help"], "action", "help"),
        (["--version"], "action", "version"),
        (["--listen", "127.0.0.5"], "listen", "127.0.0.5"),
    ],
)
def test_parse(argv: list[str], field: str, value: object) -> None:
    assert getattr(parse(argv, cpu_count=1), field) == value


@pytest.mark.parametrize(
    "argv",
    [
        ["--bogus-option"],
        ["-q"],
        ["--port", "80000"],
        ["--port", "0"],
        ["--port", "x"],
        ["--port"],
        ["--jobs", "0"],
        ["--jobs", "201"],
        ["--stats-port", "70000"],
        ["--daemon=yes"],
        ["stray"],
        ["--inetd", "--daemon"],
        ["--lifetime", "-1"],
    ],
)
def test_bad_arguments_exit_101(argv: list[str]) -> None:
    with pytest.raises(OptionError) as info:
        parse(argv, cpu_count=1)
    assert info.value.code == ExitCode.BAD_ARGUMENTS == 101


def test_wizard_is_a_foreground_debugging_mode() -> None:
    config = parse(["--wizard"], cpu_count=1)
    assert (config.daemon, config.no_detach, config.no_fork, config.log_stderr) == (
        True,
        True,
        True,
        True,
    )
    assert config.log_level == logging.DEBUG


def test_bad_log_level_is_a_warning_not_an_error() -> None:
    config = parse(["--log-level", "loud"], cpu_count=1)
    assert config.log_level == NOTICE
    assert config.warnings == ('invalid --log-level argument "loud"',)


def test_version_and_usage_text() -> None:
    lines = version_text().splitlines()
    assert lines[0].startswith("distccd 3.4 ")
    assert lines[1] == "  (protocols 1, 2 and 3) (default port 3632)"
    usage = usage_text()
    assert "Usage:" in usage
    for option in OPTIONS:
        if option.long != "no-fifo":
            assert f"--{option.long}" in usage
