"""Preprocessing without the compiler driver: run gcc's ``cc1 -E`` exactly as gcc would.

``gcc -E x.c -o x.i`` is a driver process that works out one command (``cc1 -E ...`` with
options it adds: ``-imultiarch``, ``-mtune``, ``-dumpbase``...) and an environment
(``COLLECT_GCC``, ``COLLECT_GCC_OPTIONS``...), runs it and waits.  The driver's own start
is ~1 ms of a small plain-mode job's critical path, and it does the same translation for
every file of a build.  So the client records the translation once per *shape* of cpp
command and, from then on, runs cc1 itself with the very argv and environment the driver
would have given it.

How a translation is recorded: the driver is run with ``-wrapper`` (gcc runs every
subcommand under a wrapper program) whose program writes its argv and environment to a
file and exits; the words that differ between jobs (the source, the ``.i`` name, the
``-MF`` temp, ``-MT``/``-MQ`` targets) are given marker values, so the template says where
each lands, derived strings included (``-dumpbase distcc_<stem>.c``).  This runs after
the ``.i`` is sent, in the shadow of the remote compile, and only for a shape seen once
before (a shape that never repeats costs one small file write).

When a job can use a recorded translation (``direct()``): same driver (path, size, mtime,
inode), same shape, same source suffix, same temp directory, same values of the
environment variables the driver reads; cc1 unchanged since.  Commands this does not
handle keep the driver: anything with ``-B``, specs, ``-wrapper``, ``-save-temps``,
``-Wp,`` or a response file; ``DEPENDENCIES_OUTPUT``/``SUNPRO_DEPENDENCIES``/
``GCC_COMPARE_DEBUG`` set; a variable word holding a quote or backslash; a driver that
runs anything other than exactly one ``cc1*`` (clang has no ``-wrapper``: recorded as
not translatable).  A cpp failure either way means the command is rerun locally as
written (client/compile.py), so diagnostics never depend on this.

The translations live in ``$DISTCC_DIR/cpp-direct`` (one marshal file, at most
``MAX_ENTRIES`` shapes, replaced atomically; a lost race only costs a re-recording).
"""

from __future__ import annotations

import marshal
import os
import sys

from client import dep_file_for
from client.proc import held_signals, spawn, wait, which
from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from client.proc import TempFiles

FORMAT = 1
MAX_ENTRIES = 256
MAX_SEEN = 32
FILE_NAME = "cpp-direct"
SEEN = 0  # table value: shape seen once, not recorded yet
UNSUPPORTED = 1  # table value: the driver's translation cannot be used
RETRY = ()  # _translation: not from this job's source name, maybe from another's

# What varies between the jobs of one shape; markers stand for them while recording.
OUT_MARK = "dIsTcCoUt"
VALUE_OPTIONS = ("-MF", "-MT", "-MQ")
SRC = "\0src"

REFUSED_PREFIXES = (
    "-B",
    "-specs",
    "--specs",
    "-wrapper",
    "-save-temps",
    "--save-temps",
    "-no-integrated-cpp",
    "-Wp,",
    "-Xpreprocessor",
    "-###",
    "-v",
    "--verbose",
    "-fcompare-debug",
    "-print",
    "--print",
    "-dump",
    "-time",
    "@",
)
REFUSED_ENV = ("DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES", "GCC_COMPARE_DEBUG")
# Read by the driver when it works out commands (not by cc1, which sees the real values).
DRIVER_ENV = ("GCC_EXEC_PREFIX", "COMPILER_PATH", "LIBRARY_PATH", "GCC_ROOT", "LANG", "LC_ALL")
RECORD_VAR = "DISTCC_CPP_RECORD"
ENV_VAR = "DISTCC_CPP_RECORD_ENV"
# The wrapper: one record per subcommand (its argv, then END), and the environment as the
# subcommand got it (/proc/self/environ, untouched: a shell would add PWD and drop names
# it cannot hold).  Python -S, so that no comma appears in gcc's "-wrapper a,b,c".
END = "\x01distcc-end"
_RECORDER_CODE = f"""
import os
import sys
with open(os.environ["{RECORD_VAR}"], "ab") as f:
    f.write(b"".join(os.fsencode(a) + b"\\0" for a in [*sys.argv[1:], "{END}"]))
with open("/proc/self/environ", "rb") as e:
    data = e.read()
with open(os.environ["{ENV_VAR}"], "wb") as f:
    f.write(data)
"""


