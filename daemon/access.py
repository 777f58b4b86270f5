"""Client address access control: ``--allow IP[/BITS]`` and ``--allow-private``.

distcc 3.4's ``src/access.c`` semantics: an entry without ``/BITS`` is one host; host bits
below the mask are ignored (``10.1.2.3/8`` means ``10.0.0.0/8``); an IPv4-mapped IPv6
peer (``::ffff:10.0.0.1``, what a dual-stack socket reports) is matched as IPv4, and so is
a mapped entry (``::ffff:10.0.0.0/104`` is ``10.0.0.0/8``).

Invariant: an empty ``AccessList`` allows nobody.  The daemon never runs with an empty list
by accident: with no ``--allow`` it uses the private ranges (distcc HEAD's behaviour; 3.4
logged that but served everyone).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# As distcc's dcc_private_networks, including the IPv6 ones.
PRIVATE_RANGES = (
    "192.168.0.0/16",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "127.0.0.0/8",
    "fe80::/10",
    "fc00::/7",
    "::1/128",
)


class AccessError(ValueError):
    """An ``--allow`` value that is not ``IP[/BITS]``."""


def parse_mask(text: str) -> Network:
    """``IP`` or ``IP/BITS`` as a network; mapped IPv6 entries become IPv4."""
    address, slash, bits = text.strip().partition("/")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise AccessError(f'can\'t parse internet address "{text}"') from None
    if slash:
        if not bits.isdigit() or int(bits) > ip.max_prefixlen:
            raise AccessError(f'invalid mask "{bits}" in "{text}"')
        prefix = int(bits)
    else:
        prefix = ip.max_prefixlen
    network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    if isinstance(network, ipaddress.IPv6Network) and prefix >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network(f"{mapped}/{prefix - 96}", strict=False)
    return network


@dataclass(frozen=True)
class AccessList:
    networks: tuple[Network, ...]

    @classmethod
    def build(cls, allow: Iterable[str], private: bool) -> AccessList:
        """The list for ``--allow`` values plus, if asked, the private ranges."""
        masks = list(allow)
        if private:
            masks.extend(PRIVATE_RANGES)
        return cls(tuple(parse_mask(m) for m in masks))

    def allows(self, peer: str) -> bool:
        """Whether a peer address (as ``getpeername`` gives it) may connect."""
        try:
            ip = ipaddress.ip_address(peer.partition("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == n.version and ip in n for n in self.networks)

    def __str__(self) -> str:
        return ", ".join(str(n) for n in self.networks) or "(nobody)"
