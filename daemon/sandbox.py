"""``distccd --sandbox``: run each compiler in private user, mount and network namespaces,
chrooted, without capabilities.

How: the compiler's argv is prefixed so that it starts as

    unshare --user --map-root-user --mount --net  /bin/sh -c SCRIPT ...  -- COMPILER ARGS

``SCRIPT`` runs inside the fresh namespaces (util-linux ``unshare``; unprivileged user
namespaces must be allowed, as they are on current Debian/Ubuntu kernels, and no setuid
helper is involved), makes its mounts (each namespace has its own: jobs never see each
other's), ``chroot``s and drops every capability (``setpriv --bounding-set=-all
--no-new-privs``) before ``exec``ing the compiler.  Every step ``exec``s the next, so the
compiler keeps the pid the daemon started, its process group, its exit status and its
death signal.  The network namespace has only a down loopback.  Two layouts:

- pump jobs (protocol 3, native; ``wrap_root``): the job's mirror root *is* the
  compiler's ``/`` (daemon/chroot.py builds the ``Layout``: toolchain directories bound
  read-only, include directories inside them covered by the client's copies, the
  stock include server's links to the server's own system directories bound).  The
  compiler runs the client's argv in the client's cwd and sees the client's paths, so
  objects, ``__FILE__`` and ``.d`` files are a local compile's without any prefix map;
  it sees no header the client did not ship (no ``/usr/include``, no ``/usr/local``);
- plain jobs (protocols 1 and 2, a ``.i`` in a job directory; ``wrap``): a tmpfs on
  ``<TMPDIR>/distccd-sandbox`` holds the toolchain read-only (``/usr`` and the ``/lib*``
  links, ``--sandbox-bind`` directories), the job directory read-write at its own path,
  ``/dev/null`` and a private ``/tmp``; the compiler runs in its job directory as
  without the sandbox, so objects are byte-identical.

Either way it cannot read files of the server outside the toolchain (``.incbin
"/etc/shadow"``, an ``#include`` climbing out of the mirror root), cannot write outside
its job, cannot open a socket, and cannot ``chroot`` back out.

The compiler is looked up here, on the daemon's ``PATH`` (``find``), and started by its
absolute path: one that is not found raises ``CompilerMissing``, which daemon/runner.py
turns into distcc's "failed to exec" line and status 110, as without the sandbox (inside,
``env`` could only say 127); and a ``PATH`` entry inside a pump root could name a
client's file.

Invariants: ``wrap`` and ``wrap_root`` only build an argv (``find`` reads the file
system); in the plain layout the job directory is the first component of the
compiler's working directory below ``tmp_dir`` (a working directory outside ``tmp_dir``
is refused).  ``probe`` is the one place that runs anything: the daemon calls it once at
start, after dropping root, and refuses to start with ``--sandbox`` when it fails,
unless ``--sandbox-optional`` says to run unsandboxed (with a warning).

Vocabulary: *toolchain binds* are the read-only directories; the *mount point* is the
empty directory each plain job's namespace mounts its private root on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.chroot import LOADER_BINDS, PUMP_BINDS, TMP_DIR, Layout
from daemon.runner import CompilerMissing

DEFAULT_BINDS = ("/usr", "/bin", "/sbin", *LOADER_BINDS)
MOUNT_POINT_NAME = "distccd-sandbox"
PROBE_TIMEOUT = 30.0

# $1 mount point, $2 job directory, $3 working directory, then binds up to "--", then the
# command.  A bind that is a symbolic link (/lib -> usr/lib on merged-/usr systems) is
# recreated as that link; one that does not exist is skipped.
SCRIPT = """set -e
R=$1; J=$2; W=$3; shift 3
mount -t tmpfs -o mode=0755 distccd-sandbox "$R"
while [ "$1" != "--" ]; do
  if [ -L "$1" ]; then mkdir -p "$R${1%/*}"; ln -s "$(readlink "$1")" "$R$1"
  elif [ -d "$1" ]; then mkdir -p "$R$1"; mount --rbind -o ro "$1" "$R$1"
  elif [ -e "$1" ]; then mkdir -p "$R${1%/*}"; : > "$R$1"; mount --bind -o ro "$1" "$R$1"
  fi
  shift
done
shift
mkdir -p "$R$J" "$R/dev" "$R/tmp"
mount --bind "$J" "$R$J"
: > "$R/dev/null"
mount --bind /dev/null "$R/dev/null"
exec chroot "$R" setpriv --no-new-privs --bounding-set=-all --inh-caps=-all -- \\
  env --chdir="$W" TMPDIR=/tmp "$@"
"""


# Pump jobs (daemon/chroot.py): $1 the mirror root, $2 the client's cwd, then mounts as
# triples (ro|rw SOURCE TARGET) up to "--", then env's arguments.  The mount points exist
# (made by daemon/chroot.py without following links).
CHROOT_SCRIPT = """set -e
R=$1; W=$2; shift 2
while [ "$1" != "--" ]; do
  if [ "$1" = rw ]; then mount --bind "$2" "$R$3"; else mount --rbind -o ro "$2" "$R$3"; fi
  shift 3
