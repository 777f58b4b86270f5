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
import posix  # not os: importing os costs ~0.7 ms, and speculate() runs before it
import sys

TYPE_CHECKING = False  # as common.values: no import of typing on the hot path
if TYPE_CHECKING:
    from types import CodeType
    from typing import Any

OURS = ("client", "common")  # the packages in the cache (plus __future__, from the stdlib)
# Bumped when the layout of the cache file changes.
PRELOAD_FORMAT = 1

_state: dict[str, object] = {"rebuild": False}


def preload_path() -> str:
    """Where the start-up cache of this interpreter lives."""
    tag = sys.implementation.cache_tag or "none"
    return f"{_dirname(__file__)}/__pycache__/preload.{tag}.bin"


def _dirname(path: str) -> str:
    return path.rpartition("/")[0] or "."


def _magic() -> bytes:
    # The byte-code magic of this interpreter, without importing importlib.util.
    external = sys.modules.get("_frozen_importlib_external")
    return bytes(getattr(external, "MAGIC_NUMBER", b""))


def _root() -> str:
    """The directory holding this package (and ``common``), as a real path (the cache's
    origins are real paths too, however the package was reached), with a slash."""
    import os  # loaded right after anyway; speculate() has run by now

    return os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + "/"


def _fresh(origin: str, mtime_ns: int, size: int, root: str = "") -> bool:
    """The cached code of ``origin`` is that of the file there now.  With ``root``, the
    file must also be one of this tree's (a copied tree's cache names the original's)."""
    if root and not origin.startswith(root):
        return False
    try:
        st = posix.stat(origin)
    except OSError:
        return False
    return st.st_mtime_ns == mtime_ns and st.st_size == size


class _Finder:
    """Serves the cached modules that were not run up front (and any that a module runs
    before its turn), through the ordinary import protocol."""

    def __init__(self, table: dict[str, tuple[str, bool, int, int, object]], root: str) -> None:
        self.table = table
        self.root = root

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        entry = self.table.get(name)
        if entry is None or name in sys.modules:
            return None
        origin, is_package, mtime_ns, size, _ = entry
        if not _fresh(origin, mtime_ns, size, self.root if "." in name or name in OURS else ""):
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
        spec.submodule_search_locations = [_dirname(origin)]
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
    root = _root()
    for name in eager:
        origin, _, mtime_ns, size, _ = table[name]
        if not _fresh(origin, mtime_ns, size, root if "." in name or name in OURS else ""):
            _state["rebuild"] = True
            return
    finder = _Finder(table, root)
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
            module.__path__ = [_dirname(origin)]
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
    import os

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


# ----------------------------------------------------------------------------- speculation
#
# The client can only start cpp once its modules are loaded, the command classified and a
# host slot held: ~3 ms of Python after the interpreter's own start.  When a command of the
# same shape was preprocessed by cc1 directly before (client/directcpp.py), the plan that
# produced that cc1 command is kept (``$DISTCC_DIR/cpp-fast``) and ``speculate()``, run by
# the launcher before anything else is imported, starts the same cc1 at once, with the
# temporary files the job will use.  The job then works out its cpp command as usual and
# adopts the running cc1 only if its command and environment are exactly that one
# (``take_speculation``, client/compile.py); otherwise the speculative cc1 is killed and
# its files removed.  So a wrong guess costs a little CPU and never an output.
#
# Only for ``distcc COMPILER ...`` with DISTCC_HOSTS set to hosts that neither include
# ``localhost`` (the job may stay here) nor pump hosts (no local cpp at all), and no
# ``_DISTCC_SAFEGUARD`` (a nested call).  Locks are untouched: the job takes its host slot
# and then its cpp slot as always, and only then adopts the cc1 it started.

FAST_FORMAT = 1
FAST_FILE = "cpp-fast"

_speculation: "dict[str, Any] | None" = None


def _fast_table_path(env: dict[bytes, bytes]) -> bytes | None:
    distcc_dir = env.get(b"DISTCC_DIR")
    if not distcc_dir:
        home = env.get(b"HOME")
        if not home:
            return None
        distcc_dir = home + b"/.distcc"
    return distcc_dir + b"/" + FAST_FILE.encode()


def _temp(directory: str, name: str) -> tuple[str, int]:
    """Create ``directory/name`` (O_EXCL, 0600) and return (path, fd)."""
    path = f"{directory}/{name}" if directory else name
    fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC, 0o600)
    return path, fd


def speculate() -> None:
    """Start the cc1 of this command's plan, if there is one (see above).  Never fails."""
    argv = sys.argv
    env = posix.environ
    if len(argv) < 3 or argv[0].rpartition("/")[2] != "distcc" or b"_DISTCC_SAFEGUARD" in env:
        return
    hosts = env.get(b"DISTCC_HOSTS", b"")
    if not hosts.strip() or b"localhost" in hosts or b",cpp" in hosts:
        return
    path = _fast_table_path(env)
    if path is None:
        return
    try:
        with open(path, "rb") as f:
            st = posix.fstat(f.fileno())
            if st.st_uid != posix.getuid() or st.st_mode & 0o022:
                return  # not ours alone: it names a program to run (client/directcpp.py)
            version, plans = marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        return
    if version != FAST_FORMAT:
        return
    for plan in plans.get(len(argv), ()):
        fixed = plan[0]
        if all(word is None or word == argv[i] for i, word in enumerate(fixed)):
            break
    else:
        return
    import _signal

    _guard_signals()  # before the first file exists
    held = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
    old_mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, held)
    try:  # files and child exist only once recorded in _speculation (signals wait)
        _start(plan, argv, env)
    except (OSError, ValueError, TypeError, IndexError, KeyError):
        drop_speculation()
    finally:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, old_mask)


