"""The compiler's default directories and predefined macros, probed once."""

from __future__ import annotations

import pytest

from include_server.compiler_probe import CompilerProbe, ProbeError, parse_search_list

GCC_V = """ignoring nonexistent directory "/nope"
#include "..." search starts here:
#include <...> search starts here:
 /usr/lib/gcc/x86_64-linux-gnu/12/include
 /System/Library/Frameworks (framework directory)
 /usr/include
End of search list.
"""


def test_parse_search_list() -> None:
    assert parse_search_list(GCC_V) == ("/usr/lib/gcc/x86_64-linux-gnu/12/include", "/usr/include")
    with pytest.raises(ProbeError):
        parse_search_list("exec format error\n")


def test_real_gcc_probe_is_memoised(tmp_path: object) -> None:
    probe = CompilerProbe()
    first = probe.probe("gcc", "c", (), "/")
    assert "/usr/include" in first.default_dirs
    assert any(d.name == "__GNUC__" for d in first.predefined)
    assert probe.probe("gcc", "c", (), "/") is first and probe.runs == 1
    cxx = probe.probe("gcc", "c++", (), "/")
    assert probe.runs == 2 and len(cxx.default_dirs) > len(first.default_dirs)
    assert probe.probe("gcc", "c", ("-nostdinc",), "/").default_dirs == ()


def test_missing_compiler() -> None:
    with pytest.raises(ProbeError):
        CompilerProbe().probe("no-such-compiler-xyz", "c", (), "/")
