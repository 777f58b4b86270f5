"""Pump-mode jobs under ``distccd --sandbox``: the job's mirror root becomes the compiler's ``/``.

``build`` turns a complete mirror root (daemon/mirror.py) into a ``Layout``: the list of
read-only mounts that daemon/sandbox.py makes inside the job's private mount namespace
before it ``chroot``s into the root.  The compiler then runs the client's own argv, in
the client's working directory, and sees the client's files at the client's paths; so
``__FILE__``, debug info and the ``.d`` name client paths without any prefix map.

What else it sees, read-only (*toolchain binds*, ``PUMP_BINDS`` plus ``--sandbox-bind``
and the compiler's own directories): ``/usr/bin``, ``/usr/lib*``, ``/usr/libexec``,
the ``/lib*`` links, ``/etc/ld.so.cache``, ``/etc/alternatives``.  Not ``/usr/include``,
``/usr/local`` or any other header directory: the only headers found are those the
client shipped.  Three refinements keep that true inside the toolchain binds:

- *overlays*: every include directory of the job that lies inside a toolchain bind (the
  compiler's defaults, e.g. gcc's ``/usr/lib/gcc/<triple>/<ver>/include`` or clang's
  resource ``include``, and the client's ``-I``/``-isystem``/``-iquote``/``-idirafter``
  ones) is covered by the mirror's copy of it (moved to ``<job>/overlays/N``; an empty
  directory if the client shipped nothing there).  An include directory that would hide
  a program or a shared library of the server (it or a directory below it holds an
  executable or a ``*.so*`` file), or that is a toolchain bind itself, refuses the job;
- *delegated links*: the stock include server ships a link climbing out of the root to
  the server's own default include directory (daemon/mirror.py accepts only those): the
  client asks for the server's copy of that directory, so it is bound, read-only, at the
  link's place.  (Protocol 3 never ships files from such directories.)  Absolute link
  targets, re-rooted while the root was built, get the client's target back;
- *no shadowing*: anything else the client shipped at or below a toolchain bind (a
  ``cc1``, a ``.so``), or at ``/dev/null``, or in ``RESERVED``, refuses the job: a
  client's file must never stand in for a program or library of the server.  Client
  files are 0644 and cannot be executed anyway, and ``PATH`` inside keeps only entries
  inside toolchain binds (``LD_PRELOAD`` and ``LD_LIBRARY_PATH`` are unset).

Not covered: a deliberate ``#include`` by absolute path (or climbing out of an overlay)
of a file inside the toolchain binds, such as gcc's ``plugin/include``, still reads it,
as ``.incbin`` of ``/usr/bin/gcc`` would.  No such file is on any search path.

``RESERVED`` (``/.distccd``) is the daemon's corner of the root: ``tmp`` (``TMPDIR``
inside) and ``deps.d`` (the ``.d`` file).

Invariants: everything happens inside the job directory, walking the root without
following links (daemon/mirror.py); nothing is mounted here (the sandbox does that, in
a namespace that dies with the compiler).  Refusals are ``BadName``.

Vocabulary: *client path* is a path inside the root (the compiler's view); *server
path* a path of this machine; a *mount* binds a server path onto a client path.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from common.compiler.job import CompileJob, Meaning
from daemon.mirror import MirrorRoot, is_within
from daemon.names import BadName, normal

# What any sandboxed program needs to be loaded and to find its alternatives' links.
LOADER_BINDS = (
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/alternatives",
)
PUMP_BINDS = (
    "/usr/bin",
    "/usr/libexec",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libx32",
    "/bin",
    *LOADER_BINDS,
)
RESERVED = "/.distccd"
TMP_DIR = RESERVED + "/tmp"
DEP_FILE = RESERVED + "/deps.d"
OVERLAYS = "overlays"
_INCLUDE_MEANINGS = frozenset(
    {
        Meaning.INCLUDE_DIR,
        Meaning.QUOTE_DIR,
        Meaning.SYSTEM_DIR,
        Meaning.AFTER_DIR,
        Meaning.WITH_PREFIX,
        Meaning.WITH_PREFIX_BEFORE,
    }
)


@dataclass(frozen=True)
class Mount:
    source: str  # server path
    target: str  # client path
    writable: bool = False


@dataclass(frozen=True)
class Layout:
    root: str  # the mirror root: the compiler's ``/``
    cwd: str  # client path
    program: str  # server path of the compiler (inside a toolchain bind)
    mounts: tuple[Mount, ...]  # in mounting order
    path: str  # PATH inside


def job_dirs(job: CompileJob, cwd: str) -> tuple[list[str], list[str]]:
    """(include directories, toolchain directories) the job's options name, as absolute
    client paths: ``-I`` & co. (``=dir`` taken as ``dir``; ``-iprefix`` joined with
    ``-iwithprefix``), and ``-B``, ``--gcc-toolchain``, ``-resource-dir``..."""
    include: list[str] = []
    toolchain: list[str] = []
    prefix = ""
    for po in job.options:
        meaning, value = po.spec.meaning, po.value
        if not value:
            continue
        if meaning == Meaning.PREFIX:
            prefix = value
            continue
        if meaning in (Meaning.WITH_PREFIX, Meaning.WITH_PREFIX_BEFORE):
            value = prefix + value
        elif value.startswith("="):
            value = value[1:] or "/"
        if meaning in _INCLUDE_MEANINGS:
            include.append(os.path.normpath(os.path.join(cwd, value)))
        elif meaning == Meaning.TOOLCHAIN:
            toolchain.append(os.path.normpath(os.path.join(cwd, value)))
    return include, toolchain


def build(
    mirror: MirrorRoot,
    job_dir: str,
    cwd: str,
    program: str,
    binds: Sequence[str],
    search_dirs: Iterable[str],
    search_path: str,
    toolchain_dirs: Iterable[str] = (),
) -> Layout:
    """The layout of a complete root; ``program`` is the compiler's server path (found
    by the caller), ``search_dirs`` the job's include directories (the compiler's
    defaults and the client's own), ``toolchain_dirs`` those of ``-B`` & co., which must
    be the server's (gcc reads a ``specs`` file, which can run any program, from a
    ``-B`` directory).  Raises ``BadName`` to refuse the job."""
    root = mirror.root
    binds = _with_compiler(binds, program)
    dir_binds = [b for b in binds if os.path.isdir(b) and not os.path.islink(b)]
    delegated = _fix_links(mirror)
    for _, target in delegated:
        if any(is_within(b, target) for b in binds):
            raise BadName(f"LINK {target} would hide the toolchain at {target}")
    if os.path.lexists(root + RESERVED):
        raise BadName(f"{RESERVED} is reserved for the daemon")
    if os.path.lexists(root + "/etc"):
        # The dynamic loader reads /etc/ld.so.preload, clang its configuration files
        # under /etc: a client's /etc would run its own code in the compiler.
        raise BadName("/etc is shipped: the server's configuration, not the client's")
    mirror.make_dir(TMP_DIR)
    overlays = _overlays(mirror, job_dir, dir_binds, search_dirs, {t for _, t in delegated})
    covers = [m.target for m in overlays] + [t for _, t in delegated]
    for d in toolchain_dirs:
        if not _covered(d, dir_binds) or _covered(d, covers):
            raise BadName(f"{d}: a toolchain option naming the client's files, not the toolchain")
    mounts = [_toolchain_mount(mirror, b) for b in binds]
    mounts.append(_dev_null(mirror))
    extra = [Mount(s, t) for s, t in delegated] + overlays
    extra.sort(key=lambda m: m.target.count("/"))
    for m in extra:
        inside = any(is_within(m.target, b) for b in dir_binds)
        if inside and not os.path.exists(m.target):
            raise BadName(f"{m.target}: no such directory in the toolchain to cover")
    path = ":".join(
        d for d in search_path.split(":") if d.startswith("/") and _covered(d, dir_binds)
    )
    return Layout(
        root,
        cwd,
        program,
        tuple(m for m in mounts if m is not None) + tuple(extra),
        path or os.path.dirname(program),
    )


def _covered(path: str, binds: Iterable[str]) -> bool:
    return any(is_within(path, b) for b in binds)


def _with_compiler(binds: Sequence[str], program: str) -> list[str]:
    """``binds`` that exist here, plus the compiler's directories if not covered."""
    out = [b for b in binds if os.path.lexists(b)]
    for d in (os.path.dirname(program), os.path.dirname(os.path.realpath(program))):
        real = [os.path.realpath(b) for b in out]
        if not _covered(d, out) and not _covered(d, real):
            out.append(d)
    return out


