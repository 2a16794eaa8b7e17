"""Random-looking, collision-free status list indices: a keyed permutation of allocation positions.

The n-th credential put on a list takes position n; its index is ``shuffled_index(key, size, n)``, a
pseudorandom permutation of ``0..size-1`` keyed by the list's secret. Positions are handed out by an
atomic counter, so two credentials never share an index (a permutation maps distinct positions to
distinct indices), no index is ever drawn twice and retried, and a list is full exactly when its counter
reaches its size. Without the key, an index reveals nothing about when a credential was issued or which
credentials were issued together, which is what the specification asks random assignment for.

The permutation is a balanced Feistel network on the smallest even number of bits covering ``size``,
with keyed BLAKE2b as round function, restricted to ``0..size-1`` by cycle walking (apply it again until
the value falls inside: on a cycle of a permutation that always ends, and it stays a bijection).
"""

from __future__ import annotations

import hashlib

ROUNDS = 8  # four rounds already give a pseudorandom permutation (Luby-Rackoff); eight for margin
KEY_BYTES = 32


def _round(key: bytes, round_number: int, half: int, half_bits: int) -> int:
    digest = hashlib.blake2b(
        half.to_bytes(8, "big"), digest_size=8, key=key, person=round_number.to_bytes(16, "big")
    ).digest()
    return int.from_bytes(digest, "big") & ((1 << half_bits) - 1)


def _feistel(key: bytes, value: int, half_bits: int) -> int:
    mask = (1 << half_bits) - 1
    left, right = value >> half_bits, value & mask
    for round_number in range(ROUNDS):
        left, right = right, left ^ _round(key, round_number, right, half_bits)
    return (left << half_bits) | right


def domain_half_bits(size: int) -> int:
    """Half the width of the Feistel domain: at least one bit, and 2 * half >= bits needed for size-1."""
    return max(1, ((size - 1).bit_length() + 1) // 2)


def shuffled_index(key: bytes, size: int, position: int) -> int:
    """The index for the given allocation position; a bijection of 0..size-1 for a fixed key."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"the permutation key has {KEY_BYTES} bytes")
    if not 0 <= position < size:
        raise ValueError(f"position {position} is outside 0..{size - 1}")
    half_bits = domain_half_bits(size)
    value = _feistel(key, position, half_bits)
    while value >= size:  # at most 4 * size / size iterations on average
        value = _feistel(key, value, half_bits)
    return value
