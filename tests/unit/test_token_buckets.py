"""The public routes' allowance per client address: a burst, then one request per refill interval."""

from __future__ import annotations

import pytest

from ec_issuer.api.rate_limits import TokenBuckets
from tests.support import FakeMonotonic


def test_a_burst_then_a_wait_until_the_next_token() -> None:
    ticks = FakeMonotonic()
    buckets = TokenBuckets(per_minute=60, burst=3, monotonic=ticks)  # one token a second
    assert [buckets.take("198.51.100.7") for _ in range(3)] == [None, None, None]
    wait = buckets.take("198.51.100.7")
    assert wait == pytest.approx(1.0)
    ticks.now += 0.5
    assert buckets.take("198.51.100.7") == pytest.approx(0.5)  # a refused request spends nothing
    ticks.now += 0.5
    assert buckets.take("198.51.100.7") is None
    assert buckets.take("198.51.100.7") == pytest.approx(1.0)


def test_a_bucket_refills_up_to_the_burst_only() -> None:
    ticks = FakeMonotonic()
    buckets = TokenBuckets(per_minute=120, burst=2, monotonic=ticks)
    buckets.take("a")
    buckets.take("a")
    ticks.now += 3600
    assert [buckets.take("a") is None for _ in range(3)] == [True, True, False]


def test_clients_have_buckets_of_their_own() -> None:
    ticks = FakeMonotonic()
    buckets = TokenBuckets(per_minute=60, burst=1, monotonic=ticks)
    assert buckets.take("a") is None
    assert buckets.take("a") is not None
    assert buckets.take("b") is None


def test_the_least_recently_seen_client_is_forgotten_beyond_the_bound() -> None:
    ticks = FakeMonotonic()
    buckets = TokenBuckets(per_minute=60, burst=1, monotonic=ticks, max_clients=2)
    for client in ("a", "b", "a", "c"):  # "b" is the least recently seen when "c" arrives
        buckets.take(client)
    assert buckets.take("a") is not None  # still remembered: empty
    assert buckets.take("b") is None  # forgotten: a full bucket again


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 10), (-1, 10), (60, 0)])
def test_a_bucket_needs_a_rate_and_a_burst(per_minute: int, burst: int) -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBuckets(per_minute, burst)
