"""client.lz4frame: lz4.frame's compress/decompress without the package's Python half."""

from __future__ import annotations

import subprocess
import sys

import lz4.frame

from client import lz4frame
from tests.conftest import REPO


def test_frames_interoperate_with_lz4_frame() -> None:
    frame = lz4frame.load()
    data = b"int main(void) { return 0; }\n" * 500
    assert lz4.frame.decompress(frame.compress(data)) == data
    assert frame.decompress(lz4.frame.compress(data)) == data
    assert frame.compress is lz4.frame.compress


def test_fresh_process_loads_only_the_extension() -> None:
    site = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(REPO)!r}]\n"
        f"sys.path += {site!r}\n"
        "from client import lz4frame\n"
        "frame = lz4frame.load()\n"
        "assert frame.decompress(frame.compress(b'x' * 1000)) == b'x' * 1000\n"
        "print(' '.join(sorted(m for m in sys.modules if 'lz4' in m or 'compression' in m)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["client.lz4frame", "lz4.frame._frame"]