def dep_file_for(output: str) -> str:
    """``dir/x.o`` -> ``dir/x.d``: the dependency file gcc's ``-MD`` names after ``-o``."""
    base = output.rpartition("/")[2]
    dot = base.rfind(".")
    return (output[: len(output) - len(base) + dot] if dot > 0 else output) + ".d"


def _start(plan: "tuple[Any, ...]", argv: list[str], env: dict[bytes, bytes]) -> None:
    global _speculation
    _, variables, cc1, size, mtime_ns, template, added, removed, tmpdir, suffix = plan
    st = posix.stat(cc1)
    if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
        return
    pid = posix.getpid()
    token = posix.urandom(4).hex()
    files: list[str] = []
    _speculation = {"files": files, "pid": 0}
    values: dict[str, str] = {}
    stem = f"distcc_{pid:x}s{token}"
    i_path, fd = _temp(tmpdir, stem + suffix)
    posix.close(fd)
    files.append(i_path)
    dep_temp = ""
    for mark, how, index in variables:
        if how == "itemp":
            values[mark] = stem
        elif how == "word":
            values[mark] = argv[index]
        else:  # a dependency file's temp, beside DEP: "deptemp-word" or "deptemp-dsfx"
            dep = argv[index] if how == "deptemp-word" else dep_file_for(argv[index])
            directory, _, base = dep.rpartition("/")
            dep_temp, fd = _temp(directory, f".{base}.distcc-{pid:x}s{token}.tmp")
            posix.close(fd)
            files.append(dep_temp)
            values[mark] = dep_temp
    err_path, err_fd = _temp(tmpdir, f"distcc_cpp_stderr_{pid:x}s{token}.txt")
    files.append(err_path)
    cc1_argv = []
    for word in template:
        if word in values:
            word = values[word]
        elif "dIsTcC" in word:
            for mark, value in values.items():
                word = word.replace(mark, value)
        cc1_argv.append(word)
    gone = {name.encode("utf-8", "surrogateescape") for name in removed}
    cc1_env = {k: v for k, v in env.items() if k not in gone}
    cc1_env[b"_DISTCC_SAFEGUARD"] = b"1"  # as client.invoke gives every child
    for name, value in added.items():
        for mark, v in values.items():
            value = value.replace(mark, v)
        cc1_env[name.encode("utf-8", "surrogateescape")] = value.encode("utf-8", "surrogateescape")
    actions = [
        (posix.POSIX_SPAWN_OPEN, 0, "/dev/null", posix.O_RDONLY, 0),
        (posix.POSIX_SPAWN_DUP2, err_fd, 2),
    ]
    try:  # the child starts with no signal blocked
        child = posix.posix_spawn(cc1, cc1_argv, cc1_env, file_actions=actions, setsigmask=())
    finally:
        posix.close(err_fd)
    _speculation.update(
        pid=child,
        argv=cc1_argv,
        env=cc1_env,
        i_path=i_path,
        dep_temp=dep_temp,
        err_path=err_path,
    )


def _guard_signals() -> None:
    """Until the job installs its own handlers (client/proc.py, which then owns the
    speculation's process and files), a SIGINT/SIGTERM/SIGHUP removes them too."""
    import _signal

    def handler(signum: int, frame: object) -> None:
        drop_speculation()
        _signal.signal(signum, _signal.SIG_DFL)
        posix.kill(posix.getpid(), signum)

    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        if _signal.getsignal(sig) != _signal.SIG_IGN:
            _signal.signal(sig, handler)


def speculation() -> "dict[str, Any] | None":
    """The speculative cc1 (pid, argv, env, i_path, dep_temp, err_path, files), if any."""
    return _speculation if _speculation and _speculation.get("pid") else None


def speculation_files() -> list[str]:
    """Temporary files the speculation created (for the job's cleanup registry)."""
    files = _speculation.get("files") if _speculation else None
    return list(files) if isinstance(files, list) else []


def take_speculation() -> "dict[str, Any] | None":
    """Hand the speculation to the job (which now owns its pid and files)."""
    global _speculation
    taken = speculation()
    _speculation = None
    return taken


def discard(spec: "dict[str, Any]") -> None:
    """Kill a speculation's cc1 (if it was started) and remove its files."""
    pid = spec.get("pid")
    if isinstance(pid, int) and pid > 0:
        try:
            posix.kill(pid, 9)
            posix.waitpid(pid, 0)
        except OSError:
            pass
    for path in spec.get("files") or ():
        try:
            posix.unlink(path)
        except OSError:
            pass


def drop_speculation() -> None:
    """Kill and clean up a speculation nobody adopted (a signal, a failed start, the end
    of a job that never took it)."""
    global _speculation
    spec, _speculation = _speculation, None
    if spec:
        discard(spec)