done
shift
exec chroot "$R" setpriv --no-new-privs --bounding-set=-all --inh-caps=-all -- \\
  env --chdir="$W" "$@"
"""


class SandboxError(Exception):
    """The sandbox cannot be used (at start) or a job does not fit it."""


def _covered(path: str, binds: Sequence[str]) -> bool:
    return any(path == b or path.startswith(b.rstrip("/") + "/") for b in binds)


@dataclass(frozen=True)
class Sandbox:
    tmp_dir: str
    binds: tuple[str, ...] = DEFAULT_BINDS
    unshare: str = "unshare"
    pump_binds: tuple[str, ...] = PUMP_BINDS
    search_path: str = "/usr/bin:/bin"  # the daemon's PATH: where compilers are found

    @property
    def mount_point(self) -> str:
        return os.path.join(self.tmp_dir, MOUNT_POINT_NAME)

    def job_dir(self, cwd: str) -> str:
        """The job directory holding ``cwd``: its first component below ``tmp_dir``."""
        top = self.tmp_dir.rstrip("/") + "/"
        if not cwd.startswith(top):
            raise SandboxError(f"{cwd} is not inside {self.tmp_dir}")
        first = cwd[len(top) :].split("/", 1)[0]
        if not first or first in (".", "..", MOUNT_POINT_NAME):
            raise SandboxError(f"{cwd}: no job directory")
        return top + first

    def find(self, program: str) -> str:
        """The server path of ``program`` (on ``search_path`` unless absolute; an absolute
        one missing here is looked for by its base name, as distcc's ``dcc_execvp``).
        Raises ``CompilerMissing``: inside the sandbox ``env`` would only say 127."""
        name = program
        if "/" in program:
            if os.path.isfile(program) and os.access(program, os.X_OK):
                return program
            name = program.rsplit("/", 1)[-1]
        found = shutil.which(name, path=self.search_path) if name else None
        if found is None:
            raise CompilerMissing(program)
        return os.path.abspath(found)

    def wrap(self, argv: list[str], cwd: str) -> list[str]:
        """``argv`` to run in the sandbox, in ``cwd`` (which must be in a job directory)."""
        binds = list(self.binds)
        argv = [self.find(argv[0]), *argv[1:]]
        program = argv[0]
        if program.startswith("/"):
            where = os.path.dirname(program)
            if not _covered(where, binds):
                binds.append(where)
        return [
            *self._in_namespaces(SCRIPT),
            self.mount_point,
            self.job_dir(cwd),
            cwd,
            *binds,
            "--",
            *argv,
        ]

    def _in_namespaces(self, script: str) -> list[str]:
        """The words that run ``script`` (its ``$0`` "distccd-sandbox", its arguments
        to follow) in new user, mount and network namespaces."""
        return [
            self.unshare,
            "--user",
            "--map-root-user",
            "--mount",
            "--net",
            "/bin/sh",
            "-c",
            script,
            "distccd-sandbox",
        ]

    def wrap_root(self, argv: list[str], layout: Layout) -> list[str]:
        """``argv`` (the client's, ``argv[0]`` aside) run chrooted in a pump job's root."""
        mounts: list[str] = []
        for m in layout.mounts:
            mounts += ["rw" if m.writable else "ro", m.source, m.target]
        return [
            *self._in_namespaces(CHROOT_SCRIPT),
            layout.root,
            layout.cwd,
            *mounts,
            "--",
            "-u",
            "LD_PRELOAD",
            "-u",
            "LD_LIBRARY_PATH",
            f"PATH={layout.path}",
            f"TMPDIR={TMP_DIR}",
            layout.program,
            *argv[1:],
        ]

    def prepare(self) -> None:
        """Create the (empty) mount point.  Raises ``OSError``."""
        os.makedirs(self.mount_point, mode=0o755, exist_ok=True)

    def probe(self) -> str | None:
        """Run ``true`` in the sandbox once; None if it works, else why not."""
        try:
            self.prepare()
            job = tempfile.mkdtemp(prefix="distccd_probe", dir=self.tmp_dir)
        except OSError as exc:
            return f"cannot prepare {self.mount_point}: {exc.strerror}"
        try:
            argv = self.wrap(["true"], job)
        except CompilerMissing:
            shutil.rmtree(job, ignore_errors=True)
            return f"cannot find true on {self.search_path}"
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=PROBE_TIMEOUT,
                cwd=job,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"cannot run {self.unshare}: {exc}"
        finally:
            shutil.rmtree(job, ignore_errors=True)
        if done.returncode != 0:
            why = done.stderr.decode(errors="replace").strip().splitlines()
            return (
                "the kernel does not allow user and mount namespaces here"
                f" ({why[-1] if why else f'exit {done.returncode}'})"
            )
        return None