def _recorder() -> str:
    code = _RECORDER_CODE.encode().hex()
    return f"{sys.executable},-S,-E,-c,exec(bytes.fromhex('{code}').decode())"


class Shape:
    """A cpp command split into what is fixed and what varies."""

    __slots__ = ("key", "marked", "values")

    def __init__(self, key: tuple[object, ...], values: dict[str, str], marked: list[str]):
        self.key = key
        self.values = values  # marker -> this job's value
        self.marked = marked  # the argv with markers in place of the variable words


def _plain(value: str) -> bool:
    return "'" not in value and "\\" not in value and "\0" not in value


def shape_of(argv: list[str], env: dict[str, str], source: str, driver: str) -> Shape | None:
    """The shape of ``argv`` (a ``-E ... -o OUT`` command), or None if not handled."""
    for var in REFUSED_ENV:
        if env.get(var):
            return None
    values: dict[str, str] = {}
    marked: list[str] = []
    shape: list[str] = []
    source_at = -1
    out = ""
    i = 0
    while i < len(argv):
        word = argv[i]
        if i and word.startswith(REFUSED_PREFIXES):
            return None
        if word == "-o" or word in VALUE_OPTIONS:
            if i + 1 >= len(argv) or not _plain(argv[i + 1]):
                return None
            value = argv[i + 1]
            if word == "-o":
                if out:
                    return None
                out = value
                stem = value.rpartition("/")[2].rpartition(".")[0]
                if not stem or not stem.replace("_", "").isalnum():
                    return None
                values[OUT_MARK] = stem
                mark = value[: len(value) - len(value.rpartition("/")[2])] + OUT_MARK
                mark += value[len(value.rpartition(".")[0]) :]
                shape.extend((word, "\0out"))
            else:
                mark = f"dIsTcCv{len(values)}x"
                values[mark] = value
                shape.extend((word, "\0" + word))
            marked.extend((word, mark))
            i += 2
            continue
        if i and word == source:
            if source_at >= 0:
                return None
            source_at = i
            shape.append(SRC)
        else:
            joined = (word.startswith(VALUE_OPTIONS) and len(word) > 3) or (
                word.startswith("-o") and len(word) > 2
            )
            if joined:
                return None  # joined forms: not worth a shape of their own
            shape.append(word)
        marked.append(word)
        i += 1
    if source_at < 0 or not out or not _plain(source):
        return None
    values[SRC] = source
    # Only gcc's own driver: a wrapper script or program in its place (ccache, icecc, a
    # site's gcc script) may read anything, which no key could cover.
    real = os.path.realpath(driver)
    name = real.rpartition("/")[2]
    if not ("gcc" in name or "g++" in name or name in ("cc", "c++")):
        return None
    try:
        with open(real, "rb") as f:
            if f.read(4) != b"\x7fELF":
                return None
            st = os.fstat(f.fileno())
    except OSError:
        return None
    suffix = source.rpartition(".")[2] if "." in source.rpartition("/")[2] else ""
    key = (
        FORMAT,
        real,
        st.st_size,
        st.st_mtime_ns,
        st.st_ino,
        tuple(shape),
        suffix,
        out.rpartition("/")[0],
        tuple(env.get(var) for var in DRIVER_ENV),
    )
    return Shape(key, values, marked)


class Table:
    """The recorded translations (``$DISTCC_DIR/cpp-direct``)."""

    def __init__(self, distcc_dir: str | None) -> None:
        self.path = os.path.join(distcc_dir, FILE_NAME) if distcc_dir else ""
        self.entries: dict[tuple[object, ...], object] = {}
        if self.path:
            try:
                with open(self.path, "rb") as f:
                    if not own_file(f.fileno()):
                        return
                    loaded = marshal.loads(f.read())
                if isinstance(loaded, dict):
                    self.entries = loaded
            except (OSError, ValueError, EOFError, TypeError):
                pass

    def save(self, key: tuple[object, ...], value: object) -> None:
        if not self.path:
            return
        if len(self.entries) >= MAX_ENTRIES:
            self.entries = {}
        self.entries[key] = value
        _write_private(self.path, self.entries)


