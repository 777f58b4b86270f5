"""Name resolution for TCP hosts, kept apart from the pure host-list parser.

API:

- ``resolve(hostname, port) -> list[(family, sockaddr)] | None``: the stream addresses
  of a host, in resolver order, ready for ``socket(family, SOCK_STREAM)`` and
  ``connect(sockaddr)``; None if the name does not resolve.  A name that does not resolve
  is not fatal: the caller skips the host (and counts it), as distcc treats it as a
  connection failure of that one host.

Uses ``_socket`` directly: ``import socket`` pulls in ``enum`` and costs several ms, and the
client is on a ~15 ms budget (see common/values.py).  ``_socket`` itself (~1.5 ms) is only
imported by this module, so a job that never resolves a name does not pay for it.
"""

from __future__ import annotations

import _socket


def resolve(hostname: str, port: int) -> list[tuple[int, tuple[object, ...]]] | None:
    """Addresses of ``hostname:port`` for a TCP connection, or None if it does not resolve."""
    # A str host name goes through the "idna" codec, whose import pulls in re and enum
    # (~8 ms); ASCII names are passed as bytes, which skips it.
    name: str | bytes = hostname.encode("ascii") if hostname.isascii() else hostname
    try:
        infos = _socket.getaddrinfo(
            name, port, _socket.AF_UNSPEC, _socket.SOCK_STREAM, _socket.IPPROTO_TCP
        )
    except (_socket.gaierror, UnicodeError, OSError):
        return None
    out: list[tuple[int, tuple[object, ...]]] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if (family, sockaddr) not in out:
            out.append((int(family), tuple(sockaddr)))
    return out or None
