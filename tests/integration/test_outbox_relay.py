"""The outbox relay against the real databases, with a recording publisher standing in for the broker
(the broker adapters have their own tests against the real NATS and RabbitMQ): order per subject,
several relays at once, retries, dead letters, expired leases, a broker that is away."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, func, select

from ec_issuer.core.encoding import loads
from ec_issuer.events.model import OutboxEvent, new_event
from ec_issuer.events.ports import PublishFailed
from ec_issuer.events.relay import BackgroundRelay, OutboxRelay, RelayPolicy
from ec_issuer.storage.migrate import upgrade
from ec_issuer.storage.outbox import SqlOutbox, SqlOutboxStore
from ec_issuer.storage.session import LazyConnection
from ec_issuer.storage.tables import outbox_events
from tests.services import terminate_connections_to
from tests.support import SettableClock


class Ids:
    def new_id(self) -> str:
        return str(uuid.uuid4())


class Recorder:
    """Confirms every event except those it is told to refuse; remembers the order it saw them in."""

    def __init__(self, refuse: set[str] | None = None, down: bool = False) -> None:
        self.seen: list[OutboxEvent] = []
        self.refuse = refuse or set()
        self.down = down

    async def publish(self, events: Sequence[OutboxEvent]) -> list[PublishFailed | None]:
        if self.down:
            raise PublishFailed("connection refused")
        await asyncio.sleep(0)
        self.seen.extend(e for e in events if e.subject not in self.refuse)
        return [PublishFailed("message too large") if e.subject in self.refuse else None for e in events]

    async def close(self) -> None:
        return None


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def record(engine: Engine, clock: SettableClock, subjects: Sequence[str]) -> list[OutboxEvent]:
    events: list[OutboxEvent] = []
    connection = LazyConnection(engine)
    outbox = SqlOutbox(connection)
    for subject in subjects:
        event = new_event(Ids(), clock, type_="org.ec-issuer.test", source="did:example:i", subject=subject, data={})
        outbox.add(event)
        events.append(event)
    connection.commit()
    connection.retire()
    return events


def states(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(outbox_events.c.state, func.count()).group_by(outbox_events.c.state))
        return {row[0]: row[1] for row in rows}


def drain(relay: OutboxRelay, rounds: int = 500) -> None:
    """Run the relay until nothing is due (or for at most ``rounds`` batches)."""

    async def go() -> None:
        for _ in range(rounds):
            if await relay.run_once() == 0:
                return

    asyncio.run(go())


def test_every_event_is_published_once_in_order(engine: Engine, clock: SettableClock) -> None:
    events = record(engine, clock, [f"urn:uuid:s{i % 7}" for i in range(250)])
    publisher = Recorder()
    drain(OutboxRelay(SqlOutboxStore(engine), publisher, clock, RelayPolicy(batch_size=40)))
    assert sorted(e.id for e in publisher.seen) == sorted(e.id for e in events)
    assert states(engine) == {"delivered": 250}
    for subject in {e.subject for e in events}:
        assert [e.id for e in publisher.seen if e.subject == subject] == [e.id for e in events if e.subject == subject]
    assert loads(publisher.seen[0].envelope)["specversion"] == "1.0"


def test_two_relays_share_the_work_and_keep_order_per_subject(engine: Engine, clock: SettableClock) -> None:
    events = record(engine, clock, [f"urn:uuid:s{i % 40}" for i in range(400)])
    publisher = Recorder()
    store = SqlOutboxStore(engine)
    first = OutboxRelay(store, publisher, clock, RelayPolicy(batch_size=17))
    second = OutboxRelay(store, publisher, clock, RelayPolicy(batch_size=23))

    async def both() -> None:
        for _ in range(500):  # a batch holds at most one event per subject, so the relays take turns
            if sum(await asyncio.gather(first.run_once(), second.run_once())) == 0:
                return

    asyncio.run(both())
    assert sorted(e.id for e in publisher.seen) == sorted(e.id for e in events)  # each once
    for subject in {e.subject for e in events}:
        assert [e.id for e in publisher.seen if e.subject == subject] == [e.id for e in events if e.subject == subject]
    assert first.stats.published > 0 and second.stats.published > 0
    assert states(engine) == {"delivered": 400}


def test_a_poison_event_is_retried_then_dead_lettered_without_blocking_others(
    engine: Engine, clock: SettableClock
) -> None:
    record(engine, clock, ["urn:uuid:poison", "urn:uuid:fine", "urn:uuid:poison", "urn:uuid:fine"])
    publisher = Recorder(refuse={"urn:uuid:poison"})
    policy = RelayPolicy(max_attempts=3, first_backoff=timedelta(seconds=10))
    relay = OutboxRelay(SqlOutboxStore(engine), publisher, clock, policy)
    drain(relay)
    assert [e.subject for e in publisher.seen] == ["urn:uuid:fine", "urn:uuid:fine"]
    assert states(engine) == {"delivered": 2, "pending": 2}
    for _ in range(4):  # backoff: 10 s, then 20 s
        clock.advance(timedelta(seconds=30))
        drain(relay)
    assert states(engine) == {"delivered": 2, "dead": 2}  # the second poison event followed the first
    with engine.connect() as connection:
        dead = connection.execute(select(outbox_events).where(outbox_events.c.state == "dead")).all()
    assert all(row.attempts == 3 and row.last_error == "message too large" for row in dead)


def test_a_broker_that_is_away_costs_no_attempts(engine: Engine, clock: SettableClock) -> None:
    record(engine, clock, ["urn:uuid:a", "urn:uuid:b"])
    publisher = Recorder(down=True)
    relay = OutboxRelay(SqlOutboxStore(engine), publisher, clock)
    with pytest.raises(PublishFailed):
        asyncio.run(relay.run_once())
    with engine.connect() as connection:
        rows = connection.execute(select(outbox_events.c.attempts, outbox_events.c.claimed_by)).all()
    assert [(row.attempts, row.claimed_by) for row in rows] == [(0, None), (0, None)]
    publisher.down = False
    drain(relay)
    assert states(engine) == {"delivered": 2}


def test_a_dead_relays_lease_expires_and_another_publishes(engine: Engine, clock: SettableClock) -> None:
    events = record(engine, clock, ["urn:uuid:x"])
    store = SqlOutboxStore(engine)
    store.claim("crashed-relay", 10, clock.now(), timedelta(seconds=30))  # claimed, then the process died
    publisher = Recorder()
    relay = OutboxRelay(store, publisher, clock)
    drain(relay)
    assert publisher.seen == []  # leased by the dead relay
    clock.advance(timedelta(seconds=31))
    drain(relay)
    assert [e.id for e in publisher.seen] == [events[0].id]
    store.settle("crashed-relay", [], datetime.now(UTC))  # a late settle of a lost lease changes nothing
    assert states(engine) == {"delivered": 1}


def test_stats_dead_letters_and_replay(engine: Engine, clock: SettableClock) -> None:
    record(engine, clock, ["urn:uuid:poison", "urn:uuid:fine"])
    store = SqlOutboxStore(engine)
    clock.advance(timedelta(seconds=90))
    assert store.stats(clock.now()).oldest_pending_age_seconds == 90
    relay = OutboxRelay(store, Recorder(refuse={"urn:uuid:poison"}), clock, RelayPolicy(max_attempts=1))
    drain(relay)
    stats = store.stats(clock.now())
    assert (stats.pending, stats.dead, stats.delivered, stats.oldest_pending_age_seconds) == (0, 1, 1, None)
    [dead] = store.dead_letters()
    assert (dead.subject, dead.attempts, dead.error) == ("urn:uuid:poison", 1, "message too large")
    assert store.replay([dead.seq]) == 1
    assert store.replay() == 0
    healed = Recorder()
    drain(OutboxRelay(store, healed, clock))
    assert [e.subject for e in healed.seen] == ["urn:uuid:poison"]
    assert states(engine) == {"delivered": 2}


def test_a_background_relay_publishes_until_stopped(engine: Engine, clock: SettableClock) -> None:
    events = record(engine, clock, [f"urn:uuid:bg{i}" for i in range(30)])
    publisher = Recorder()
    background = BackgroundRelay(OutboxRelay(SqlOutboxStore(engine), publisher, clock), publisher)
    background.start()
    try:
        deadline = time.monotonic() + 10
        while states(engine) != {"delivered": 30}:
            assert time.monotonic() < deadline, states(engine)
            time.sleep(0.05)
    finally:
        background.stop()
    assert sorted(e.id for e in publisher.seen) == sorted(e.id for e in events)


def test_a_relay_outlives_a_database_outage(postgres_url: str, clock: SettableClock) -> None:
    """PostgreSQL drops every connection (a restart, a failover): the relay's next claim fails. The relay backs
    off and carries on, instead of ending and leaving later events unpublished until the process restarts."""
    relay_engine = create_engine(postgres_url)
    observer = create_engine(postgres_url, pool_pre_ping=True)  # the test's own reads survive the outage
    with observer.begin() as connection:
        connection.execute(outbox_events.delete())
    publisher = Recorder()
    policy = RelayPolicy(first_backoff=timedelta(milliseconds=100), concurrency=1)
    background = BackgroundRelay(OutboxRelay(SqlOutboxStore(relay_engine), publisher, clock, policy), publisher)
    background.start()
    try:
        before = record(observer, clock, [f"urn:uuid:before{i}" for i in range(5)])
        _wait_until_delivered(observer, 5)
        assert terminate_connections_to(postgres_url) >= 1  # the relay's pooled connection among them
        time.sleep(0.3)  # the relay's next claims meet the dead connection
        after = record(observer, clock, [f"urn:uuid:after{i}" for i in range(5)])
        _wait_until_delivered(observer, 10)
    finally:
        background.stop()
        relay_engine.dispose()
        observer.dispose()
    assert sorted(e.id for e in publisher.seen) == sorted(e.id for e in before + after)


def _wait_until_delivered(engine: Engine, count: int) -> None:
    deadline = time.monotonic() + 15
    while states(engine) != {"delivered": count}:
        assert time.monotonic() < deadline, states(engine)
        time.sleep(0.05)
