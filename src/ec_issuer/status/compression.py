"""Bounded decompression shared by both status list formats: hostile lists must not exhaust memory."""

from __future__ import annotations

import zlib

GZIP_WBITS = 16 + zlib.MAX_WBITS  # GZIP container only (no auto-detection)
ZLIB_WBITS = zlib.MAX_WBITS  # ZLIB container (RFC 1950) only

DEFAULT_MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024  # 134,217,728 one-bit entries; 8x the largest list we plan


def inflate_bounded(data: bytes, *, wbits: int, max_bytes: int) -> bytes:
    """Decompress one complete stream of the given container, refusing anything larger than max_bytes.

    Raises ValueError for a wrong container, a corrupt or truncated stream, trailing data after the
    stream, and output above the bound (checked while inflating, so a zip bomb is never expanded in full).
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    inflater = zlib.decompressobj(wbits=wbits)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise ValueError(f"not a valid compressed stream: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise ValueError(f"decompressed status list exceeds {max_bytes} bytes")
    if not inflater.eof:
        raise ValueError("compressed stream is truncated")
    if inflater.unused_data:
        raise ValueError("unexpected data after the compressed stream")
    return out
