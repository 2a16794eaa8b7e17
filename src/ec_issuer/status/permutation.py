"""Random-looking, collision-free status list indices: a keyed permutation of allocation positions.

The n-th credential put on a list takes position n; its index is ``shuffled_index(key, size, n)``, a
pseudorandom permutation of ``0..size-1`` keyed by the list's secret. Positions are handed out by an
atomic counter, so two credentials never share an index (a permutation maps distinct positions to
distinct indices), no index is ever drawn twice and retried, and a list is full exactly when its counter
reaches its size. Without the key, an index reveals nothing about when a credential was issued or which
credentials were issued together, which is what the specification asks random assignment for.

The permutation is an alternating Feistel network (as in NIST SP 800-38G's FF1/FFX, with unbalanced
halves when the bit width is odd) on the bits needed for ``size - 1``, with keyed BLAKE2b as the round
function, restricted to ``0..size-1`` by cycle walking: apply it again until the value falls inside,
which on a cycle of a permutation always ends and keeps it a bijection. List sizes that are powers of two
(the default 131,072 = 2^17) need no walking at all.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

ROUNDS = 8  # each round rewrites one half from the other: four of each, past the Luby-Rackoff bound
KEY_BYTES = 32


@lru_cache(maxsize=64)
def _keyed(key: bytes) -> hashlib.blake2b:
    # Keying BLAKE2b costs a compression of its own; copies of a keyed state skip it.
    return hashlib.blake2b(digest_size=8, key=key)


def _permute(keyed: hashlib.blake2b, value: int, left_bits: int, right_bits: int) -> int:
    left_mask, right_mask = (1 << left_bits) - 1, (1 << right_bits) - 1
    left, right = value >> right_bits, value & right_mask
    for round_number in range(ROUNDS):
        state = keyed.copy()
        if round_number % 2 == 0:
            state.update(bytes((round_number,)) + right.to_bytes(8, "big"))
            left ^= int.from_bytes(state.digest(), "big") & left_mask
        else:
            state.update(bytes((round_number,)) + left.to_bytes(8, "big"))
            right ^= int.from_bytes(state.digest(), "big") & right_mask
    return (left << right_bits) | right


def shuffled_index(key: bytes, size: int, position: int) -> int:
    """The index for the given allocation position; a bijection of 0..size-1 for a fixed key."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"the permutation key has {KEY_BYTES} bytes")
    if not 0 <= position < size:
        raise ValueError(f"position {position} is outside 0..{size - 1}")
    bits = max(2, (size - 1).bit_length())
    left_bits = bits // 2
    keyed = _keyed(key)
    value = _permute(keyed, position, left_bits, bits - left_bits)
    while value >= size:  # fewer than two extra passes on average: the domain is under twice the size
        value = _permute(keyed, value, left_bits, bits - left_bits)
    return value
