"""W3C Bitstring Status List v1.0 (Recommendation, 2025-05-15), the list itself: bits, encoding, decoding.

- One entry per credential and purpose; the status size is 1 bit (revocation, suspension).
- Index 0 is the left-most (most significant) bit of the first byte (spec §4, "Bitstring Encoding").
- A list has at least 131,072 entries (16 KB), the spec's minimum for group privacy.
- ``encodedList`` is the multibase base64url-no-pad encoding (prefix ``u``) of the GZIP-compressed bitstring.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable

from ec_issuer.core.encoding import b64url_decode, b64url_encode
from ec_issuer.status.compression import DEFAULT_MAX_DECOMPRESSED_BYTES, GZIP_WBITS, inflate_bounded

MIN_ENTRIES = 131_072
MULTIBASE_BASE64URL = "u"
DEFAULT_GZIP_LEVEL = 6  # level 9 costs an order of magnitude more time for almost no gain on sparse lists


def _check_index(index: int, entries: int) -> None:
    if not 0 <= index < entries:
        raise IndexError(f"status list index {index} is outside 0..{entries - 1}")


def get_bit(bits: bytes | bytearray, index: int) -> bool:
    """The bit at index; bit 0 is the most significant bit of byte 0."""
    _check_index(index, len(bits) * 8)
    return bool(bits[index >> 3] & (0x80 >> (index & 7)))


def set_bit(bits: bytearray, index: int, value: bool = True) -> None:
    """Set (or clear) the bit at index in place; bit 0 is the most significant bit of byte 0."""
    _check_index(index, len(bits) * 8)
    mask = 0x80 >> (index & 7)
    if value:
        bits[index >> 3] |= mask
    else:
        bits[index >> 3] &= ~mask & 0xFF


def encode_list(bits: bytes | bytearray, *, level: int = DEFAULT_GZIP_LEVEL) -> str:
    """``encodedList``: 'u' + base64url-no-pad(GZIP(bits)). The GZIP header carries mtime 0, so the output
    is a function of the bits alone (stable ETags, reproducible lists)."""
    return MULTIBASE_BASE64URL + b64url_encode(gzip.compress(bytes(bits), compresslevel=level, mtime=0))


def decode_list(encoded: str, *, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES) -> bytes:
    """The bitstring in an ``encodedList``; ValueError for a missing or wrong multibase prefix, bad base64url,
    anything but one complete GZIP member, or a decompressed size above max_bytes."""
    if not encoded.startswith(MULTIBASE_BASE64URL):
        raise ValueError("encodedList must be multibase base64url (prefix 'u')")
    compressed = b64url_decode(encoded[1:])
    if not compressed:
        raise ValueError("encodedList is empty")
    return inflate_bounded(compressed, wbits=GZIP_WBITS, max_bytes=max_bytes)


class BitstringStatusList:
    """A mutable list of one-bit entries; sizes are multiples of 8 and at least MIN_ENTRIES."""

    __slots__ = ("_bits",)

    def __init__(self, entries: int = MIN_ENTRIES) -> None:
        _check_size(entries)
        self._bits = bytearray(entries // 8)

    @classmethod
    def from_bytes(cls, bits: bytes | bytearray) -> BitstringStatusList:
        _check_size(len(bits) * 8)
        status_list = cls.__new__(cls)
        status_list._bits = bytearray(bits)
        return status_list

    @classmethod
    def decode(cls, encoded: str, *, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES) -> BitstringStatusList:
        """Decode an ``encodedList``; a list shorter than the minimum is refused (STATUS_LIST_LENGTH_ERROR)."""
        return cls.from_bytes(decode_list(encoded, max_bytes=max_bytes))

    @classmethod
    def with_set(cls, entries: int, indices: Iterable[int]) -> BitstringStatusList:
        """A list with exactly these bits set: one pass, for publishing lists with many entries set."""
        status_list = cls(entries)
        bits = status_list._bits
        for index in indices:
            if not 0 <= index < entries:
                _check_index(index, entries)
            bits[index >> 3] |= 0x80 >> (index & 7)
        return status_list

    def __len__(self) -> int:
        return len(self._bits) * 8

    def get(self, index: int) -> bool:
        return get_bit(self._bits, index)

    def set(self, index: int, value: bool = True) -> None:
        set_bit(self._bits, index, value)

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def encode(self, *, level: int = DEFAULT_GZIP_LEVEL) -> str:
        return encode_list(self._bits, level=level)


def _check_size(entries: int) -> None:
    if entries % 8:
        raise ValueError("a bitstring status list has a multiple of 8 entries")
    if entries < MIN_ENTRIES:
        raise ValueError(f"a bitstring status list has at least {MIN_ENTRIES} entries, not {entries}")
