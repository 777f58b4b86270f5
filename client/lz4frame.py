"""LZ4 frames for the native protocol on the client: ``compress`` and ``decompress``.

Why not just ``import lz4.frame``: that runs the package's Python half (``io``,
``_compression``, the ``LZ4FrameFile`` class, version checks) to reach two C functions:
~1 ms of CPU on every pump job, which costs ~15 ms in all.  ``load()`` loads the C
extension ``lz4.frame._frame`` by itself, found on ``sys.path`` as the import system would
find it, and falls back to ``import lz4.frame`` when it is not there (an unusual layout, a
zip): the functions are the same objects either way.

CPython registers the extension in ``sys.modules`` as it loads it, so a later
``import lz4.frame`` in the same process (the tests) reuses it, and ``load()`` after an
``import lz4.frame`` returns the module already loaded.
"""

from __future__ import annotations

import _imp
import os
import sys

from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

_NAME = "lz4.frame._frame"


def _extension_path() -> str | None:
    for directory in sys.path:
        for suffix in _imp.extension_suffixes():
            path = os.path.join(directory or ".", "lz4", "frame", "_frame" + suffix)
            if os.path.isfile(path):
                return path
    return None


def _load_extension(path: str) -> ModuleType:
    import _frozen_importlib
    import _frozen_importlib_external

    loader = _frozen_importlib_external.ExtensionFileLoader(_NAME, path)
    spec = _frozen_importlib.ModuleSpec(_NAME, loader, origin=path)
    module = _frozen_importlib.module_from_spec(spec)
    loader.exec_module(module)
    return module


def load() -> ModuleType:
    """The module holding ``compress(data)`` and ``decompress(frame)``."""
    loaded = sys.modules.get(_NAME)
    if loaded is not None:
        return loaded
    path = _extension_path()
    if path is not None:
        try:
            return _load_extension(path)
        except ImportError:
            pass  # built for another interpreter: let the import system decide
    import lz4.frame

    module: ModuleType = lz4.frame
    return module
