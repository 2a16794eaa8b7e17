"""The SQL credential template store on SQLite and PostgreSQL: upserts, retiring once, listings kept alive by
offers, and the metadata's reads through the per-process cache."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from ec_issuer.bootstrap import Container
from ec_issuer.core.encoding import loads
from ec_issuer.core.system import TimeOrderedIds
from ec_issuer.events import catalogue
from ec_issuer.events.model import OutboxEvent
from ec_issuer.oid4vci.templates import CredentialTemplate
from ec_issuer.storage.cache import ReadCache
from ec_issuer.storage.tables import outbox_events
from ec_issuer.storage.template_store import SqlTemplateStore
from ec_issuer.storage.unit_of_work import SqlUnitOfWork
from tests.integration.test_cached_reads import Checkouts
from tests.integration.test_storage import T0, make_issuer
from tests.support import FakeMonotonic, award_body

ISSUER = make_issuer()


@pytest.fixture
def seeded(container: Container) -> Container:
    with SqlUnitOfWork(container.engine) as uow:
        uow.issuers.add(ISSUER)
        uow.commit()
    return container


@pytest.fixture
def checkouts(seeded: Container) -> Iterator[Checkouts]:
    counter = Checkouts(seeded.engine)
    yield counter
    counter.stop()


def template(template_id: str = "python-101", **changes: Any) -> CredentialTemplate:
    made = CredentialTemplate(
        issuer_slug=ISSUER.slug,
        id=template_id,
        achievement=award_body()["achievement"],
        defaults={"name": "Python 101 certificate"},
        display=({"name": "Python 101", "locale": "en"},),
        formats=("jwt_vc_json", "ldp_vc"),
        created_at=T0,
        updated_at=T0,
    )
    return replace(made, **changes)


def published(container: Container, made: CredentialTemplate, *, replaced: bool = False) -> OutboxEvent:
    return catalogue.template_published(TimeOrderedIds(), container.clock, made, ISSUER.did, "c", replaced=replaced)


def retired(container: Container, made: CredentialTemplate) -> OutboxEvent:
    return catalogue.template_retired(TimeOrderedIds(), container.clock, made, ISSUER.did, "c")


def test_put_replaces_the_content_and_keeps_when_it_was_made(seeded: Container) -> None:
    store = SqlTemplateStore(seeded.engine)
    first = template()
    store.put(first, published(seeded, first))
    store.keep_listed(ISSUER.slug, {first.id}, T0 + timedelta(days=2))
    later = template(formats=("ldp_vc",), updated_at=T0 + timedelta(hours=1), created_at=T0 + timedelta(hours=1))
    store.put(later, published(seeded, later, replaced=True))
    stored = store.template(ISSUER.slug, first.id)
    assert stored == replace(later, created_at=T0, listed_until=T0 + timedelta(days=2))
    assert store.active(ISSUER.slug) == [stored]


def test_a_template_is_retired_once_and_its_listing_follows_the_last_offer(seeded: Container) -> None:
    store = SqlTemplateStore(seeded.engine)
    for made in (template(), template("data-101")):
        store.put(made, published(seeded, made))
    store.keep_listed(ISSUER.slug, {"python-101"}, T0 + timedelta(hours=2))
    store.keep_listed(ISSUER.slug, {"python-101"}, T0 + timedelta(hours=1))  # never shortened
    assert store.retire(ISSUER.slug, "python-101", T0, retired(seeded, template()))
    assert not store.retire(ISSUER.slug, "python-101", T0, retired(seeded, template()))
    assert store.retire(ISSUER.slug, "data-101", T0, retired(seeded, template("data-101")))
    assert [t.id for t in store.listed(ISSUER.slug, T0 + timedelta(hours=1))] == ["python-101"]
    assert store.listed(ISSUER.slug, T0 + timedelta(hours=2)) == []
    assert store.active(ISSUER.slug) == []
    with seeded.engine.connect() as connection:
        types = [loads(row.envelope)["type"] for row in connection.execute(outbox_events.select())]
    assert types.count(catalogue.TEMPLATE_RETIRED) == 2  # the second retirement of python-101 recorded nothing


def test_the_listing_is_read_through_the_cache_and_this_processs_writes_drop_it(
    seeded: Container, checkouts: Checkouts
) -> None:
    clock = FakeMonotonic()
    store = SqlTemplateStore(seeded.engine, ReadCache(5, monotonic=clock))
    other_process = SqlTemplateStore(seeded.engine)
    first = template()
    store.put(first, published(seeded, first))
    assert [t.id for t in store.listed(ISSUER.slug, T0)] == ["python-101"]
    before = checkouts.count
    assert [t.id for t in store.listed(ISSUER.slug, T0)] == ["python-101"]
    assert checkouts.count == before  # answered from the cache
    second = template("data-101")
    other_process.put(second, published(seeded, second))
    assert len(store.listed(ISSUER.slug, T0)) == 1  # another process's write: seen after the time-to-live
    clock.now += 5
    assert len(store.listed(ISSUER.slug, T0)) == 2
    store.retire(ISSUER.slug, "python-101", T0, retired(seeded, first))
    assert [t.id for t in store.listed(ISSUER.slug, T0)] == ["data-101"]  # this process's write: at once