def _fix_links(mirror: MirrorRoot) -> list[tuple[str, str]]:
    """Links as the compiler must see them; returns the delegated ones (server directory,
    client path), each replaced by an empty mount point."""
    root = mirror.root
    delegated = []
    retarget = []
    for link in mirror.links:  # all resolved before any is changed (chains)
        real = os.path.realpath(root + link)
        if not is_within(real, root):
            delegated.append((real, link))
            continue
        target = os.readlink(root + link)
        if is_within(target, root):
            retarget.append((link, target[len(root) :] or "/"))
    for link, target in retarget:
        mirror.set_link(link, target)
    for real, link in delegated:
        mirror.link_to_mount_point(link, os.path.isdir(real))
    return delegated


def _overlays(
    mirror: MirrorRoot,
    job_dir: str,
    dir_binds: Sequence[str],
    search_dirs: Iterable[str],
    delegated: set[str],
) -> list[Mount]:
    candidates = sorted({normal(d, allow_root=True) for d in search_dirs})
    outer: list[str] = []
    for d in candidates:  # sorted: a directory comes before those inside it
        if not any(is_within(d, o) for o in outer) and _covered(d, dir_binds):
            outer.append(d)
    mounts: list[Mount] = []
    for d in outer:
        if d in dir_binds or _hides_toolchain(d):
            raise BadName(f"include directory {d} is part of the toolchain here")
        if any(is_within(d, t) for t in delegated) or not os.path.isdir(d):
            continue  # the server's own copy, or nothing here to hide
        copy = os.path.join(job_dir, OVERLAYS, str(len(mounts)))
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        if not mirror.take_dir(d, copy):
            os.mkdir(copy, 0o755)
        mounts.append(Mount(copy, d))
    return mounts