def _write_private(path: str, value: object) -> None:
    """``path`` := ``value`` marshalled, mode 0600 (``own_file``), replaced atomically;
    best effort (a lost write only costs a re-recording)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(marshal.dumps(value))  # type: ignore[arg-type]
        os.replace(tmp, path)
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def own_file(fd: int) -> bool:
    """Is this ours alone (owner us, nobody else may write)?  The tables name programs that
    the client runs: one planted in a shared DISTCC_DIR must not be trusted."""
    st = os.fstat(fd)
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def direct(
    table: Table, shape: Shape, env: dict[str, str]
) -> tuple[list[str], dict[str, str]] | None:
    """cc1's argv and environment for this job, if its shape has a usable translation."""
    entry = table.entries.get(shape.key)
    if not isinstance(entry, tuple):
        return None
    cc1, size, mtime_ns, argv, added, removed = entry
    try:
        st = os.stat(cc1)
    except OSError:
        return None
    if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
        return None
    values = shape.values
    out_argv = [values[SRC] if word == SRC else _fill(word, values) for word in argv]
    out_env = {k: v for k, v in env.items() if k not in removed}
    for k, v in added.items():
        out_env[k] = _fill(v, values)
    return out_argv, out_env


def _fill(text: str, values: dict[str, str]) -> str:
    if "dIsTcC" not in text:
        return text
    for mark, value in values.items():
        text = text.replace(mark, value)
    return text


def note_seen(table: Table, shape: Shape) -> bool:
    """Count a sighting of a shape with no translation; True if it is to be recorded now
    (the second sighting)."""
    entry = table.entries.get(shape.key)
    if entry is None:
        # Shapes seen once are forgotten in bulk past MAX_SEEN: a build whose every command
        # differs (a per-file -D) keeps the table small, so reading and writing it stays
        # cheap, and loses nothing it could have used.
        if sum(1 for value in table.entries.values() if value == SEEN) >= MAX_SEEN:
            table.entries = {k: v for k, v in table.entries.items() if v != SEEN}
        table.save(shape.key, SEEN)
        return False
    return entry == SEEN


def record(table: Table, shape: Shape, env: dict[str, str], tmp: TempFiles) -> None:
    """Run the driver under the recording wrapper and store the translation (or that
    there is none).  Best effort: any failure just leaves the driver in use.  The two
    record files are ``tmp``'s (private, random names, removed on a signal too)."""
    if "," in sys.executable:
        return  # gcc splits -wrapper at commas: this interpreter cannot be the wrapper
    record_path, fd = tmp.create("distcc_cpprec_", "")
    os.close(fd)
    env_path, fd = tmp.create("distcc_cpprec_", ".env")
    os.close(fd)
    argv = [*shape.marked, "-wrapper", _recorder()]
    quiet = -1
    try:
        try:
            quiet = os.open(os.devnull, os.O_WRONLY)
            run_env = {**env, RECORD_VAR: record_path, ENV_VAR: env_path}
            with held_signals():
                pid = spawn(argv, run_env, stdout_fd=quiet, stderr_fd=quiet)
                tmp.children.append(pid)
            status = wait(pid)
            tmp.children.remove(pid)
            with open(record_path, "rb") as f:
                commands = f.read().decode("utf-8", "surrogateescape")
            with open(env_path, "rb") as f:
                environ = f.read().decode("utf-8", "surrogateescape")
        except OSError:
            return
        if not environ:
            status = status or 1  # nothing ran under the wrapper (clang: no -wrapper)
        entry = _translation(status, commands, environ, env, shape.values[SRC])
        if entry != RETRY:
            table.save(shape.key, entry if entry is not None else UNSUPPORTED)
    finally:
        if quiet >= 0:
            os.close(quiet)
        for path in (record_path, env_path):
            try:
                os.unlink(path)
            except OSError:
                pass
            tmp.forget(path)


