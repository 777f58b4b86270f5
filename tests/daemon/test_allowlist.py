from __future__ import annotations

from pathlib import Path

import pytest

from daemon.allowlist import CmdList, CompilerPolicy, Refusal, last_words


@pytest.fixture
def masq(tmp_path: Path) -> Path:
    d = tmp_path / "masq"
    d.mkdir()
    for name in ("gcc", "cc", "clang-14"):
        (d / name).symlink_to("/usr/bin/distcc")
    (d / "notexec").write_text("")
    return d


@pytest.mark.parametrize(
    ("path", "words", "key"),
    [
        ("/usr/bin/gcc", 1, "gcc"),
        ("/usr/bin/gcc", 2, "bin/gcc"),
        ("/usr/bin/gcc", 3, "/usr/bin/gcc"),  # distcc: the leading '/' is never a cut
        ("/usr/bin/gcc", 9, "/usr/bin/gcc"),
        ("gcc", 1, "gcc"),
        ("x/gcc", 1, "gcc"),
    ],
)
def test_last_words(path: str, words: int, key: str) -> None:
    assert last_words(path, words) == key


def test_cmdlist_lookup_maps_to_listed_path() -> None:
    cmdlist = CmdList.parse("/opt/cross/bin/sh4-gcc\n/usr/bin/gcc\n\n", words=1)
    assert cmdlist.lookup("gcc") == "/usr/bin/gcc"
    assert cmdlist.lookup("/somewhere/else/gcc") == "/usr/bin/gcc"
    assert cmdlist.lookup("sh4-gcc") == "/opt/cross/bin/sh4-gcc"
    assert cmdlist.lookup("cc") is None


def test_cmdlist_numwords() -> None:
    cmdlist = CmdList.parse("/opt/a/bin/gcc\n/opt/b/bin/gcc\n", words=3)
    assert cmdlist.lookup("/x/a/bin/gcc") == "/opt/a/bin/gcc"
    assert cmdlist.lookup("/x/b/bin/gcc") == "/opt/b/bin/gcc"
    assert cmdlist.lookup("gcc") is None


def test_cmdlist_replaces_every_other_rule(masq: Path, tmp_path: Path) -> None:
    listing = tmp_path / "cmdlist"
    listing.write_text("/usr/bin/gcc\n")
    env = {"DISTCC_CMDLIST": str(listing)}
    policy = CompilerPolicy.build(True, ["cc"], env, [str(masq)])
    assert policy.check("gcc") == "/usr/bin/gcc"
    assert policy.check("../../gcc") == "/usr/bin/gcc"
    assert isinstance(policy.check("cc"), Refusal)
    assert isinstance(policy.check("/bin/sh"), Refusal)


def test_cmdlist_numwords_from_env(tmp_path: Path) -> None:
    listing = tmp_path / "cmdlist"
    listing.write_text("/opt/a/bin/gcc\n")
    env = {"DISTCC_CMDLIST": str(listing), "DISTCC_CMDLIST_NUMWORDS": "2"}
    policy = CompilerPolicy.build(False, [], env, [])
    assert policy.check("bin/gcc") == "/opt/a/bin/gcc"
    assert isinstance(policy.check("gcc"), Refusal)


def test_missing_cmdlist_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        CompilerPolicy.build(False, [], {"DISTCC_CMDLIST": str(tmp_path / "none")}, [])


@pytest.mark.parametrize(
    ("argv0", "allowed"),
    [
        ("gcc", "gcc"),
        ("cc", "cc"),
        ("/usr/bin/gcc", "gcc"),  # QtCreator's absolute /usr/bin and /bin are stripped
        ("/BIN/gcc", "gcc"),
        ("clang-14", "clang-14"),
        ("g++", None),  # not in the directory
        ("notexec", None),
        ("/bin/sh", None),
        ("sh", None),
        ("../gcc", None),
        ("./gcc", None),
        ("/usr/local/bin/gcc", None),
        ("/usr/bin/../bin/gcc", None),
        ("", None),
        ("..", None),
    ],
)
def test_masquerade_rules(masq: Path, argv0: str, allowed: str | None) -> None:
    policy = CompilerPolicy(masquerade_dirs=(str(masq),))
    result = policy.check(argv0)
    if allowed is None:
        assert isinstance(result, Refusal), result
    else:
        assert result == allowed


def test_allow_compiler_names_and_paths(tmp_path: Path) -> None:
    policy = CompilerPolicy(
        allowed=frozenset({"mycc", "/opt/tools/cc"}), masquerade_dirs=(str(tmp_path),)
    )
    assert policy.check("mycc") == "mycc"
    assert policy.check("/usr/bin/mycc") == "mycc"
    assert policy.check("/opt/tools/cc") == "/opt/tools/cc"
    assert isinstance(policy.check("cc"), Refusal)
    assert isinstance(policy.check("/opt/other/mycc"), Refusal)
    assert isinstance(policy.check("../mycc"), Refusal)


def test_insecure_allows_anything() -> None:
    policy = CompilerPolicy(insecure=True, masquerade_dirs=())
    assert policy.check("/bin/sh") == "/bin/sh"


def test_startup_problem(masq: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert CompilerPolicy(masquerade_dirs=(str(masq),)).startup_problem() is None
    problem = CompilerPolicy(masquerade_dirs=(str(empty), str(tmp_path / "none")))
    assert "update-distcc-symlinks" in (problem.startup_problem() or "")
    assert CompilerPolicy(insecure=True, masquerade_dirs=()).startup_problem() is None
    assert CompilerPolicy(allowed=frozenset({"gcc"}), masquerade_dirs=()).startup_problem() is None
