"""Allowances kept in a real Redis (PUBLIC_RATE_STORE): one bucket per client address for every worker and
instance, refilled by Redis's clock, expiring once full again, and let through when Redis does not answer."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ec_issuer.api.app import create_app
from ec_issuer.api.shared_allowances import KEY_PREFIX, SharedTokenBuckets
from ec_issuer.bootstrap import build
from ec_issuer.config import ConfigurationError, load_settings
from tests.services import unavailable
from tests.support import SettableClock, free_port, make_settings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", f"cannot reach {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def address() -> str:
    """A client address no other test uses, so that buckets left in Redis do not interfere."""
    return f"192.0.2.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def workers(redis_url: str) -> Iterator[list[SharedTokenBuckets]]:
    """Two workers' buckets: 3 at once, 1200 a minute (one back every 50 ms)."""
    made = [SharedTokenBuckets(redis_url, per_minute=1200, burst=3) for _ in range(2)]
    yield made
    for buckets in made:
        buckets.close()


def test_every_worker_spends_the_same_allowance(workers: list[SharedTokenBuckets], address: str) -> None:
    first, second = workers
    assert [first.take(address), second.take(address), first.take(address)] == [None, None, None]
    wait = second.take(address)
    assert wait is not None and 0 < wait <= 0.05
    assert first.take(address) is not None  # the other worker sees the same empty bucket
    assert first.take(address + "-neighbour") is None  # another address has an allowance of its own


def test_the_bucket_refills_at_the_rate_by_redis_clock(workers: list[SharedTokenBuckets], address: str) -> None:
    first, second = workers
    for _ in range(3):
        assert first.take(address) is None
    assert second.take(address) is not None
    time.sleep(0.12)  # two tokens come back in 100 ms
    assert second.take(address) is None
    assert first.take(address) is None


def test_a_bucket_is_kept_only_until_it_would_be_full_again(
    redis_url: str, workers: list[SharedTokenBuckets], address: str
) -> None:
    workers[0].take(address)
    client = redis.Redis.from_url(redis_url)
    try:
        ttl_ms = client.pttl(KEY_PREFIX + address)
        # One token spent at 20 a second: full again in 50 ms, kept for a second more.
        assert 0 < ttl_ms <= 1050  # pyright: ignore[reportOperatorIssue]
    finally:
        client.close()


def test_an_unreachable_store_lets_requests_through_and_says_so_once(
    caplog: pytest.LogCaptureFixture, address: str
) -> None:
    buckets = SharedTokenBuckets(f"redis://127.0.0.1:{free_port()}/0", per_minute=60, burst=1)
    try:
        with caplog.at_level(logging.WARNING, logger="ec_issuer.api.shared_allowances"):
            started = time.monotonic()
            answers = [buckets.take(address) for _ in range(5)]
            elapsed = time.monotonic() - started
        assert answers == [None] * 5  # a burst of one would refuse the second request if Redis answered
        assert elapsed < 5
        warnings = [record for record in caplog.records if "PUBLIC_RATE_STORE" in record.getMessage()]
        assert len(warnings) == 1
    finally:
        buckets.close()


def test_two_instances_of_the_service_share_an_address_allowance(
    redis_url: str, sqlite_url: str, tmp_path: Path, address: str
) -> None:
    instances = [
        build(
            make_settings(
                sqlite_url, tmp_path / name, public_rate_per_minute=6, public_rate_burst=2, public_rate_store=redis_url
            ),
            clock=SettableClock(),
        )
        for name in ("a", "b")
    ]
    try:
        clients = [create_app(container).test_client() for container in instances]
        path = "/credentials/00000000-0000-7000-8000-000000000000/"  # no such credential: 404 until limited
        environ = {"REMOTE_ADDR": address}
        answers = [clients[n % 2].get(path, environ_base=environ).status_code for n in range(3)]
        assert answers == [404, 404, 429]
        refused = clients[1].get(path, environ_base=environ)
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 10
    finally:
        for container in instances:
            container.engine.dispose()


@pytest.mark.parametrize("value", ["http://127.0.0.1:6379", "127.0.0.1:6379", "memcached://x"])
def test_a_store_that_is_not_redis_is_refused(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="PUBLIC_RATE_STORE"):
        load_settings({"EC_ISSUER_DATA_DIR": str(tmp_path), "PUBLIC_RATE_STORE": value}, mode="development")


def test_the_store_url_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "store-url"
    secret.write_text("rediss://:password@cache.internal:6380/2\n")
    settings = load_settings(
        {"EC_ISSUER_DATA_DIR": str(tmp_path), "PUBLIC_RATE_STORE_FILE": str(secret)}, mode="development"
    )
    assert settings.public_rate_store == "rediss://:password@cache.internal:6380/2"
    assert "password" not in repr(settings)
