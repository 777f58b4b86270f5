"""Monitor state files: what this client is doing, for ``distccmon-text``/``-gnome``.

File: ``$DISTCC_DIR/state/binstate_<pid>``, rewritten from offset 0 (``O_TRUNC``) with one
native-endian C struct at each phase change and removed at exit (distcc-internals §8.2,
``src/state.c``).  Layout (``struct dcc_task_state``), 296 bytes on LP64:

    size_t struct_size   = 296 (the reader rejects any other value)
    unsigned long magic  = 0x44494800 ("DIH\\0")
    unsigned long cpid   = our pid
    char file[128]       source basename, NUL-terminated (truncated to 127 bytes)
    char host[128]       host name, "localhost" for local work
    int slot             the slot whose lock we hold
    int curr_phase       a Phase value
    pointer next         meaningless in the file (we write 0)

Python's native ``struct`` format ``@NLL128s128siiP`` gives exactly that layout on any
ABI (280 bytes on ILP32), and ``struct_size`` is its ``calcsize``.  ``_struct`` is used
directly: it is what ``struct`` re-exports, without the extra module.

API:

- ``encode(pid, file, host, slot, phase) -> bytes``: the struct (pure).
- ``decode(data) -> (pid, file, host, slot, phase) | None``: the reader's checks.
- ``StateWriter(directory, pid)``: ``note(phase, file=None, host=None, which=REMOTE)``
  (a None file/host keeps the previous value, as distcc), ``note_slot(slot, which)``,
  ``remove()`` (register it with ``atexit``).  Like distcc it keeps one record for local
  and one for remote work and writes whichever was updated last.  Writing is best
  effort: a monitor must never fail a compile, so I/O errors are swallowed.
"""

from __future__ import annotations

import _struct
import os

STATE_FORMAT = "@NLL128s128siiP"
STRUCT_SIZE: int = _struct.calcsize(STATE_FORMAT)
MAGIC = 0x44494800
PREFIX = "binstate_"


class Phase:
    """``enum dcc_phase`` values (the numbers are the file format)."""

    STARTUP = 0
    BLOCKED = 1
    CONNECT = 2
    CPP = 3  # shown as "Preprocess": local cpp or include scanning
    SEND = 4
    COMPILE = 5
    RECEIVE = 6
    DONE = 7


PHASE_NAMES = (
    "Startup",
    "Blocked",
    "Connect",
    "Preprocess",
    "Send",
    "Compile",
    "Receive",
    "Done",
)

LOCAL = "local"
REMOTE = "remote"


def _c_string(text: str) -> bytes:
    """``strlcpy`` into ``char[128]``: at most 127 bytes, then NUL (pack pads the rest)."""
    return text.encode("utf-8", "surrogateescape")[:127]


def encode(pid: int, file: str, host: str, slot: int, phase: int) -> bytes:
    """The state struct for one record; ``file`` is reduced to its basename."""
    return _struct.pack(
        STATE_FORMAT,
        STRUCT_SIZE,
        MAGIC,
        pid,
        _c_string(file.rpartition("/")[2]),
        _c_string(host),
        slot,
        phase,
        0,
    )


def decode(data: bytes) -> tuple[int, str, str, int, int] | None:
    """(pid, file, host, slot, phase), or None where distccmon would skip the file."""
    if len(data) < STRUCT_SIZE:
        return None
    size, magic, pid, file, host, slot, phase, _next = _struct.unpack(
        STATE_FORMAT, data[:STRUCT_SIZE]
    )
    if size != STRUCT_SIZE or magic != MAGIC:
        return None
    return (
        pid,
        file.partition(b"\0")[0].decode("utf-8", "surrogateescape"),
        host.partition(b"\0")[0].decode("utf-8", "surrogateescape"),
        slot,
        phase,
    )


class _Record:
    __slots__ = ("file", "host", "slot", "phase")

    def __init__(self) -> None:
        self.file = ""
        self.host = ""
        self.slot = 0
        self.phase = Phase.STARTUP


class StateWriter:
    """This process's state file (mutable: it follows the job through its phases)."""

    def __init__(self, directory: str, pid: int) -> None:
        self.path = f"{directory}/{PREFIX}{pid}"
        self.pid = pid
        self._records = {LOCAL: _Record(), REMOTE: _Record()}

    def note_slot(self, slot: int, which: str = REMOTE) -> None:
        """Remember the slot just locked (written with the next ``note``)."""
        self._records[which].slot = slot

    def note(
        self, phase: int, file: str | None = None, host: str | None = None, which: str = REMOTE
    ) -> None:
        """Enter ``phase`` and rewrite the state file."""
        record = self._records[which]
        if file is not None:
            record.file = file
        if host is not None:
            record.host = host
        record.phase = phase
        data = encode(self.pid, record.file, record.host, record.slot, phase)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        except OSError:
            return
        try:
            os.write(fd, data)
        except OSError:
            pass
        finally:
            os.close(fd)

    def remove(self) -> None:
        """Delete the state file (at exit); fine if it was never written."""
        try:
            os.unlink(self.path)
        except OSError:
            pass
