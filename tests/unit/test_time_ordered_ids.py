"""Credential, event and other ids: UUIDv7 (RFC 9562), sorted by creation, unique."""

from __future__ import annotations

import time
import uuid

import pytest

from ec_issuer.core.system import TimeOrderedIds, uuid7


def test_layout_follows_rfc_9562() -> None:
    # RFC 9562 appendix A.6: 2022-02-22 19:22:22 UTC (0x017F22E279B0 ms), rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F.
    entropy = (0xCC3 << 68 | 0x18C4DC0C0C07398F).to_bytes(10, "big")
    made = uuid7(0x017F22E279B0, entropy)
    assert str(made) == "017f22e2-79b0-7cc3-98c4-dc0c0c07398f"
    assert (made.version, made.variant) == (7, uuid.RFC_4122)


def test_all_ones_and_all_zeros_entropy_keep_version_and_variant() -> None:
    for entropy in (bytes(10), b"\xff" * 10):
        made = uuid7(1, entropy)
        assert (made.version, made.variant) == (7, uuid.RFC_4122)


def test_new_ids_carry_the_current_time_and_sort_by_it() -> None:
    ids = TimeOrderedIds()
    before = time.time_ns() // 1_000_000
    first = uuid.UUID(ids.new_id())
    time.sleep(0.002)
    second = uuid.UUID(ids.new_id())
    after = time.time_ns() // 1_000_000
    assert before <= first.int >> 80 <= second.int >> 80 <= after
    assert str(first) < str(second)  # their text sorts like their time: what the indexes see


def test_ids_are_unique() -> None:
    ids = TimeOrderedIds()
    made = {ids.new_id() for _ in range(20_000)}
    assert len(made) == 20_000


@pytest.mark.parametrize(("unix_ms", "entropy"), [(-1, bytes(10)), (1 << 48, bytes(10)), (0, bytes(9))])
def test_out_of_range_inputs_are_refused(unix_ms: int, entropy: bytes) -> None:
    with pytest.raises(ValueError, match="UUIDv7"):
        uuid7(unix_ms, entropy)
