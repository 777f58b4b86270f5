"""The content store (daemon/store.py): verification, LRU bound, pins, restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemon.store import BadDigest, OwnFiles, Store, digest_of, parse_digest


def blob(i: int, size: int = 100) -> tuple[str, bytes]:
    data = bytes([i % 256]) * size
    return digest_of(data), data


def test_put_verifies_digest_and_size(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s"))
    d, data = blob(1)
    with pytest.raises(BadDigest, match="announced"):
        store.put(d, 99, data)
    with pytest.raises(BadDigest, match="another digest"):
        store.put(d, 100, b"y" * 100)
    assert not store.has(d)
    path = store.put(d, 100, data)
    assert store.has(d)
    assert Path(path).read_bytes() == data
    assert os.stat(path).st_mode & 0o777 == 0o444
    assert [p.name for p in (tmp_path / "s").rglob("*.tmp")] == []


@pytest.mark.parametrize(
    "text", ["sha1:abc:3", "blake2b:XYZ:3", "blake2b:" + "0" * 64, "blake2b:" + "0" * 63 + ":1"]
)
def test_bad_digests(text: str) -> None:
    with pytest.raises(BadDigest):
        parse_digest(text)


def test_parse_digest() -> None:
    d, _ = blob(3)
    assert parse_digest(f"{d}:12") == (d, 12)


def test_lru_bound_evicts_least_recently_used(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s"), max_bytes=300)
    digests = []
    for i in range(3):
        d, data = blob(i)
        store.put(d, len(data), data)
        digests.append(d)
    assert store.has(digests[0])  # now the most recently used
    d3, data3 = blob(3)
    store.put(d3, 100, data3)
    assert store.total <= 300
    assert not store.has(digests[1])  # the least recently used went
    assert store.has(digests[0]) and store.has(digests[2]) and store.has(d3)
    assert len(store) == 3


def test_pinned_files_survive_eviction(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s"), max_bytes=150)
    d0, data0 = blob(0)
    store.put(d0, 100, data0)
    with store.pinned([d0]):
        d1, data1 = blob(1)
        store.put(d1, 100, data1)
        assert store.has(d0)
    d2, data2 = blob(2)
    store.put(d2, 100, data2)
    assert not store.has(d0)


def test_restart_finds_the_files_and_drops_temporaries(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s"))
    d, data = blob(7)
    path = store.put(d, 100, data)
    leftover = Path(path + ".123.tmp")
    leftover.write_bytes(b"half")
    again = Store(str(tmp_path / "s"))
    assert again.has(d) and again.total == 100
    assert not leftover.exists()


def test_own_files_digest_follows_changes(tmp_path: Path) -> None:
    own = OwnFiles()
    f = tmp_path / "h.h"
    f.write_bytes(b"one")
    assert own.digest(str(f)) == digest_of(b"one")
    f.write_bytes(b"two!")
    assert own.digest(str(f)) == digest_of(b"two!")
    assert own.digest(str(tmp_path / "missing.h")) is None
    assert own.digest(str(tmp_path)) is None


def test_private_dir_trusts_only_its_own_directory(tmp_path: Path) -> None:
    from daemon.store import private_dir

    mine = tmp_path / "distccd-store"
    assert private_dir(str(mine)) == str(mine) and mine.stat().st_mode & 0o777 == 0o700
    assert private_dir(str(mine)) == str(mine)  # again: still ours
    # A link planted under the name (to a directory we could even write) is not used.
    planted = tmp_path / "planted"
    planted.mkdir()
    (tmp_path / "distccd-results").symlink_to(planted)
    got = private_dir(str(tmp_path / "distccd-results"))
    assert got != str(tmp_path / "distccd-results") and os.path.basename(got).startswith(
        "distccd-results-"
    )
    assert not any(planted.iterdir())
    if os.geteuid() == 0:  # a directory another user made first
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        os.chown(theirs, 65534, 65534)
        assert private_dir(str(theirs)) != str(theirs)
