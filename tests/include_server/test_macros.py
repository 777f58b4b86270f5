"""Multi-valued macro expansion of computed includes."""

from __future__ import annotations

import pytest

from include_server import macros
from include_server.scanner import Define, definitions_in

TABLE = macros.build_table(
    definitions_in(
        b"#define HDR(x) <x.h>\n"
        b"#define STR(x) #x\n#define XSTR(x) STR(x)\n"
        b"#define CAT_(a, b) a##b\n#define CAT(a, b) CAT_(a, b)\n"
        b"#define NAME stdio\n#define NAME stdlib\n"
        b'#define QUOTED "q.h"\n'
        b"#define V(...) <__VA_ARGS__>\n"
        b"#define SELF SELF\n"
    )
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QUOTED", {("quote", "q.h")}),
        ("HDR(NAME)", {("angle", "NAME.h"), ("angle", "stdio.h"), ("angle", "stdlib.h")}),
        (
            "XSTR(CAT(plat_, NAME).h)",
            {
                ("quote", "plat_NAME.h"),
                ("quote", "plat_stdio.h"),
                ("quote", "plat_stdlib.h"),
                ("quote", "CAT(plat_, NAME).h"),
            },
        ),
        ("STR(NAME)", {("quote", "NAME")}),  # # takes its argument unexpanded
        ("V(sys/x.h)", {("angle", "sys/x.h")}),
        ("SELF", set()),
        ("UNDEFINED", set()),
    ],
)
def test_header_names(text: str, expected: set[tuple[str, str]]) -> None:
    assert macros.header_names(text, TABLE) >= expected
    if not expected:
        assert macros.header_names(text, TABLE) == set()


def test_paste_is_not_expanded_first() -> None:
    # CAT_(plat_, NAME) pastes before expansion: plat_NAME, never plat_stdio.
    names = macros.header_names("XSTR(CAT_(plat_, NAME).h)", TABLE)
    assert ("quote", "plat_NAME.h") in names
    assert ("quote", "plat_stdio.h") not in names


def test_explosion_is_bounded() -> None:
    defs = [Define(f"M{i}", None, f"M{i + 1} M{i + 1}", 0) for i in range(30)]
    defs += [Define(f"M{i}", None, "x", 0) for i in range(31)]
    with pytest.raises(macros.ExpansionTooLarge):
        macros.header_names("M0", macros.build_table(defs))


def test_identifiers_follow_definitions() -> None:
    table = macros.build_table([Define("SELF_NAME", None, "__FILE__", 0)])
    assert "__FILE__" in macros.identifiers("SELF_NAME", table)
