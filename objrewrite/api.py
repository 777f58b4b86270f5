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
import struct

from objrewrite.errors import FormatError
from objrewrite.prefixmap import PrefixMap
from objrewrite.report import Hit, PathEntry, RewriteReport

TYPE_CHECKING = False  # mypy treats this name as True; see report.py on import cost
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    Maps = PrefixMap | Iterable[tuple[str | bytes, str | bytes]]
    Buffers = bytes | list[bytes | bytearray | memoryview]
    PathLike = str | os.PathLike[str]


class Backend:
    """One object format: the magic bytes it claims and the module implementing it.

    The module (imported on first use, so a command pays only for the format it reads)
    provides ``rewrite(data, pmap)``, ``scan(data, olds)`` and ``list_paths(data)``.
    """

    __slots__ = ("_module", "magics", "module_name", "name")

    def __init__(self, name: str, magics: tuple[bytes, ...], module_name: str) -> None:
        self.name, self.magics, self.module_name = name, magics, module_name
        self._module: object = None

    def _mod(self) -> object:
        if self._module is None:
            # __import__ rather than importlib: one less module to load per command.
            self._module = __import__(self.module_name, fromlist=["rewrite"])
        return self._module

    @property
    def rewrite(self) -> Callable[[bytes, PrefixMap], tuple[bytes, RewriteReport]]:
        return self._mod().rewrite  # type: ignore[attr-defined, no-any-return]

    @property
    def scan(self) -> Callable[[bytes, list[bytes]], list[Hit]]:
        return self._mod().scan  # type: ignore[attr-defined, no-any-return]

    @property
    def rewrite_parts(self) -> Callable[[bytes, PrefixMap], tuple[Buffers, RewriteReport]]:
        """Like ``rewrite`` but may return a list of buffers (written with ``writev``)."""
        mod = self._mod()
        fn = getattr(mod, "rewrite_parts", None)
        return fn if fn is not None else mod.rewrite  # type: ignore[attr-defined, no-any-return]

    @property
    def list_paths(self) -> Callable[[bytes], list[PathEntry]]:
        return self._mod().list_paths  # type: ignore[attr-defined, no-any-return]


BACKENDS: list[Backend] = [
    Backend("elf", (b"\x7fELF",), "objrewrite.elf.backend"),
    Backend(
        "macho",
        (
            b"\xce\xfa\xed\xfe",
            b"\xcf\xfa\xed\xfe",
            b"\xfe\xed\xfa\xce",
            b"\xfe\xed\xfa\xcf",
            b"\xca\xfe\xba\xbe",
            b"\xca\xfe\xba\xbf",
        ),
        "objrewrite.macho",
    ),
]


# What a reader trips over on inconsistent input that no explicit check caught: the
# input is malformed, which the caller handles like any other FormatError.
_MALFORMED = (IndexError, KeyError, ValueError, OverflowError, struct.error)


def backend_for(data: bytes) -> Backend:
    for b in BACKENDS:
        if any(data.startswith(m) for m in b.magics):
            return b
    raise FormatError("unknown object format (neither ELF nor Mach-O)")


def _pmap(maps: Maps) -> PrefixMap:
    return maps if isinstance(maps, PrefixMap) else PrefixMap(maps)


def rewrite_parts(data: bytes, maps: Maps) -> tuple[Buffers, RewriteReport]:
    """``rewrite_bytes`` whose result may be a list of buffers (for ``write_atomically``);
    it is ``data`` itself when nothing changed."""
    pmap = _pmap(maps)
    backend = backend_for(data)
    try:
        return backend.rewrite_parts(data, pmap)
    except _MALFORMED as exc:
        raise FormatError(f"malformed {backend.name} object ({type(exc).__name__}: {exc})") from exc


def rewrite_bytes(data: bytes, maps: Maps) -> tuple[bytes, RewriteReport]:
    """Rewrite ``data`` (one object file) through ``maps``; pure."""
    pmap = _pmap(maps)
    backend = backend_for(data)
    try:
        return backend.rewrite(data, pmap)
    except _MALFORMED as exc:
        raise FormatError(f"malformed {backend.name} object ({type(exc).__name__}: {exc})") from exc


def rewrite_file(path: PathLike, maps: Maps, out: PathLike | None = None) -> RewriteReport:
    """Rewrite the file at ``path`` in place (or into ``out``) atomically.

    Raises ``ObjRewriteError`` without writing anything when the rewrite is not possible.
    Leftover prefixes are in the report (``report.ok`` is False); the file is still written,
    so the caller can inspect it, unless it is the daemon's policy to discard it.
    """
    src = os.fspath(path)
    data = read(src)
    new, report = rewrite_parts(data, maps)
    dest = os.fspath(out) if out is not None else src
    if dest == src and new is data:
        return report
    write_atomically(dest, new, like=src)
    return report


def read(path: PathLike) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def write_atomically(dest: PathLike, data: Buffers, like: PathLike | None = None) -> None:
    """Write ``data`` (bytes, or buffers in order) to a new file beside ``dest`` and
    rename it over ``dest`` (over the file a symbolic link points to, not the link)."""
    dest = os.path.realpath(os.fspath(dest))
    head, name = os.path.split(dest)
    mode = 0o666
    if like is not None:
        try:
            mode = os.stat(like).st_mode & 0o7777
        except FileNotFoundError:
            pass
    for attempt in range(100):
        tmp = os.path.join(head, f".{name}.{os.getpid()}.{attempt}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name beside {dest}")
    try:
        with os.fdopen(fd, "wb", buffering=0) as f:
            if isinstance(data, bytes):
                f.write(data)
            else:
                _writev(fd, data)
        if like is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _data(obj: bytes | PathLike) -> bytes:
    return obj if isinstance(obj, bytes) else read(obj)


def find_prefix(obj: bytes | PathLike, prefix: str | bytes | Sequence[str]) -> list[Hit]:
    """Every occurrence of ``prefix`` (a path-boundary match) in any section."""
    data = _data(obj)
    prefixes = [prefix] if isinstance(prefix, (str, bytes)) else list(prefix)
    olds = [p.encode() if isinstance(p, str) else p for p in prefixes]
    backend = backend_for(data)
    try:
        return backend.scan(data, olds)
    except _MALFORMED as exc:
        raise FormatError(f"malformed {backend.name} object ({type(exc).__name__}: {exc})") from exc


def list_paths(obj: bytes | PathLike) -> list[PathEntry]:
    data = _data(obj)
    backend = backend_for(data)
    try:
        return backend.list_paths(data)
    except _MALFORMED as exc:
        raise FormatError(f"malformed {backend.name} object ({type(exc).__name__}: {exc})") from exc


def _writev(fd: int, parts: list[bytes | bytearray | memoryview]) -> None:
    """Write every buffer, in order, with as few system calls as possible."""
    pending = [memoryview(p) for p in parts if len(p)]
    i = 0
    while i < len(pending):
        done = os.writev(fd, pending[i : i + 1024])
        while i < len(pending) and done >= len(pending[i]):
            done -= len(pending[i])
            i += 1
        if done:
            pending[i] = pending[i][done:]
