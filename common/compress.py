"""Raw LZO1X, byte-compatible with distcc's miniLZO (protocols 2 and 3).

distcc sends one headerless LZO1X block per file: no length, no checksum.  python-lzo adds a
5-byte header unless told not to, and needs an output size when decompressing without it, so
we start at 8x the input (as distcc does) and double on overrun, up to ``max_size``.

Empty data is never compressed (the wire sends a zero length instead), so callers handle
``b""`` before getting here; both functions still accept it.
"""

from __future__ import annotations


class CompressionError(Exception):
    """The data is not a valid LZO1X stream, or inflates past the allowed size."""


def preload() -> None:
    """Import the LZO module now, for a caller with time to spare (the client while cpp
    runs), so that compressing the preprocessed source does not wait for it."""
    import lzo  # noqa: F401


def lzo_compress(data: bytes) -> bytes:
    if not data:
        return b""
    import lzo  # lazy: costs ~1 ms, and plain protocol 1 never needs it

    return bytes(lzo.compress(data, 1, False))


def lzo_decompress(data: bytes, max_size: int) -> bytes:
    if not data:
        return b""
    import lzo

    size = max(len(data) * 8, 4096)
    while True:
        try:
            return bytes(lzo.decompress(data, False, min(size, max_size)))
        except lzo.error as exc:
            # -5 is LZO_E_OUTPUT_OVERRUN: the buffer was too small; anything else is bad data.
            if "-5" not in str(exc) or size >= max_size:
                raise CompressionError(f"bad LZO1X data: {exc}") from None
            size *= 2
        except (ValueError, OverflowError, MemoryError) as exc:
            raise CompressionError(f"bad LZO1X data: {exc}") from None
