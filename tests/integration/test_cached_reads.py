"""The SQL unit of work with the read cache, on SQLite and PostgreSQL: hot reads skip the database,
this process's writes are seen at once, other processes' writes within the time-to-live."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event

from ec_issuer.bootstrap import Container
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import SigningKey
from ec_issuer.storage.cache import ReadCache
from ec_issuer.storage.unit_of_work import SqlUnitOfWork
from tests.integration.test_storage import T0, make_client, make_issuer, make_key
from tests.support import FakeMonotonic


class Checkouts:
    """Counts connections taken from the engine's pool."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._engine = engine
        event.listen(engine, "checkout", self._checked_out)

    def _checked_out(self, *_: object) -> None:
        self.count += 1

    def stop(self) -> None:
        event.remove(self._engine, "checkout", self._checked_out)


@pytest.fixture
def checkouts(container: Container) -> Iterator[Checkouts]:
    counter = Checkouts(container.engine)
    yield counter
    counter.stop()


CLIENT = make_client()


def newer_key(issuer: Issuer, kid: str) -> SigningKey:
    return replace(make_key(issuer, created_at=T0 + timedelta(hours=1)), kid=f"{issuer.did}#{kid}")


@pytest.fixture
def seeded(container: Container) -> Issuer:
    issuer = make_issuer()
    with SqlUnitOfWork(container.engine) as uow:
        uow.issuers.add(issuer)
        uow.keys.add(make_key(issuer))
        uow.clients.add(CLIENT)
        uow.commit()
    return issuer


def test_cached_reads_need_no_connection(container: Container, seeded: Issuer, checkouts: Checkouts) -> None:
    cache = ReadCache(5, monotonic=FakeMonotonic())
    with SqlUnitOfWork(container.engine, cache) as uow:
        first = (
            uow.issuers.get(seeded.slug),
            uow.keys.for_issuer(seeded.slug),
            uow.clients.get_by_token_hash(CLIENT.token_hash),
        )
    assert checkouts.count == 1

    with SqlUnitOfWork(container.engine, cache) as uow:
        again = (
            uow.issuers.get(seeded.slug),
            uow.keys.for_issuer(seeded.slug),
            uow.clients.get_by_token_hash(CLIENT.token_hash),
        )
    assert checkouts.count == 1  # answered from the cache, no connection taken
    assert again == first
    assert first[0] == seeded
    assert first[2] == CLIENT


def test_a_write_through_this_process_is_seen_at_once(container: Container, seeded: Issuer) -> None:
    cache = ReadCache(5, monotonic=FakeMonotonic())
    with SqlUnitOfWork(container.engine, cache) as uow:
        assert len(uow.keys.for_issuer(seeded.slug)) == 1
    with SqlUnitOfWork(container.engine, cache) as uow:
        uow.keys.add(newer_key(seeded, "second"))
        uow.commit()
    with SqlUnitOfWork(container.engine, cache) as uow:
        assert [key.kid for key in uow.keys.for_issuer(seeded.slug)][-1] == f"{seeded.did}#second"


def test_a_write_by_another_process_is_seen_after_the_time_to_live(container: Container, seeded: Issuer) -> None:
    clock = FakeMonotonic()
    cache = ReadCache(5, monotonic=clock)
    with SqlUnitOfWork(container.engine, cache) as uow:
        assert len(uow.keys.for_issuer(seeded.slug)) == 1
    with SqlUnitOfWork(container.engine) as other_process:  # its own (empty) cache
        other_process.keys.add(newer_key(seeded, "second"))
        other_process.commit()

    with SqlUnitOfWork(container.engine, cache) as uow:
        assert len(uow.keys.for_issuer(seeded.slug)) == 1  # still the cached copy
    clock.now += 5
    with SqlUnitOfWork(container.engine, cache) as uow:
        assert len(uow.keys.for_issuer(seeded.slug)) == 2


def test_a_rolled_back_write_leaves_no_trace_in_the_cache(container: Container, seeded: Issuer) -> None:
    cache = ReadCache(5, monotonic=FakeMonotonic())
    with SqlUnitOfWork(container.engine, cache) as uow:
        uow.keys.add(newer_key(seeded, "abandoned"))
        assert len(uow.keys.for_issuer(seeded.slug)) == 2  # the transaction sees its own write
        # leaving without commit rolls back; that uncommitted read must not reach other requests
    with SqlUnitOfWork(container.engine, cache) as uow:
        kids = [key.kid for key in uow.keys.for_issuer(seeded.slug)]
    assert len(kids) == 1
    assert not kids[0].endswith("#abandoned")


def test_a_key_added_by_another_process_signs_at_once_though_the_key_list_is_cached(
    container: Container, seeded: Issuer
) -> None:
    from ec_issuer.keys.model import Algorithm
    from ec_issuer.keys.service import active_signing_key

    cache = ReadCache(5, monotonic=FakeMonotonic())
    with SqlUnitOfWork(container.engine, cache) as uow:
        assert [k.algorithm for k in uow.keys.for_issuer(seeded.slug)] == [Algorithm.ES256]  # now cached
    eddsa = replace(newer_key(seeded, "eddsa"), algorithm=Algorithm.EDDSA)
    with SqlUnitOfWork(container.engine) as other_process:
        other_process.keys.add(eddsa)
        other_process.commit()

    with SqlUnitOfWork(container.engine, cache) as uow:
        assert active_signing_key(uow, seeded, Algorithm.EDDSA, "/algorithm").kid == eddsa.kid
    with SqlUnitOfWork(container.engine, cache) as uow:  # and the cache holds the fresh list from then on
        assert len(uow.keys.for_issuer(seeded.slug)) == 2
