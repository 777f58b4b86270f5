"""Name resolution: numeric and local names resolve, unknown names give None."""

from __future__ import annotations

import socket

from client.resolve import resolve


def test_numeric_addresses() -> None:
    assert resolve("127.0.0.1", 3632) == [(socket.AF_INET, ("127.0.0.1", 3632))]
    v6 = resolve("::1", 4000)
    assert v6 is not None and v6[0][0] == socket.AF_INET6 and v6[0][1][:2] == ("::1", 4000)


def test_addresses_connect() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        addrs = resolve("127.0.0.1", port)
        assert addrs is not None
        family, sockaddr = addrs[0]
        with socket.socket(family, socket.SOCK_STREAM) as c:
            c.connect(sockaddr)
            conn, _ = srv.accept()
            conn.close()
    finally:
        srv.close()


def test_unresolvable_name_is_none_not_an_error() -> None:
    # RFC 2606: .invalid never resolves.
    assert resolve("no-such-host.invalid", 3632) is None
    assert resolve("bad..name", 3632) is None