@functools.lru_cache(maxsize=512)
def _hides_toolchain(directory: str) -> bool:
    """Does ``directory`` (a server path) hold a program or shared library, at any depth?"""
    for top, _dirs, files in os.walk(directory):
        for name in files:
            if ".so" in name and (name.endswith(".so") or ".so." in name):
                return True
            try:
                mode = os.lstat(os.path.join(top, name)).st_mode
            except OSError:
                continue
            if stat.S_ISREG(mode) and mode & 0o111:
                return True
    return False


def _toolchain_mount(mirror: MirrorRoot, bind: str) -> Mount | None:
    """Make room for one toolchain bind (a link is recreated as a link); refuse client
    files there."""
    root = mirror.root
    if os.path.islink(bind):
        target = os.readlink(bind)
        if os.path.lexists(root + bind):
            try:
                same = os.readlink(root + bind) == target
            except OSError:
                same = False
            if not same:
                raise BadName(f"{bind} is shipped where the toolchain is")
            return None
        mirror.make_dir(os.path.dirname(bind))
        os.symlink(target, root + bind)
        return None
    if not os.path.isdir(bind):
        mirror.make_mount_file(bind)
        return Mount(bind, bind)
    try:
        mirror.make_dir(bind)
    except BadName:
        raise BadName(f"{bind} is shipped where the toolchain is") from None
    for top, dirs, files in os.walk(root + bind):
        found = files + [d for d in dirs if os.path.islink(os.path.join(top, d))]
        if found:
            shipped = os.path.join(top, found[0])[len(root) :]
            raise BadName(f"{shipped}: shipped inside the toolchain directory {bind}")
    return Mount(bind, bind)


def _dev_null(mirror: MirrorRoot) -> Mount:
    mirror.make_dir("/dev")
    try:
        mirror.make_mount_file("/dev/null")
    except BadName:
        raise BadName("/dev/null is shipped: reserved for the daemon") from None
    return Mount("/dev/null", "/dev/null", writable=True)
