"""Host list parsing: distcc's golden tables (test/testdistcc.py) plus our own rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.hosts import (
    DEFAULT_LOCAL_SLOTS,
    DEFAULT_LOCAL_SLOTS_CPP,
    NO_HOSTLIST_WARNING,
    Host,
    HostList,
    HostSpecError,
    Mode,
    find_host_list,
    load_host_list,
    parse_hosts,
    read_text_file,
)
from common.exitcodes import ExitCode


def h_hosts(hosts: HostList) -> str:
    """What distcc's ``h_hosts`` test helper prints for a parsed list."""
    lines = [str(len(hosts.hosts))]
    for h in hosts.hosts:
        if h.mode == Mode.LOCAL:
            what = "LOCAL"
        elif h.mode == Mode.SSH:
            what = f"SSH {h.user or '(no-user)'} {h.hostname} {h.ssh_command or '(no-command)'}"
        else:
            what = f"TCP {h.hostname} {h.port}"
        lines.append(f"{h.limit:4d} {what}")
    return "\n".join(lines) + "\n"


# ParseHostSpec_Case, verbatim.
GOLDEN_SPEC = """localhost 127.0.0.1 @angry   ted@angry
        \t@angry:/home/mbp/bin/distccd  angry:4204
        ipv4-localhost
        angry/44
        angry:300/44
        angry/44:300
        angry,lzo
        angry:3000,lzo    # some comment
        angry/44,lzo
        @angry,lzo#asdasd
        # oh yeah nothing here
        @angry:/usr/sbin/distccd,lzo
        localhostbutnotreally
        """

GOLDEN_EXPECTED = """16
   2 LOCAL
   4 TCP 127.0.0.1 3632
   4 SSH (no-user) angry (no-command)
   4 SSH ted angry (no-command)
   4 SSH (no-user) angry /home/mbp/bin/distccd
   4 TCP angry 4204
   4 TCP ipv4-localhost 3632
  44 TCP angry 3632
  44 TCP angry 300
  44 TCP angry 300
   4 TCP angry 3632
   4 TCP angry 3000
  44 TCP angry 3632
   4 SSH (no-user) angry (no-command)
   4 SSH (no-user) angry /usr/sbin/distccd
   4 TCP localhostbutnotreally 3632
"""


def test_golden_parse_host_spec_case() -> None:
    # distcc gives a bare localhost 2 slots; we give it the CPU count (the issue asks for
    # that).  With ncpus=2 the golden output must match byte for byte.
    assert h_hosts(parse_hosts(GOLDEN_SPEC, "$DISTCC_HOSTS", ncpus=2)) == GOLDEN_EXPECTED


def test_golden_verbatim_specs_for_show_hosts() -> None:
    specs = [h.spec for h in parse_hosts(GOLDEN_SPEC, "$DISTCC_HOSTS", ncpus=2).hosts]
    assert specs[:3] == ["localhost", "127.0.0.1", "@angry"]
    assert "angry:3000,lzo" in specs  # the comment is not part of it
    assert "@angry,lzo" in specs  # '#' ends the entry


# InvalidHostSpec_Case, verbatim.
@pytest.mark.parametrize("spec", ["", "    ", "\t", "  @ ", ":", "mbp@", "angry::", ":4200"])
def test_golden_invalid_host_spec_case(spec: str) -> None:
    with pytest.raises(HostSpecError) as info:
        parse_hosts(spec, "$DISTCC_HOSTS", ncpus=4)
    assert info.value.code == ExitCode.BAD_HOSTSPEC == 106


def test_empty_list_message_is_distccs() -> None:
    with pytest.raises(HostSpecError, match=r"^\$DISTCC_HOSTS contained no hosts; can't"):
        parse_hosts("  # only a comment\n", "$DISTCC_HOSTS", ncpus=4)


def one(spec: str, ncpus: int = 8) -> Host:
    hosts = parse_hosts(spec, "$DISTCC_HOSTS", ncpus).hosts
    assert len(hosts) == 1
    return hosts[0]


