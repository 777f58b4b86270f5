"""Directive scanner: what counts as a directive, names, lines, raw bytes."""

from __future__ import annotations

import pytest

from include_server.scanner import (
    UNTERMINATED_COMMENT,
    Include,
    IncludeKind,
    definitions_in,
    scan,
)

Q, A, C = IncludeKind.QUOTE, IncludeKind.ANGLE, IncludeKind.COMPUTED


def includes(src: bytes) -> list[tuple[str, str, int, bool]]:
    return [(i.kind, i.text, i.line, i.next) for i in scan(src).includes]


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        (b'#include "a.h"\n', [(Q, "a.h", 1, False)]),
        (b"  #  include <b/c.h>\n", [(A, "b/c.h", 1, False)]),
        (b"#include_next <d.h>\n", [(A, "d.h", 1, True)]),
        (b'#import "e.h"\n', [(Q, "e.h", 1, False)]),
        (b"#include MACRO(x)\n", [(C, "MACRO(x)", 1, False)]),
        (
            b'#include "smart1,2.h"\n#include "with space.h"\n',
            [(Q, "smart1,2.h", 1, False), (Q, "with space.h", 2, False)],
        ),
        (b'/* c */ #include "yes.h"\n', [(Q, "yes.h", 1, False)]),
        (b'/* multi\n line */ #include "yes.h"\n', [(Q, "yes.h", 2, False)]),
        (b'// #include "no.h"\nint x; #include "no2.h"\n', []),
        (
            b'#inc\\\nlude "cont.h"\n#include "after.h"\n',
            [(Q, "cont.h", 1, False), (Q, "after.h", 3, False)],
        ),
        (b'#include \\\n  "split.h"\n', [(Q, "split.h", 1, False)]),
        (b'#include "a.h" /* trailing comment\n spanning */\n', [(Q, "a.h", 1, False)]),
        (b'#include /* name follows\n */ "x.h"\n', [(C, UNTERMINATED_COMMENT, 1, False)]),
        (
            b'#include "crlf.h"\r\n#include "two.h"\r\n',
            [(Q, "crlf.h", 1, False), (Q, "two.h", 2, False)],
        ),
        (b'char *s = "\xe9\xff";\n#include "latin1-\xe9.h"\n', [(Q, "latin1-\xe9.h", 2, False)]),
        (b"#if 0\n#include <gone.h>\n#endif\n", [(A, "gone.h", 2, False)]),
    ],
)
def test_includes(src: bytes, expected: list[tuple[str, str, int, bool]]) -> None:
    assert includes(src) == expected


def test_has_include_counts_as_possible() -> None:
    (inc,) = scan(b'#if __has_include(<opt.h>) && __has_include_next("n.h")\n#endif\n').includes[:1]
    assert inc == Include(A, "opt.h", 1, False, probe_only=True)
    texts = [(i.text, i.next) for i in scan(b'#if __has_include_next("n.h")\n').includes]
    assert texts == [("n.h", True)]


def test_defines_object_and_function_like() -> None:
    src = (
        b"#define A 1\n#define F(x, y) <x##y.h>\n#define G (not params)\n"
        b"#define V(...) __VA_ARGS__\n#undef A\n#define L \\\n  continued // c\n"
    )
    result = scan(src)
    assert all(result.has_macro(n) for n in "AFGVL") and not result.has_macro("B")
    by_name = {d.name: (d.params, d.body, d.line) for d in definitions_in(src)}
    assert by_name["A"] == (None, "1", 1)
    assert by_name["F"] == (("x", "y"), "<x##y.h>", 2)
    assert by_name["G"] == (None, "(not params)", 3)
    assert by_name["V"] == (("...",), "__VA_ARGS__", 4)
    assert by_name["L"] == (None, "continued", 6)
    assert result.undefs == ("A",)


def test_definitions_are_parsed_on_demand() -> None:
    src = b"#define X 1\n#define X 2\n"
    assert scan(src).names == "\0X\0"
    assert [d.body for d in definitions_in(src, "X")] == ["1", "2"]
    assert definitions_in(src, "Y") == []
