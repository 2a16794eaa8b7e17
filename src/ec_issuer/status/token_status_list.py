"""IETF Token Status List (draft-ietf-oauth-status-list), the list itself: packed values, ``lst`` encoding.

Revision followed: draft-ietf-oauth-status-list-19 (2026-03-20), the newest revision found in the reference
material; its "Status List" section (byte array, bit order, ZLIB) and the two examples reproduced in the
tests are unchanged since -02. Which revision HAIP/DIIP pin is still to be confirmed when the Status List
Token (``statuslist+jwt``) is built; nothing here depends on the differences between revisions.

- Each Referenced Token has ``bits`` bits (1, 2, 4 or 8; we use 2). Index 0 occupies the least significant
  bits of byte 0, index 1 the next bits up, and so on ("least significant bit first"), which is the opposite
  of the W3C Bitstring Status List.
- Values: 0x00 VALID, 0x01 INVALID, 0x02 SUSPENDED; 0x03 is application-specific (unused here).
- ``lst`` is base64url (no padding) of the ZLIB (RFC 1950) DEFLATE compression of the byte array; the draft
  recommends the highest compression level.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from enum import IntEnum
from typing import Any

from ec_issuer.core.encoding import b64url_decode, b64url_encode
from ec_issuer.status.compression import DEFAULT_MAX_DECOMPRESSED_BYTES, ZLIB_WBITS, inflate_bounded

ALLOWED_BITS = (1, 2, 4, 8)
DEFAULT_BITS = 2
DEFAULT_ZLIB_LEVEL = 9  # the draft: "highest compression level available"


class TokenStatus(IntEnum):
    VALID = 0x00
    INVALID = 0x01
    SUSPENDED = 0x02


def _check_bits(bits: int) -> None:
    if bits not in ALLOWED_BITS:
        raise ValueError(f"bits must be one of {ALLOWED_BITS}, not {bits}")


def get_value(data: bytes | bytearray, index: int, *, bits: int = DEFAULT_BITS) -> int:
    """The status value at index; index 0 sits in the least significant bits of byte 0."""
    _check_bits(bits)
    capacity = len(data) * 8 // bits
    if not 0 <= index < capacity:
        raise IndexError(f"status list index {index} is outside 0..{capacity - 1}")
    position = index * bits
    return (data[position >> 3] >> (position & 7)) & ((1 << bits) - 1)


def set_value(data: bytearray, index: int, value: int, *, bits: int = DEFAULT_BITS) -> None:
    """Set the status value at index in place, leaving the neighbouring entries alone."""
    _check_bits(bits)
    capacity = len(data) * 8 // bits
    if not 0 <= index < capacity:
        raise IndexError(f"status list index {index} is outside 0..{capacity - 1}")
    mask = (1 << bits) - 1
    if not 0 <= value <= mask:
        raise ValueError(f"status value {value} does not fit in {bits} bits")
    position = index * bits
    shift = position & 7
    data[position >> 3] = (data[position >> 3] & ~(mask << shift) & 0xFF) | (value << shift)


def pack(values: list[int], *, bits: int = DEFAULT_BITS) -> bytes:
    """The byte array for a sequence of status values (the last byte is padded with zero bits)."""
    _check_bits(bits)
    data = bytearray((len(values) * bits + 7) // 8)
    for index, value in enumerate(values):
        set_value(data, index, value, bits=bits)
    return bytes(data)


def unpack(data: bytes | bytearray, *, bits: int = DEFAULT_BITS) -> list[int]:
    """Every status value in a byte array (including those in the padding of the last byte)."""
    _check_bits(bits)
    return [get_value(data, index, bits=bits) for index in range(len(data) * 8 // bits)]


def encode_lst(data: bytes | bytearray, *, level: int = DEFAULT_ZLIB_LEVEL) -> str:
    """``lst``: base64url-no-pad(ZLIB(data))."""
    return b64url_encode(zlib.compress(bytes(data), level))


def decode_lst(lst: str, *, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES) -> bytes:
    """The byte array in an ``lst``; ValueError for bad base64url, anything but one complete ZLIB stream
    (GZIP or raw DEFLATE included), or a decompressed size above max_bytes."""
    compressed = b64url_decode(lst)
    if not compressed:
        raise ValueError("lst is empty")
    return inflate_bounded(compressed, wbits=ZLIB_WBITS, max_bytes=max_bytes)


class TokenStatusList:
    """A mutable Token Status List of ``size`` entries of ``bits`` bits each, all VALID at first."""

    __slots__ = ("_bits", "_data", "_size")

    def __init__(self, size: int, *, bits: int = DEFAULT_BITS) -> None:
        _check_bits(bits)
        if size < 1:
            raise ValueError("a token status list has at least one entry")
        self._bits = bits
        self._size = size
        self._data = bytearray((size * bits + 7) // 8)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray, *, bits: int = DEFAULT_BITS) -> TokenStatusList:
        """A list over an existing byte array; its size is every entry the bytes can hold."""
        _check_bits(bits)
        if not data:
            raise ValueError("a token status list has at least one entry")
        status_list = cls.__new__(cls)
        status_list._bits = bits
        status_list._size = len(data) * 8 // bits
        status_list._data = bytearray(data)
        return status_list

    @classmethod
    def from_claim(cls, claim: dict[str, Any], *, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES) -> TokenStatusList:
        """Decode a ``status_list`` claim ``{"bits": …, "lst": …}``; ValueError when it is malformed."""
        bits, lst = claim.get("bits"), claim.get("lst")
        if not isinstance(bits, int) or isinstance(bits, bool) or not isinstance(lst, str):
            raise ValueError("status_list needs an integer 'bits' and a string 'lst'")
        _check_bits(bits)
        return cls.from_bytes(decode_lst(lst, max_bytes=max_bytes), bits=bits)

    @classmethod
    def with_values(cls, size: int, values: Iterable[tuple[int, int]], *, bits: int = DEFAULT_BITS) -> TokenStatusList:
        """A list with these (index, value) entries set and the rest VALID, in one pass."""
        status_list = cls(size, bits=bits)
        data, mask = status_list._data, (1 << bits) - 1
        for index, value in values:
            status_list._check(index)
            if not 0 <= value <= mask:
                raise ValueError(f"status value {value} does not fit in {bits} bits")
            position = index * bits
            shift = position & 7
            data[position >> 3] = (data[position >> 3] & ~(mask << shift) & 0xFF) | (value << shift)
        return status_list

    @property
    def bits(self) -> int:
        return self._bits

    def __len__(self) -> int:
        return self._size

    def _check(self, index: int) -> None:
        if not 0 <= index < self._size:
            raise IndexError(f"status list index {index} is outside 0..{self._size - 1}")

    def get(self, index: int) -> int:
        self._check(index)
        return get_value(self._data, index, bits=self._bits)

    def set(self, index: int, value: int) -> None:
        self._check(index)
        set_value(self._data, index, value, bits=self._bits)

    def to_bytes(self) -> bytes:
        return bytes(self._data)

    def to_claim(self, *, level: int = DEFAULT_ZLIB_LEVEL) -> dict[str, Any]:
        """The ``status_list`` claim of a Status List Token (without ``aggregation_uri``)."""
        return {"bits": self._bits, "lst": encode_lst(self._data, level=level)}