# spec -> (mode, hostname, port, limit, protocol)
VALID = [
    ("localhost", (Mode.LOCAL, "localhost", 0, 8, 1)),  # default = ncpus (distcc: 2)
    ("localhost/3", (Mode.LOCAL, "localhost", 0, 3, 1)),
    # distcc ignores what follows localhost/N; real host files say this.
    ("localhost/2,cpp,lzo", (Mode.LOCAL, "localhost", 0, 2, 1)),
    # Only exact "localhost" or "localhost/N" is local.
    ("localhost:3632", (Mode.TCP, "localhost", 3632, 4, 1)),
    ("localhost,lzo", (Mode.TCP, "localhost", 3632, 4, 2)),
    ("127.0.0.1:4000", (Mode.TCP, "127.0.0.1", 4000, 4, 1)),
    ("box/10", (Mode.TCP, "box", 3632, 10, 1)),
    ("box:4000/10,lzo", (Mode.TCP, "box", 4000, 10, 2)),
    ("box/10:4000,lzo", (Mode.TCP, "box", 4000, 10, 2)),
    ("box,lzo,cpp", (Mode.TCP, "box", 3632, 4, 3)),
    ("box,cpp,lzo", (Mode.TCP, "box", 3632, 4, 3)),
    ("box:4000/6,cpp,lzo", (Mode.TCP, "box", 4000, 6, 3)),
    ("[::1]:3633", (Mode.TCP, "::1", 3633, 4, 1)),
    ("[::1]", (Mode.TCP, "::1", 3632, 4, 1)),
    ("[fe80::1]/3,lzo", (Mode.TCP, "fe80::1", 3632, 3, 2)),
    ("[::1]:4000/2,cpp,lzo", (Mode.TCP, "::1", 4000, 2, 3)),
    ("user@box", (Mode.SSH, "box", 0, 4, 1)),
    ("user@box/8:/opt/bin/distccd,lzo,cpp", (Mode.SSH, "box", 0, 8, 3)),
    ("@box/2", (Mode.SSH, "box", 0, 2, 1)),
]


@pytest.mark.parametrize(("spec", "want"), VALID)
def test_valid_entries(spec: str, want: tuple[str, str, int, int, int]) -> None:
    h = one(spec)
    assert (h.mode, h.hostname, h.port, h.limit, h.protocol) == want
    assert h.spec == spec
    assert h.is_up and not h.auth
    assert h.compressed == (h.protocol >= 2) and h.cpp_on_server == (h.protocol == 3)


def test_ssh_fields() -> None:
    h = one("ted@angry/8:/opt/bin/distccd,lzo")
    assert (h.user, h.hostname, h.ssh_command, h.limit, h.protocol) == (
        "ted",
        "angry",
        "/opt/bin/distccd",
        8,
        2,
    )


def test_down_and_auth_options() -> None:
    assert not one("box,down").is_up
    assert one("box,lzo,down").protocol == 2
    h = one("box,auth")
    assert h.auth and h.auth_name is None
    h = one("box:4000,auth=distccd/box@REALM,lzo")
    assert (h.auth, h.auth_name, h.protocol, h.port) == (True, "distccd/box@REALM", 2, 4000)


def test_cpp_needs_lzo_with_distccs_message() -> None:
    with pytest.raises(HostSpecError, match=r"pump mode \(',cpp'\) requires compression"):
        one("box,cpp")


INVALID = [
    "box,gzip",  # unknown option (distcc: error too)
    "box,",  # empty option (distcc: error too)
    "box,zstd",  # post-3.4 option, unknown in 3.4
    "box/0",  # distcc: "bad multiplier"
    "box/",
    "box/x",
    "localhost/0",
    "localhost/",
    "[::1",  # distcc: "IPv6 Hostname requires closing ']'"
    "[]:3632",
    "box:99999",
    "box:0",
    # Stricter than distcc (module docstring): junk it would ignore.
    "box:",
    "box/4xyz",
    "box/-3",
    "box,lzofoo",
    "box/4/5",
    "box,down=1",
    "box,auth=",
    "--localslots=0",
    "--localslots",
    "--localslots_cpp=x",
    "--bogus box",
    "--randomized box",
]


@pytest.mark.parametrize("spec", INVALID)
def test_invalid_entries(spec: str) -> None:
    with pytest.raises(HostSpecError) as info:
        parse_hosts(spec + " otherbox", "$DISTCC_HOSTS", ncpus=4)
    assert info.value.code == 106


def test_comment_ends_entry_and_runs_to_end_of_line() -> None:
    hosts = parse_hosts("a#b c\nd # e f\r g", "x", ncpus=1).hosts
    assert [h.hostname for h in hosts] == ["a", "d", "g"]
    assert hosts[0].spec == "a"


def test_keywords() -> None:
    hl = parse_hosts("--localslots=3 a --localslots_cpp/16 b", "x", ncpus=1)
    assert (hl.local_slots, hl.local_slots_cpp) == (3, 16)
    assert [h.hostname for h in hl.hosts] == ["a", "b"]
    assert not hl.randomize
    hl = parse_hosts("a b", "x", ncpus=1)
    assert (hl.local_slots, hl.local_slots_cpp) == (DEFAULT_LOCAL_SLOTS, DEFAULT_LOCAL_SLOTS_CPP)


def test_only_keywords_is_no_hosts() -> None:
    with pytest.raises(HostSpecError, match="contained no hosts"):
        parse_hosts("--randomize --localslots=2", "x", ncpus=1)


