"""The mirror root: a private directory standing for the client's ``/``.

Every shipped file lands at ``root + <client absolute path>``; the client's symlinks are
recreated (an absolute target is re-rooted, a relative one kept); directories that must
exist are made.  The compiler then runs in ``root + <client cwd>`` with every absolute
path of its command line re-rooted (daemon/reroot.py), so it sees the client's tree.

Invariants (the daemon's promise never to write outside a job's directory):

- names are checked by daemon/names.py before use;
- parent directories are created and walked one component at a time with
  ``O_NOFOLLOW | O_DIRECTORY`` on directory file descriptors, so building the root never
  traverses a symlink, whatever order entries come in: a name below a link is refused;
- files are created with ``O_EXCL | O_NOFOLLOW`` (an existing regular file is replaced,
  as distcc does; a link or directory in the way is refused);
- a link whose target leaves the root is refused unless ``allowed(server_path)`` says
  yes (the stock include server's links to the server's own system directories);
- ``verify_links`` re-checks every link with ``realpath`` once the root is complete, so
  chains of links (``a -> b/..``, ``b -> /``) cannot escape either.

Under ``distccd --sandbox`` the root then becomes the compiler's ``/`` (daemon/chroot.py,
with the few methods below "sandbox layout" that walk it the same way).

Vocabulary: *client path* is a path in the client's namespace; *server path* is where it
is on this machine (``root + client path``).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from daemon.names import BadName, Escapes, check_target, components, normal, resolve_relative

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def is_within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


class MirrorRoot:
    def __init__(self, root: str, allowed: Callable[[str], bool]) -> None:
        """``root`` must exist; ``allowed(server_path)`` judges links that leave it."""
        self.root = root.rstrip("/")
        self.allowed = allowed
        self.links: list[str] = []  # client paths of the links made
        self.files = 0

    def server_path(self, client_path: str) -> str:
        return self.root + normal(client_path, allow_root=True)

    # ------------------------------------------------------------------ directories

    def _walk(self, parts: list[str], create: bool) -> int:
        """An fd of ``root/parts...``, creating missing directories if ``create``."""
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for part in parts:
                if create:
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                try:
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise BadName(f"{'/'.join(parts)}: {part} is not a directory") from None
                    raise
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    def make_dir(self, client_path: str) -> str:
        """Create a directory (and its parents); returns its server path."""
        parts = components(client_path, "directory", allow_root=True)
        os.close(self._walk(parts, create=True))
        return self.root + "/" + "/".join(parts) if parts else self.root

    def make_output_dir(self, client_dir: str) -> str:
        """The directory an output goes to; it must resolve inside the root.

        Unlike ``make_dir``, crossing a link that stays inside the root is fine here (the
        client's output directory may be under one of its mirrored links).
        """
        try:
            return self.make_dir(client_dir)
        except BadName:
            pass
        real = os.path.realpath(self.server_path(client_dir))
        if not is_within(real, self.root):
            raise BadName(f"output directory {client_dir} leaves the job's root") from None
        os.makedirs(real, exist_ok=True)
        if not is_within(os.path.realpath(real), self.root):
            raise BadName(f"output directory {client_dir} leaves the job's root")
        return real

    # ------------------------------------------------------------------ entries

    def _parent(self, client_path: str) -> tuple[int, str]:
        parts = components(client_path)
        return self._walk(parts[:-1], create=True), parts[-1]

    def _clear(self, fd: int, name: str) -> None:
        """Make room for a regular file: replace a file, refuse anything else."""
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        import stat

        if not stat.S_ISREG(st.st_mode):
            raise BadName(f"{name} already exists and is not a regular file")
        os.unlink(name, dir_fd=fd)

    def write_file(self, client_path: str, data: bytes) -> None:
        fd, name = self._parent(client_path)
        try:
            self._clear(fd, name)
            out = os.open(name, _FILE_FLAGS, 0o644, dir_fd=fd)
            with os.fdopen(out, "wb") as f:
                f.write(data)
        finally:
            os.close(fd)
        self.files += 1

    def link_file(self, client_path: str, source: str) -> None:
        """Hard-link ``source`` (a file of the content store) at ``client_path``."""
        fd, name = self._parent(client_path)
        try:
            self._clear(fd, name)
            os.link(source, name, dst_dir_fd=fd, follow_symlinks=False)
        finally:
            os.close(fd)
        self.files += 1

    def symlink_outside(self, client_path: str, server_target: str) -> None:
        """A link to a file of this server outside the root (a system header whose digest
        matched the client's): the caller vouches for ``server_target``."""
        fd, name = self._parent(client_path)
        try:
            self._clear(fd, name)
            os.symlink(server_target, name, dir_fd=fd)
        finally:
            os.close(fd)
        self.files += 1

    def add_link(self, client_path: str, target: str) -> None:
        """Recreate a client symlink (``LINK``)."""
        check_target(target)
        if target.startswith("/"):
            actual = self.root + normal(target, "LINK target", allow_root=True)
        else:
            where = resolve_relative(self.root, client_path, target)
            if isinstance(where, Escapes) and not self.allowed(where.server_path):
                raise BadName(
                    f"LINK {client_path} -> {target} leaves the root for {where.server_path},"
                    " which is not one of this server's system include directories"
                )
            actual = target
        fd, name = self._parent(client_path)
        try:
            try:
                os.symlink(actual, name, dir_fd=fd)
            except FileExistsError:
                try:
                    same = os.readlink(name, dir_fd=fd) == actual
                except OSError:
                    same = False
                if not same:
                    raise BadName(f"LINK {client_path}: something else is there") from None
        finally:
            os.close(fd)
        self.links.append(normal(client_path))

    # ------------------------------------------------------------------ sandbox layout
    # (daemon/chroot.py: the root becomes the compiler's ``/``; every step walks without
    # following links, like the entries above.)

    def set_link(self, client_path: str, target: str) -> None:
        """Replace the link at ``client_path`` by one to ``target`` (taken as is)."""
        fd, name = self._parent(client_path)
        try:
            os.unlink(name, dir_fd=fd)
            os.symlink(target, name, dir_fd=fd)
        finally:
            os.close(fd)

    def link_to_mount_point(self, client_path: str, directory: bool) -> None:
        """Replace the link at ``client_path`` by an empty directory (or file)."""
        fd, name = self._parent(client_path)
        try:
            os.unlink(name, dir_fd=fd)
            if directory:
                os.mkdir(name, 0o755, dir_fd=fd)
            else:
                os.close(os.open(name, _FILE_FLAGS, 0o644, dir_fd=fd))
        finally:
            os.close(fd)

    def make_mount_file(self, client_path: str) -> None:
        """An empty file to bind a server file on; BadName if anything is there."""
        fd, name = self._parent(client_path)
        try:
            try:
                os.close(os.open(name, _FILE_FLAGS, 0o644, dir_fd=fd))
            except FileExistsError:
                raise BadName(f"{client_path} is shipped where the toolchain is") from None
        finally:
            os.close(fd)

    def take_dir(self, client_path: str, destination: str) -> bool:
        """Move the directory at ``client_path`` (if there is one) to ``destination``;
        False if nothing is there.  BadName if something else is."""
        try:
            fd, name = self._parent(client_path)
        except BadName:
            return False  # a link or file above it: the shadow check reports it
        try:
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return False
            import stat

            if not stat.S_ISDIR(st.st_mode):
                raise BadName(f"{client_path}: an include directory that is not a directory")
            os.rename(name, destination, src_dir_fd=fd)
            return True
        finally:
            os.close(fd)

    def verify_links(self) -> None:
        """Every link, fully resolved, stays in the root or reaches an allowed directory."""
        for client_path in self.links:
            real = os.path.realpath(self.root + client_path)
            if is_within(real, self.root):
                continue
            if any(self.allowed(d) for d in _self_and_parents(real)):
                continue
            raise BadName(f"LINK {client_path} resolves to {real}, outside the job's root")


def _self_and_parents(path: str) -> list[str]:
    out = [path]
    while path not in ("/", ""):
        path = os.path.dirname(path)
        out.append(path)
    return out