def _translation(
    status: int,
    commands: str,
    environ: str,
    env: dict[str, str],
    source: str,
) -> tuple[object, ...] | None:
    """The stored form of one recorded translation; None if there is none to use, RETRY
    if this recording cannot tell."""
    if status != 0:
        return None
    records = commands.split("\0" + END + "\0")
    if len(records) != 2 or records[1]:
        return None  # not exactly one subcommand
    argv = records[0].split("\0")
    program = argv[0]
    if not program.startswith("/") or not program.rpartition("/")[2].startswith("cc1"):
        return None
    if argv.count(source) != 1:
        return RETRY
    argv = [SRC if w == source else w for w in argv]
    recorded: dict[str, str] = {}
    for item in environ.split("\0"):
        name, eq, value = item.partition("=")
        if eq:
            recorded[name] = value
    recorded.pop(RECORD_VAR, None)
    recorded.pop(ENV_VAR, None)
    # What the driver set: what changed, and its own variables even when the client's
    # environment happened to hold the same values (a later job's may not).
    added = {
        k: v
        for k, v in recorded.items()
        if env.get(k) != v or k.startswith(("COLLECT_", "OFFLOAD_"))
    }
    removed = tuple(k for k in env if k not in recorded)
    for text in (*argv, *added.values()):
        if source in text and text != SRC:
            return RETRY  # this source's name shows inside another word: try with another
    try:
        st = os.stat(program)
    except OSError:
        return None
    return (program, st.st_size, st.st_mtime_ns, argv, added, removed)


def resolve_driver(name: str, env: dict[str, str]) -> str | None:
    return which(name, env.get("PATH", os.defpath))


def make_plan(
    raw_argv: list[str],
    shape: Shape,
    entry: tuple[object, ...],
    dep_path: str | None,
    dep_temp: str,
    i_path: str,
) -> tuple[object, ...] | None:
    """The speculation plan of a job that ran cc1 directly (see client/__init__.py):
    where each variable of the translation comes from in the client's own argv; None
    when one of them cannot be found there."""
    used: set[int] = set()

    def position(value: str, derive: Callable[[str], str] = str, after: str = "") -> int:
        found = [k for k in range(1, len(raw_argv)) if derive(raw_argv[k]) == value]
        if len(found) > 1:  # "-MT x.o ... -o x.o": the word after an option of cpp's;
            # "-MD -c x.c -o x.o": x.d comes from the object's name
            found = [k for k in found if raw_argv[k - 1] in ((after,) if after else VALUE_OPTIONS)]
        return found[0] if len(found) == 1 else -1

    variables: list[tuple[str, str, int]] = []
    for mark, value in shape.values.items():
        if mark == OUT_MARK:
            variables.append((mark, "itemp", -1))
            continue
        if dep_temp and value == dep_temp and dep_path:
            k = position(dep_path)
            how = "deptemp-word"
            if k < 0:
                k = position(dep_path, dep_file_for, after="-o")
                how = "deptemp-dsfx"
        else:
            k = position(value)
            how = "word"
        if k < 0:
            return None
        used.add(k)
        variables.append((mark, how, k))
    # The object's name changes with every job; when cpp's command depends on it, that is
    # through a variable above.  (A wrong guess is caught when the job adopts the cc1.)
    used.update(k + 1 for k in range(1, len(raw_argv) - 1) if raw_argv[k] == "-o")
    fixed = tuple(None if i in used else w for i, w in enumerate(raw_argv))
    cc1, size, mtime_ns, argv, added, removed = entry
    tmpdir, _, name = i_path.rpartition("/")
    suffix = name[name.rfind(".") :]
    return (fixed, tuple(variables), cc1, size, mtime_ns, argv, added, removed, tmpdir, suffix)


def save_plan(distcc_dir: str, plan: tuple[object, ...]) -> None:
    """Add ``plan`` to ``$DISTCC_DIR/cpp-fast`` unless it is there already."""
    from client import FAST_FILE, FAST_FORMAT

    path = os.path.join(distcc_dir, FAST_FILE)
    plans: dict[int, list[tuple[object, ...]]] = {}
    try:
        with open(path, "rb") as f:
            version, loaded = marshal.loads(f.read()) if own_file(f.fileno()) else (0, None)
        if version == FAST_FORMAT and isinstance(loaded, dict):
            plans = loaded
    except (OSError, ValueError, EOFError, TypeError):
        pass
    fixed = plan[0]
    assert isinstance(fixed, tuple)
    same_length = plans.setdefault(len(fixed), [])
    if plan in same_length:
        return
    same_length[:] = [p for p in same_length if p[0] != fixed][: MAX_ENTRIES - 1]
    same_length.insert(0, plan)
    if sum(len(v) for v in plans.values()) > MAX_ENTRIES:
        plans = {len(fixed): [plan]}
    _write_private(path, (FAST_FORMAT, plans))