def test_randomize_is_a_seeded_permutation() -> None:
    names = [f"h{i}" for i in range(12)]
    text = "--randomize " + " ".join(names)
    orders = {tuple(h.hostname for h in parse_hosts(text, "x", 1, seed=s).hosts) for s in range(20)}
    assert all(sorted(o) == sorted(names) for o in orders)
    assert len(orders) > 1  # the seed matters
    again = parse_hosts(text, "x", 1, seed=7).hosts
    assert again == parse_hosts(text, "x", 1, seed=7).hosts  # and only the seed
    assert parse_hosts(text, "x", 1, seed=7).randomize


def test_total_slots_is_what_dash_j_prints() -> None:
    assert parse_hosts("localhost/3 a b/10", "x", ncpus=2).total_slots == 17


# --------------------------------------------------------------------------- sources


def reader(files: dict[str, str]):  # type: ignore[no-untyped-def]
    return files.get


def test_source_order() -> None:
    files = {
        "/d/hosts": "from-dir",
        "/home/u/.distcc/hosts": "from-home",
        "/etc/distcc/hosts": "from-etc",
    }
    env = {"DISTCC_HOSTS": "from-env", "DISTCC_DIR": "/d", "HOME": "/home/u"}
    assert find_host_list(env, reader(files)) == ("from-env", "$DISTCC_HOSTS")
    del env["DISTCC_HOSTS"]
    assert find_host_list(env, reader(files)) == ("from-dir", "/d/hosts")
    del env["DISTCC_DIR"]
    assert find_host_list(env, reader(files)) == ("from-home", "/home/u/.distcc/hosts")
    del files["/home/u/.distcc/hosts"]
    assert find_host_list(env, reader(files)) == ("from-etc", "/etc/distcc/hosts")
    assert find_host_list({}, reader(files), sysconfdir="/nowhere") is None


def test_empty_distcc_hosts_wins_and_is_an_error() -> None:
    # NoHosts_Case: DISTCC_HOSTS="" is used (not skipped); it has no hosts.
    env = {"DISTCC_HOSTS": "", "DISTCC_DIR": "/d"}
    with pytest.raises(HostSpecError):
        load_host_list(env, reader({"/d/hosts": "box"}), ncpus=1)


def test_no_list_anywhere_is_a_warning_not_an_error() -> None:
    hl = load_host_list({"HOME": "/h"}, reader({}), ncpus=1, sysconfdir="/nowhere")
    assert hl.hosts == ()
    assert hl.warnings == (NO_HOSTLIST_WARNING,)
    assert NO_HOSTLIST_WARNING == "no hostlist is set; can't distribute work"


def test_host_file_case(tmp_path: Path) -> None:
    # HostFile_Case: hosts from $DISTCC_DIR/hosts, a real file with comments and lines.
    (tmp_path / "hosts").write_text("# build farm\n127.0.0.1:4000/2,lzo\n\nlocalhost/1\n")
    hl = load_host_list({"DISTCC_DIR": str(tmp_path)}, read_text_file, ncpus=4)
    assert hl.source == str(tmp_path / "hosts")
    assert [(h.hostname, h.port, h.limit, h.protocol) for h in hl.hosts] == [
        ("127.0.0.1", 4000, 2, 2),
        ("localhost", 0, 1, 1),
    ]
    assert read_text_file(str(tmp_path / "missing")) is None


# --------------------------------------------------------------------------- properties

NAMES = st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True).filter(lambda n: n != "localhost")
OPTIONS = st.sampled_from([(), ("lzo",), ("lzo", "cpp"), ("cpp", "lzo"), ("lzo", "down")])


@given(
    NAMES,
    st.none() | st.integers(1, 65535),
    st.none() | st.integers(1, 999),
    OPTIONS,
    st.booleans(),
)
def test_tcp_entries_round_trip(
    name: str, port: int | None, limit: int | None, options: tuple[str, ...], old_order: bool
) -> None:
    p = "" if port is None else f":{port}"
    lim = "" if limit is None else f"/{limit}"
    entry = name + (lim + p if old_order else p + lim) + "".join("," + o for o in options)
    h = one(entry)
    assert (h.mode, h.hostname, h.port, h.limit) == (Mode.TCP, name, port or 3632, limit or 4)
    assert h.protocol == (3 if "cpp" in options else 2 if "lzo" in options else 1)
    assert h.is_up == ("down" not in options)
    assert h.spec == entry


@given(st.text(alphabet=" \t\n#@:/,[]-=abc0123456789lzocpdwnu", max_size=40))
def test_any_text_parses_or_is_a_hostspec_error(text: str) -> None:
    try:
        hl = parse_hosts(text, "x", ncpus=3)
    except HostSpecError as e:
        assert e.code == 106
    else:
        assert hl.hosts and all(h.limit >= 1 and h.protocol in (1, 2, 3) for h in hl.hosts)
        assert all(h.spec and not any(c in h.spec for c in " \t\n#") for h in hl.hosts)
