"""watchdog glue: turn file-system events into ``Analyzer.on_event`` calls.

Purpose: keep the analyzer's memory true across builds.  Every directory whose entries an
answer consulted (``Analyzer.watched_dirs``) gets a non-recursive watch; each created,
deleted, modified or moved entry is reported (both ends of a move) under the analyzer lock.

Invariants:
- Watched directories are canonical, so event paths compare equal to recorded deps.
  Directories three or more levels deep are watched recursively, and a directory below a
  recursive watch gets none of its own (fewer watchdog threads: one per watch).
- Only events that change names or contents are used (created, deleted, modified, moved,
  closed-after-write); opens and reads (our own included) are ignored, directory "modified"
  events too (an entry event always accompanies them).
- A lost event is never silent: an inotify queue overflow or any error logged by watchdog
  drops every cache (``Analyzer.drop_all``), counted by reason.
- ``wait_for(path)`` lets a caller (tests, ``--sync`` style tools) block until an event on
  ``path`` has been applied, without sleeping.

Vocabulary: *generation*: how many times everything was dropped.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from include_server.cache import Analyzer
from include_server.rwlock import RWLock

logger = logging.getLogger(__name__)

# Directories at least this deep ("/a/b/c" has 3 slashes) are watched recursively, so one
# watch (one watchdog thread) covers a whole project tree; shallower ones ("/", "/tmp",
# "/usr/include") only for their own entries.
RECURSIVE_DEPTH = 3

EVENT_TYPES = [
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
]


class _LostEvents(logging.Handler):
    """Sees watchdog's own log records: overflow warnings and errors mean lost events."""

    def __init__(self, on_loss: Callable[[str], None]) -> None:
        super().__init__(level=logging.WARNING)
        self._on_loss = on_loss

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "overflow" in message.lower():
            self._on_loss("overflow")
        elif record.levelno >= logging.ERROR:
            self._on_loss("watcher-error")


class Watcher(FileSystemEventHandler):
    def __init__(self, analyzer: Analyzer, lock: RWLock) -> None:
        super().__init__()
        self.analyzer = analyzer
        self.lock = lock
        self.generation = 0
        self._observer = Observer()
        self._watched: dict[str, object] = {}  # directory -> watch (None: covered)
        self._recursive: set[str] = set()
        self._seen: set[str] = set()
        self._cond = threading.Condition()
        self._loss_handler = _LostEvents(self.lost)
        logging.getLogger("watchdog").addHandler(self._loss_handler)
        self._observer.start()

    # -- watches ----------------------------------------------------------------------
    def update(self) -> int:
        """Watch every directory the analyzer consulted; returns how many were added."""
        with self._cond:
            wanted = self.analyzer.watched_dirs - self._watched.keys()
        added = 0
        for directory in sorted(wanted):  # parents before children
            if self._covered(directory):
                with self._cond:
                    self._watched[directory] = None
                continue
            if not os.path.isdir(directory):
                continue
            recursive = directory.count("/") >= RECURSIVE_DEPTH
            try:
                watch = self._observer.schedule(
                    self, directory, recursive=recursive, event_filter=EVENT_TYPES
                )
            except OSError as exc:
                logger.warning("cannot watch %s: %s; dropping caches", directory, exc)
                self.lost("watch-failed")
                continue
            with self._cond:
                self._watched[directory] = watch
                if recursive:
                    self._recursive.add(directory)
            added += 1
        return added

    def _covered(self, directory: str) -> bool:
        """True if a recursive watch on an ancestor already reports this directory."""
        parent = os.path.dirname(directory)
        while parent.count("/") >= RECURSIVE_DEPTH:
            if parent in self._recursive:
                return True
            parent = os.path.dirname(parent)
        return False

    @property
    def watch_count(self) -> int:
        return sum(1 for w in self._watched.values() if w is not None)

    # -- events -----------------------------------------------------------------------
    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = [os.fsdecode(event.src_path)]
        if getattr(event, "dest_path", ""):
            paths.append(os.fsdecode(event.dest_path))
        with self.lock.write():
            for path in paths:
                self.analyzer.on_event(path)
        with self._cond:
            if len(self._seen) > 10000:
                self._seen.clear()
            for path in paths:
                self._seen.add(path)
                if event.is_directory and event.event_type in ("deleted", "moved"):
                    self._unwatch_below(path)
            self._cond.notify_all()

    def _unwatch_below(self, path: str) -> None:
        prefix = path + "/"
        for directory in [d for d in self._watched if d == path or d.startswith(prefix)]:
            watch = self._watched.pop(directory)
            self._recursive.discard(directory)
            if watch is None:
                continue
            try:
                self._observer.unschedule(watch)  # type: ignore[arg-type]
            except (KeyError, OSError):
                pass

    def lost(self, reason: str) -> None:
        with self.lock.write():
            self.generation += 1
            self.analyzer.drop_all(reason)

    def wait_for(self, path: str, timeout: float = 10.0) -> bool:
        """Block until an event on ``path`` has been applied (or ``timeout`` passes)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: path in self._seen, timeout)
            self._seen.discard(path)
            return ok

    def stop(self) -> None:
        logging.getLogger("watchdog").removeHandler(self._loss_handler)
        self._observer.stop()
        self._observer.join(timeout=10)
