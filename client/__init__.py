"""The ``distcc`` compiler wrapper: host list, slot locks, backoff, remote and local compiles.

Imports ``common``; never ``daemon`` or ``pump``.

``preload()`` is the launcher's start-up cache.  The client is a new interpreter for every
compile, and before it can start cpp it imports ~20 modules of ``client`` and ``common``;
through the import system that costs ~2.4 ms here (finding, reading and validating each
``.pyc``, then running it), about a quarter of a small job's whole overhead.  The cache is
one file holding the compiled code of every module of both packages, written beside the
``.pyc`` files (``client/__pycache__/preload.<tag>.bin``, by ``client.preload_build``).
``preload()`` reads it with one ``read``, runs the modules a compile needs in dependency
order straight into ``sys.modules``, and serves the rest on demand from a finder at the
front of ``sys.meta_path``.  A module whose source changed since (size or mtime) is not
served from the cache; a stale or missing cache is rebuilt once the job is done
(``rebuild_preload()``).  Nothing else imports through it: tests and the other commands
import these packages the usual way.
"""

import marshal
import os
import sys

TYPE_CHECKING = False  # as common.values: no import of typing on the hot path
if TYPE_CHECKING:
    from types import CodeType

# Bumped when the layout of the cache file changes.
PRELOAD_FORMAT = 1

_state: dict[str, object] = {"rebuild": False}


def preload_path() -> str:
    """Where the start-up cache of this interpreter lives."""
    tag = sys.implementation.cache_tag or "none"
    return os.path.join(os.path.dirname(__file__), "__pycache__", f"preload.{tag}.bin")


def _magic() -> bytes:
    # The byte-code magic of this interpreter, without importing importlib.util.
    external = sys.modules.get("_frozen_importlib_external")
    return bytes(getattr(external, "MAGIC_NUMBER", b""))


def _fresh(origin: str, mtime_ns: int, size: int) -> bool:
    try:
        st = os.stat(origin)
    except OSError:
        return False
    return st.st_mtime_ns == mtime_ns and st.st_size == size


class _Finder:
    """Serves the cached modules that were not run up front (and any that a module runs
    before its turn), through the ordinary import protocol."""

    def __init__(self, table: dict[str, tuple[str, bool, int, int, object]]) -> None:
        self.table = table

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        entry = self.table.get(name)
        if entry is None or name in sys.modules:
            return None
        origin, is_package, mtime_ns, size, _ = entry
        if not _fresh(origin, mtime_ns, size):
            _state["rebuild"] = True
            return None
        return _spec(name, origin, is_package, self)

    def create_module(self, spec: object) -> None:
        return None

    def exec_module(self, module: object) -> None:
        name = module.__name__  # type: ignore[attr-defined]
        exec(_code(self.table[name]), module.__dict__)


def _code(entry: tuple[str, bool, int, int, object]) -> "CodeType":
    code = entry[4]
    loaded = marshal.loads(code) if isinstance(code, bytes) else code
    assert isinstance(loaded, type(_fresh.__code__))
    return loaded


def _spec(name: str, origin: str, is_package: bool, loader: object) -> object:
    machinery = sys.modules["_frozen_importlib"]
    spec = machinery.ModuleSpec(name, loader, origin=origin, is_package=is_package)
    if is_package:
        spec.submodule_search_locations = [os.path.dirname(origin)]
    spec.has_location = True
    return spec


def preload(path: str = "") -> None:
    """Load the start-up cache (see the module docstring; ``path`` is for tests); without a
    usable one, note that it is to be rebuilt and let the import system do its usual work."""
    try:
        with open(path or preload_path(), "rb") as f:
            version, magic, eager, table = marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        _state["rebuild"] = True
        return
    if version != PRELOAD_FORMAT or magic != _magic():
        _state["rebuild"] = True
        return
    for name in eager:
        origin, _, mtime_ns, size, _ = table[name]
        if not _fresh(origin, mtime_ns, size):
            _state["rebuild"] = True
            return
    finder = _Finder(table)
    sys.meta_path.insert(0, finder)  # type: ignore[arg-type]
    modules = sys.modules
    for name in eager:
        if name in modules:  # imported already by a module run before it
            continue
        origin, is_package, _, _, code = table[name]
        module = type(sys)(name)
        module.__file__ = origin
        module.__loader__ = finder  # type: ignore[assignment]
        module.__spec__ = _spec(name, origin, is_package, finder)  # type: ignore[assignment]
        parent, _, child = name.rpartition(".")
        if is_package:
            module.__path__ = [os.path.dirname(origin)]
            module.__package__ = name
        else:
            module.__package__ = parent
        modules[name] = module
        try:
            exec(code, module.__dict__)
        except BaseException:
            del modules[name]
            raise
        if parent:
            setattr(modules[parent], child, module)


def rebuild_preload(path: str = "") -> None:
    """Write the start-up cache if ``preload()`` found none, or a stale one, and the
    package directory is writable; never fails the job."""
    if not _state["rebuild"]:
        return
    _state["rebuild"] = False
    path = path or preload_path()
    directory = os.path.dirname(path)
    if not os.access(
        directory if os.path.isdir(directory) else os.path.dirname(directory), os.W_OK
    ):
        return  # an installation this user cannot write: no cache, and no cost for trying
    try:
        from client import preload_build

        preload_build.build(path)
    except Exception:  # a cache: the next job tries again
        pass
