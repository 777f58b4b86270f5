"""Writing the client's start-up cache (read by ``client.preload``; see client/__init__.py).

The cache holds the compiled code of every module of the ``client`` and ``common`` packages
(and ``__future__``, which they all import), with each source's size and mtime.  The
modules a compile needs before it can start cpp (the closure of ``ROOTS`` over the imports
a module runs at import time) come first, in an order where each follows what it imports,
so that ``preload()`` can run them one after the other; the others are kept marshalled
until a job asks for them.

Only run when a job found no usable cache: imports ``ast`` and compiles ~30 modules
(~50 ms).  Concurrent jobs race harmlessly: one writes a temporary file exclusively and
renames it into place; the others see it taken and leave.
"""

from __future__ import annotations

import ast
import marshal
import os
import sys
import time
from types import CodeType

from client import PRELOAD_FORMAT, _magic

# What client.main imports on the way to a compile, up to starting cpp.
ROOTS = (
    "client.main",
    "client.log",
    "client.invoke",
    "client.proc",
    "client.config",
    "client.compile",
    "client.slots",
    "common.compiler.classify",
    "common.compiler.job",
)
PACKAGES = ("client", "common")
SKIP = frozenset({"client", "client.preload_build"})  # imported before the cache is read
STALE_TMP_SECONDS = 60.0


class Source:
    __slots__ = ("code", "deps", "is_package", "mtime_ns", "name", "origin", "size")

    def __init__(self, name: str, origin: str, is_package: bool) -> None:
        self.name = name
        self.origin = origin
        self.is_package = is_package
        with open(origin, "rb") as f:
            st = os.fstat(f.fileno())
            text = f.read()
        self.mtime_ns = st.st_mtime_ns
        self.size = st.st_size
        tree = ast.parse(text, origin)
        package = name if is_package else name.rpartition(".")[0]
        self.deps = _import_time_imports(tree, package)
        self.code = compile(_without_docstrings(tree), origin, "exec", dont_inherit=True)


def _without_docstrings(tree: ast.Module) -> ast.Module:
    """The module without its docstrings (a third of the code's size, read at every
    start; nothing here reads ``__doc__``).  Line numbers stay those of the source."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                if len(body) == 1:
                    body[0] = ast.copy_location(ast.Pass(), first)
                else:
                    del body[0]
    return tree


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_imports(tree: ast.Module, package: str) -> list[str]:
    """Modules named by the imports that run when the module itself is run: the module
    level, with its if/try/with blocks and class bodies, but not function bodies nor
    ``if TYPE_CHECKING:`` blocks.  For ``from a import b``: ``a`` and ``a.b``."""
    found: list[str] = []

    def absolute(module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        base = package.rsplit(".", level - 1)[0] if level > 1 else package
        return f"{base}.{module}" if module else base

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = absolute(node.module, node.level)
                found.append(base)
                found.extend(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, (ast.With, ast.ClassDef)):
                visit(node.body)

    visit(tree.body)
    return found


def collect(root_dir: str) -> dict[str, Source]:
    """Every module of ``PACKAGES`` under ``root_dir`` (the directory holding them)."""
    sources: dict[str, Source] = {}
    for package in PACKAGES:
        top = os.path.join(root_dir, package)
        for directory, dirs, files in os.walk(top):
            dirs[:] = sorted(
                d for d in dirs if os.path.isfile(os.path.join(directory, d, "__init__.py"))
            )
            rel = os.path.relpath(directory, root_dir).replace(os.sep, ".")
            for file in sorted(files):
                if not file.endswith(".py"):
                    continue
                stem = file[:-3]
                is_package = stem == "__init__"
                name = rel if is_package else f"{rel}.{stem}"
                if name not in SKIP:
                    sources[name] = Source(name, os.path.join(directory, file), is_package)
    import __future__

    future = __future__.__file__
    if future:
        sources["__future__"] = Source("__future__", future, False)
    return sources


def eager_order(sources: dict[str, Source], roots: tuple[str, ...] = ROOTS) -> list[str]:
    """The closure of ``roots``, each module after its parents and what it imports."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done

    def visit(name: str) -> None:
        if name not in sources or state.get(name):
            return  # not ours, done, or a cycle (the import system copes at run time)
        state[name] = 1
        parent = name.rpartition(".")[0]
        if parent:
            visit(parent)
        for dep in sources[name].deps:
            visit(dep)
        state[name] = 2
        order.append(name)

    for root in roots:
        visit(root)
    return order


def build(path: str, root_dir: str = "") -> bool:
    """Write the cache at ``path`` (atomically) for the packages under ``root_dir`` (by
    default, where this one is installed); False when it was not written."""
    root_dir = os.path.realpath(root_dir or os.path.dirname(os.path.dirname(__file__)))
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return False
    if not os.access(directory, os.W_OK):
        return False
    tmp = path + ".tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            if time.time() - os.stat(tmp).st_mtime < STALE_TMP_SECONDS:
                return False  # another job is writing it
            os.unlink(tmp)  # left by a job that died
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError:
            return False
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(marshal.dumps(_contents(root_dir)))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


def _contents(
    root_dir: str,
) -> tuple[int, bytes, tuple[str, ...], dict[str, tuple[str, bool, int, int, CodeType | bytes]]]:
    sources = collect(root_dir)
    eager = eager_order(sources)
    first = set(eager)
    table = {
        name: (
            s.origin,
            s.is_package,
            s.mtime_ns,
            s.size,
            s.code if name in first else marshal.dumps(s.code),
        )
        for name, s in sources.items()
    }
    return (PRELOAD_FORMAT, _magic(), tuple(eager), table)


if __name__ == "__main__":  # python -m client.preload_build: write it now (packaging, bench)
    from client import preload_path

    sys.exit(0 if build(preload_path()) else 1)
