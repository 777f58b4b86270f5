"""Name resolution: numeric and local names resolve, unknown names give None."""

from __future__ import annotations

import socket
import subprocess
import sys

from client.resolve import resolve
from tests.conftest import REPO


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


def test_resolving_a_name_stays_off_the_expensive_imports() -> None:
    # A str host name would go through the "idna" codec, which imports re and enum.
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
        "from client.resolve import resolve\n"
        "assert resolve('localhost', 3632)\n"
        "print(' '.join(m for m in ('enum', 're', 'socket', 'typing') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == []
