from __future__ import annotations

import pytest

from daemon.access import PRIVATE_RANGES, AccessError, AccessList, parse_mask


@pytest.mark.parametrize(
    ("allow", "peer", "expected"),
    [
        (["127.0.0.2"], "127.0.0.2", True),
        (["127.0.0.2"], "127.0.0.1", False),
        (["10.0.0.0/8"], "10.200.3.4", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["10.1.2.3/8"], "10.9.9.9", True),  # host bits below the mask are ignored
        (["192.168.1.0/24"], "192.168.1.255", True),
        (["192.168.1.0/24"], "192.168.2.1", False),
        (["0.0.0.0/0"], "8.8.8.8", True),
        (["10.0.0.0/8"], "::ffff:10.1.1.1", True),  # mapped peer matched as IPv4
        (["10.0.0.0/8"], "::ffff:11.1.1.1", False),
        (["::ffff:10.0.0.0/104"], "10.3.3.3", True),  # mapped entry becomes IPv4
        (["::ffff:10.0.0.0/104"], "::ffff:10.3.3.3", True),
        (["::1"], "::1", True),
        (["::1"], "127.0.0.1", False),
        (["fe80::/10"], "fe80::1%eth0", True),
        (["2001:db8::/32"], "2001:db8:1::5", True),
        (["2001:db8::/32"], "2001:db9::5", False),
        (["10.0.0.0/8"], "2001:db8::1", False),
        ([], "127.0.0.1", False),
        (["127.0.0.1"], "not an address", False),
    ],
)
def test_allows(allow: list[str], peer: str, expected: bool) -> None:
    assert AccessList.build(allow, private=False).allows(peer) is expected


@pytest.mark.parametrize(
    "peer", ["192.168.5.5", "10.1.1.1", "172.16.0.1", "172.31.255.255", "127.0.0.9", "::1"]
)
def test_private_ranges_allow(peer: str) -> None:
    assert AccessList.build([], private=True).allows(peer)


@pytest.mark.parametrize("peer", ["172.32.0.1", "8.8.8.8", "2001:db8::1", "11.0.0.1"])
def test_private_ranges_deny_public(peer: str) -> None:
    assert not AccessList.build([], private=True).allows(peer)


def test_private_ranges_are_distccs() -> None:
    assert len(PRIVATE_RANGES) == 7
    assert AccessList.build([], private=True).allows("fd00::1")
    assert AccessList.build([], private=True).allows("fe80::2")


@pytest.mark.parametrize("text", ["10.0.0.0/33", "10.0.0", "host.example", "::1/129", "1.2.3.4/x"])
def test_bad_masks(text: str) -> None:
    with pytest.raises(AccessError):
        parse_mask(text)
