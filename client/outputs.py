"""Writing a job's outputs so that make never sees half a file.

Every output is written to a temporary name in the destination's own directory and renamed
over the destination, so a reader sees the old file or the whole new one.  Permissions
follow the umask (0666 & ~umask), as an object written by the compiler itself would.
An existing destination that is not a regular file (``-o /dev/null``) is written in place.
"""

from __future__ import annotations

import os

from client.proc import write_all
from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from client.proc import TempFiles


def sibling_temp(tmp: TempFiles, dest: str) -> tuple[str, int]:
    """A new temporary file beside ``dest`` (same filesystem, so rename is atomic)."""
    directory = os.path.dirname(dest) or "."
    base = os.path.basename(dest)
    return tmp.create(f".{base}.distcc-", ".tmp", directory=directory)


def _is_special(dest: str) -> bool:
    try:
        st = os.stat(dest)
    except OSError:
        return False
    import stat

    return not stat.S_ISREG(st.st_mode)


def write_atomically(tmp: TempFiles, dest: str, data: bytes) -> None:
    """Write ``data`` to ``dest`` via a temp file + rename (in place for /dev/null & co)."""
    if _is_special(dest):
        fd = os.open(dest, os.O_WRONLY | os.O_TRUNC)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        return
    path, fd = sibling_temp(tmp, dest)
    try:
        write_all(fd, data)
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    os.replace(path, dest)
    tmp.forget(path)


def move_into_place(tmp: TempFiles, path: str, dest: str) -> None:
    """Rename a finished temp file (e.g. a .d file written by cpp) over ``dest``."""
    if _is_special(dest):
        with open(path, "rb") as f:
            write_atomically(tmp, dest, f.read())
        return
    os.chmod(path, 0o666 & ~_umask())
    os.replace(path, dest)
    tmp.forget(path)


_UMASK: int | None = None


def _umask() -> int:
    global _UMASK
    if _UMASK is None:
        current = os.umask(0)
        os.umask(current)
        _UMASK = current
    return _UMASK
