"""Status list indices come from a keyed permutation: distinct, complete, and unrelated to issue order."""

from __future__ import annotations

import itertools
import secrets
from collections import Counter

import pytest

from ec_issuer.status.permutation import KEY_BYTES, shuffled_index


@pytest.mark.parametrize("size", [1, 2, 3, 8, 1_000, 4_099, 65_536])
def test_every_position_maps_to_a_distinct_index_inside_the_list(size: int) -> None:
    key = secrets.token_bytes(KEY_BYTES)
    indices = [shuffled_index(key, size, position) for position in range(size)]
    assert sorted(indices) == list(range(size))


def test_consecutive_positions_are_not_consecutive_indices() -> None:
    key = secrets.token_bytes(KEY_BYTES)
    indices = [shuffled_index(key, 131_072, position) for position in range(2_000)]
    steps = Counter(b - a for a, b in itertools.pairwise(indices))
    assert steps.most_common(1)[0][1] < 5  # a sequential or strided allocator repeats one step
    # Spread over the whole list: each eighth of it receives about an eighth of the first 2,000.
    eighths = Counter(index * 8 // 131_072 for index in indices)
    assert all(180 <= eighths[part] <= 320 for part in range(8)), eighths


def test_another_key_gives_another_order() -> None:
    first, second = secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES)
    one = [shuffled_index(first, 131_072, p) for p in range(64)]
    other = [shuffled_index(second, 131_072, p) for p in range(64)]
    assert sum(a == b for a, b in zip(one, other, strict=True)) < 3


def test_positions_outside_the_list_and_short_keys_are_refused() -> None:
    key = secrets.token_bytes(KEY_BYTES)
    with pytest.raises(ValueError, match="outside"):
        shuffled_index(key, 10, 10)
    with pytest.raises(ValueError, match="outside"):
        shuffled_index(key, 10, -1)
    with pytest.raises(ValueError, match="bytes"):
        shuffled_index(b"short", 10, 0)
