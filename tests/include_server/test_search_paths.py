"""Search configuration from the shared command-line model's parsed options."""

from __future__ import annotations

from common.compiler.job import CompileJob
from include_server.command import classify_command
from include_server.search_paths import DirRole, build_config, probe_args


def job(*args: str) -> CompileJob:
    result = classify_command(["gcc", "-c", *args, "x.c"])
    assert isinstance(result, CompileJob)
    return result


def roles(*args: str) -> list[tuple[str, str]]:
    config = build_config(job(*args).options, "/w", ["/usr/include"])
    return [(d.written, d.role) for d in config.chain]


def test_chain_order() -> None:
    assert roles("-iquote", "q", "-Ib", "-isystem", "/s", "-idirafter", "a", "-I", "b2") == [
        ("q", DirRole.QUOTE),
        ("b", DirRole.BRACKET),
        ("b2", DirRole.BRACKET),
        ("/s", DirRole.SYSTEM),
        ("/usr/include", DirRole.DEFAULT),
        ("a", DirRole.AFTER),
    ]


def test_i_dash_splits_quote_and_bracket() -> None:
    config = build_config(job("-Iq", "-I-", "-Ib").options, "/w", [])
    assert [(d.written, d.role) for d in config.chain] == [
        ("q", DirRole.QUOTE),
        ("b", DirRole.BRACKET),
    ]
    assert config.angle_start == 1 and not config.quote_uses_includer_dir


def test_paths_made_absolute_against_cwd_and_sysroot() -> None:
    config = build_config(job("--sysroot=/sr", "-I=/inc", "-Irel").options, "/w", [])
    assert [d.path for d in config.chain] == ["/sr/inc", "/w/rel"]


def test_prefix_options() -> None:
    config = build_config(
        job("-iprefix", "/p/", "-iwithprefix", "after", "-iwithprefixbefore", "before").options,
        "/w",
        [],
    )
    assert [(d.path, d.role) for d in config.chain] == [
        ("/p/before", DirRole.BRACKET),
        ("/p/after", DirRole.AFTER),
    ]
    orphan = build_config(job("-iwithprefix", "x").options, "/w", [])
    assert orphan.problems and "-iprefix" in orphan.problems[0]


def test_forced_files_and_defines() -> None:
    config = build_config(
        job("-include", "f.h", "-imacros", "m.h", "-DA=1", "-DB", "-UC").options, "/w", []
    )
    assert config.forced_includes == ("m.h", "f.h")  # -imacros files come first
    assert config.defines == (("A", "1"), ("B", "1"), ("C", None))


def test_probe_args_keep_only_what_changes_defaults() -> None:
    j = job("-m32", "-O2", "-Iinc", "-DX", "--sysroot=/sr", "-nostdinc", "-std=c11")
    assert probe_args(j.options, j.argv) == ("-m32", "--sysroot=/sr", "-nostdinc")


def test_unknown_option_arguments_are_not_sources() -> None:
    # distcc#48/#76: an option's argument taken for a second source file.
    result = classify_command(["gcc", "-c", "-G", "0", "-target", "arm", "x.c"])
    assert isinstance(result, CompileJob) and result.source == "x.c"
