"""The content-addressed store of received files: digest -> file, size-bounded LRU on disk.

Headers cross the network once per server, not once per job: the native protocol names
every file by digest (``blake2b:<64 hex>``, BLAKE2b-256 as the include server computes
it), the daemon asks only for the digests it lacks, and keeps what it receives here,
under ``<TMPDIR>/distccd-store/<2 hex>/<64 hex>``, to hard-link into job roots.

Invariants:

- a file enters the store only after its size and digest were verified (``put``); it is
  written to a temporary name and renamed, so a reader never sees half a file;
- the total size stays under ``max_bytes``: after each ``put`` the least recently used
  unpinned files are removed; a job *pins* the digests it is going to link (between the
  ``NEED`` answer and the links) so that eviction cannot take them meanwhile; a file already
  linked into a job root survives eviction (the link keeps the inode);
- files are read-only (0444): a compiler cannot change the store through a job's link;
- at start the store is rescanned (files whose name is not a digest, or whose size
  disagrees with nothing we know, are just sized; recency order is their mtime).

Vocabulary: *digest* is the self-describing string; *hex* its 64 hex digits.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from hashlib import blake2b

PREFIX = "blake2b:"
HEX_LEN = 64
STORE_NAME = "distccd-store"
DEFAULT_MAX_BYTES = 1 << 30


class BadDigest(ValueError):
    """A digest string we do not understand, or data that does not match it."""


def digest_of(data: bytes) -> str:
    return PREFIX + blake2b(data, digest_size=32).hexdigest()


def parse_digest(text: str) -> tuple[str, int]:
    """``blake2b:<hex>:<size>`` -> (digest, size)."""
    digest, sep, size_text = text.rpartition(":")
    if not sep or not size_text.isdigit():
        raise BadDigest(f"not DIGEST:SIZE: {text[:100]!r}")
    check(digest)
    return digest, int(size_text)


def check(digest: str) -> str:
    """The hex part of a digest we know; ``BadDigest`` otherwise."""
    if not digest.startswith(PREFIX):
        raise BadDigest(f"unknown digest algorithm: {digest[:40]!r}")
    hexpart = digest[len(PREFIX) :]
    if len(hexpart) != HEX_LEN or not _lower_hex(hexpart):
        raise BadDigest(f"malformed digest: {digest[:100]!r}")
    return hexpart


def _lower_hex(text: str) -> bool:
    """Only the digits 0-9a-f?  (In C: this runs for every entry of every job.)"""
    try:
        return bytes.fromhex(text).hex() == text
    except ValueError:
        return False


def private_dir(path: str) -> str:
    """``path`` as a directory only this user can use, or a fresh one beside it.

    TMPDIR is often a shared /tmp: a directory (or a link) of that name made first by
    another user must not be trusted, or that user could place "stored" files (headers,
    replies) that this daemon would serve.  Mode 0700 either way."""
    import stat
    import tempfile

    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            return tempfile.mkdtemp(prefix=os.path.basename(path) + "-", dir=os.path.dirname(path))
    os.chmod(path, 0o700)
    return path


class Store:
    def __init__(self, directory: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        directory = private_dir(directory)
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._lru: OrderedDict[str, int] = OrderedDict()  # hex -> size, oldest first
        self._pins: dict[str, int] = {}
        self.total = 0
        self._rescan()

    def _rescan(self) -> None:
        found: list[tuple[float, str, int]] = []
        for sub in os.listdir(self.directory):
            subdir = os.path.join(self.directory, sub)
            if len(sub) != 2 or not os.path.isdir(subdir):
                continue
            for name in os.listdir(subdir):
                path = os.path.join(subdir, name)
                if len(name) != HEX_LEN or not name.startswith(sub):
                    with contextlib.suppress(OSError):
                        os.unlink(path)  # a temporary left by a crash
                    continue
                st = os.stat(path)
                found.append((st.st_mtime, name, st.st_size))
        for _mtime, name, size in sorted(found):
            self._lru[name] = size
            self.total += size

    def path(self, digest: str) -> str:
        hexpart = check(digest)
        return os.path.join(self.directory, hexpart[:2], hexpart)

    def has(self, digest: str) -> bool:
        """Known (and now most recently used)?"""
        hexpart = check(digest)
        with self._lock:
            if hexpart not in self._lru:
                return False
            self._lru.move_to_end(hexpart)
        return os.path.exists(self.path(digest))

    @contextlib.contextmanager
    def pinned(self, digests: Iterable[str]) -> Iterator[None]:
        """Keep ``digests`` from eviction while the block runs."""
        hexes = [check(d) for d in set(digests)]
        with self._lock:
            for h in hexes:
                self._pins[h] = self._pins.get(h, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                for h in hexes:
                    left = self._pins[h] - 1
                    if left:
                        self._pins[h] = left
                    else:
                        del self._pins[h]

    def put(self, digest: str, size: int, data: bytes) -> str:
        """Verify and store ``data``; returns its path.  ``BadDigest`` on a mismatch."""
        hexpart = check(digest)
        if len(data) != size:
            raise BadDigest(f"{digest}: {len(data)} bytes, {size} announced")
        if digest_of(data) != digest:
            raise BadDigest(f"{digest}: the data has another digest")
        dest = self.path(digest)
        os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
        tmp = f"{dest}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o444)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with self._lock:
            old = self._lru.pop(hexpart, None)
            if old is not None:
                self.total -= old
            self._lru[hexpart] = size
            self.total += size
            victims = self._evict_locked()
        for victim in victims:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.directory, victim[:2], victim))
        return dest

    def _evict_locked(self) -> list[str]:
        victims: list[str] = []
        if self.total <= self.max_bytes:
            return victims
        for hexpart in list(self._lru):
            if self.total <= self.max_bytes:
                break
            if hexpart in self._pins:
                continue
            self.total -= self._lru.pop(hexpart)
            victims.append(hexpart)
        return victims

    def __len__(self) -> int:
        with self._lock:
            return len(self._lru)


class OwnFiles:
    """Digests of this server's own files (system headers), cached by their stat."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int, int, int], str]] = {}

    def digest(self, path: str) -> str | None:
        """The digest of the regular file at ``path``, or None if there is none."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        import stat

        if not stat.S_ISREG(st.st_mode):
            return None
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._cache.get(path)
        if hit is not None and hit[0] == key:
            return hit[1]
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        digest = digest_of(data)
        with self._lock:
            self._cache[path] = (key, digest)
        return digest
