"""The per-process read cache: entries expire, writes drop their region, a zero time-to-live caches nothing."""

from __future__ import annotations

import pytest

from ec_issuer.storage.cache import ReadCache, Region
from tests.support import FakeMonotonic


def test_an_entry_is_served_until_it_expires() -> None:
    clock = FakeMonotonic()
    cache = ReadCache(5, monotonic=clock)
    cache.put(Region.ISSUERS, "acme", "ACME")

    clock.now += 4.9
    assert cache.get(Region.ISSUERS, "acme") == "ACME"
    clock.now += 0.1
    assert cache.get(Region.ISSUERS, "acme") is None


def test_invalidating_a_region_leaves_the_others() -> None:
    cache = ReadCache(5, monotonic=FakeMonotonic())
    cache.put(Region.ISSUERS, "acme", "ACME")
    cache.put(Region.KEYS, "acme", ("key",))
    cache.put(Region.CLIENTS, "hash", "client")

    cache.invalidate(Region.KEYS)

    assert cache.get(Region.KEYS, "acme") is None
    assert cache.get(Region.ISSUERS, "acme") == "ACME"
    assert cache.get(Region.CLIENTS, "hash") == "client"


def test_regions_do_not_share_keys() -> None:
    cache = ReadCache(5, monotonic=FakeMonotonic())
    cache.put(Region.ISSUERS, "acme", "issuer")
    cache.put(Region.KEYS, "acme", "keys")
    assert (cache.get(Region.ISSUERS, "acme"), cache.get(Region.KEYS, "acme")) == ("issuer", "keys")


def test_a_zero_time_to_live_caches_nothing() -> None:
    cache = ReadCache(0)
    cache.put(Region.ISSUERS, "acme", "ACME")
    assert not cache.enabled
    assert cache.get(Region.ISSUERS, "acme") is None


def test_a_negative_time_to_live_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        ReadCache(-1)
