"""The public API and the backend interface; the format is chosen by magic bytes.

Library use (the daemon calls these in-process; no subprocess, no file opened behind the
caller's back except by the ``*_file`` helpers):

- ``rewrite_bytes(data, maps) -> (bytes, RewriteReport)``: pure.
- ``rewrite_file(path, maps, out=None) -> RewriteReport``: atomic (temp file + rename);
  nothing is written when the rewrite fails, and an unchanged input is not rewritten.
- ``find_prefix(path_or_bytes, prefix) -> list[Hit]`` and ``list_paths(...)``.

A backend is a module-like object with ``MAGICS`` (byte prefixes it claims) and the
functions ``rewrite``, ``scan``, ``list_paths``.  ``BACKENDS`` is the ordered registry;
adding a format means adding an entry there.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from objrewrite import macho
from objrewrite.elf import backend as elf_backend
from objrewrite.errors import FormatError
from objrewrite.prefixmap import PrefixMap
from objrewrite.report import Hit, PathEntry, RewriteReport

Maps = PrefixMap | Iterable[tuple[str | bytes, str | bytes]]


@dataclass(frozen=True)
class Backend:
    name: str
    magics: tuple[bytes, ...]
    rewrite: Callable[[bytes, PrefixMap], tuple[bytes, RewriteReport]]
    scan: Callable[[bytes, list[bytes]], list[Hit]]
    list_paths: Callable[[bytes], list[PathEntry]]


BACKENDS: list[Backend] = [
    Backend("elf", (elf_backend.MAGIC,), elf_backend.rewrite, elf_backend.scan,
            elf_backend.list_paths),
    Backend("macho", macho.MAGICS, macho.rewrite, macho.scan, macho.list_paths),
]


def backend_for(data: bytes) -> Backend:
    for b in BACKENDS:
        if any(data.startswith(m) for m in b.magics):
            return b
    raise FormatError("unknown object format (neither ELF nor Mach-O)")


def _pmap(maps: Maps) -> PrefixMap:
    return maps if isinstance(maps, PrefixMap) else PrefixMap(maps)


def rewrite_bytes(data: bytes, maps: Maps) -> tuple[bytes, RewriteReport]:
    """Rewrite ``data`` (one object file) through ``maps``; pure."""
    return backend_for(data).rewrite(data, _pmap(maps))


def rewrite_file(path: str | os.PathLike[str], maps: Maps,
                 out: str | os.PathLike[str] | None = None) -> RewriteReport:
    """Rewrite the file at ``path`` in place (or into ``out``) atomically.

    Raises ``ObjRewriteError`` without writing anything when the rewrite is not possible.
    Leftover prefixes are in the report (``report.ok`` is False); the file is still written,
    so the caller can inspect it, unless it is the daemon's policy to discard it.
    """
    src = Path(path)
    data = src.read_bytes()
    new, report = rewrite_bytes(data, maps)
    dest = Path(out) if out is not None else src
    if dest == src and new == data:
        return report
    write_atomically(dest, new, like=src)
    return report


def write_atomically(dest: Path, data: bytes, like: Path | None = None) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if like is not None and like.exists():
            os.chmod(tmp, like.stat().st_mode & 0o7777)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _data(obj: bytes | str | os.PathLike[str]) -> bytes:
    return obj if isinstance(obj, bytes) else Path(obj).read_bytes()


def find_prefix(obj: bytes | str | os.PathLike[str], prefix: str | bytes | Sequence[str]) -> list[Hit]:
    """Every occurrence of ``prefix`` (a path-boundary match) in any section."""
    data = _data(obj)
    if isinstance(prefix, (str, bytes)):
        prefixes = [prefix]
    else:
        prefixes = list(prefix)
    olds = [p.encode() if isinstance(p, str) else p for p in prefixes]
    return backend_for(data).scan(data, olds)


def list_paths(obj: bytes | str | os.PathLike[str]) -> list[PathEntry]:
    data = _data(obj)
    return backend_for(data).list_paths(data)
