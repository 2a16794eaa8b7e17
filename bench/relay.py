"""Benchmark the outbox relay against the real brokers: events/s and commit-to-publish latency.

    uv run python bench/relay.py [--brokers nats,rabbitmq] [--events 20000] [--batch-size 500] [--concurrency 3]
                                 [--rate 3000] [--seconds 8] [--postgres-url URL]

For each broker, on a throw-away PostgreSQL database (see issue_jose.postgres_database):

1. throughput: the outbox is filled with ``--events`` events (distinct subjects, as credential events
   are), then one in-process relay (`OutboxRelay` + the broker adapter, as `ec-issuer relay` runs it)
   drains it; events/s = events / wall time from the first claim to the last settle;
2. latency: a producer process (as the service would be) commits events at ``--rate`` per second
   (transactions of 50) for ``--seconds`` while the relay runs; commit-to-publish latency per event =
   the moment the broker's confirmation of it reached the relay - the moment its transaction committed
   (wall clock, both processes on this machine),
   p50 and p99.

Each broker gets its own stream / exchange, deleted afterwards. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from multiprocessing.synchronize import Event as EventFlag
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from issue_jose import postgres_database
from sqlalchemy import Engine, func, insert, select

from ec_issuer.core.system import SystemClock
from ec_issuer.events.model import OutboxEvent, new_event
from ec_issuer.events.ports import EventPublisher, PublishFailed
from ec_issuer.events.relay import OutboxRelay, RelayPolicy
from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.migrate import upgrade
from ec_issuer.storage.outbox import SqlOutboxStore, outbox_row
from ec_issuer.storage.tables import outbox_events

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGETS = {"nats": 8_000, "rabbitmq": 3_000}


class Ids:
    def new_id(self) -> str:
        return str(uuid.uuid4())


def rows(count: int) -> list[dict[str, object]]:
    clock, ids = SystemClock(), Ids()
    made: list[dict[str, object]] = []
    for _ in range(count):
        subject = f"urn:uuid:{uuid.uuid4()}"
        made.append(
            outbox_row(
                new_event(
                    ids,
                    clock,
                    type_="org.ec-issuer.credential.issued",
                    source="did:example:bench",
                    subject=subject,
                    data={"credentialId": subject},
                )
            )
        )
    return made


def fill(engine: Engine, count: int, per_transaction: int = 1000) -> None:
    for start in range(0, count, per_transaction):
        with engine.begin() as connection:
            connection.execute(insert(outbox_events), rows(min(per_transaction, count - start)))


def pending(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).where(outbox_events.c.state == "pending")).scalar_one()


def publisher_for(broker: str, tag: str) -> EventPublisher:
    if broker == "nats":
        from ec_issuer.brokers.nats import NatsPublisher

        return NatsPublisher("nats://127.0.0.1:4222", stream=f"BENCH_{tag}", subject_prefix=f"bench-{tag}")
    from ec_issuer.brokers.rabbitmq import RabbitMqPublisher

    return RabbitMqPublisher("amqp://guest:guest@127.0.0.1:5672/", exchange=f"bench-{tag}")


async def cleanup(broker: str, tag: str) -> None:
    if broker == "nats":
        import nats

        client = await nats.connect("nats://127.0.0.1:4222")
        try:
            await client.jetstream().delete_stream(f"BENCH_{tag}")
        finally:
            await client.close()
    else:
        import aio_pika

        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            channel = await connection.channel()
            await channel.exchange_delete(f"bench-{tag}")


async def relay_while(relay: OutboxRelay, producer_done: EventFlag, engine: Engine) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    # The producer does not exit before its figures are read (a queue's data must be taken first): ask
    # whether it is still producing, not whether it is alive.
    while not producer_done.is_set() or await asyncio.to_thread(pending, engine):
        await asyncio.sleep(0.05)
    stop.set()
    await running


class TimedPublisher:
    """Delegates to a broker adapter and notes when each event's confirmation came back."""

    def __init__(self, inner: EventPublisher) -> None:
        self.inner = inner
        self.confirmed_at: dict[str, float] = {}

    async def publish(self, events: Sequence[OutboxEvent]) -> list[PublishFailed | None]:
        outcomes = await self.inner.publish(events)
        now = time.time()
        for event, outcome in zip(events, outcomes, strict=True):
            if outcome is None:
                self.confirmed_at.setdefault(event.id, now)
        return outcomes

    async def close(self) -> None:
        await self.inner.close()


def produce_at_rate(
    url: str, rate: int, seconds: float, committed: multiprocessing.Queue[dict[str, float]], done: EventFlag
) -> None:
    """The producer, in a process of its own as the service is: commits ``rate`` events/s, then hands back
    when each event's transaction committed."""
    engine = make_engine(url)
    per_transaction = 50
    interval = per_transaction / rate
    committed_at: dict[str, float] = {}
    started = time.monotonic()
    sent = 0
    try:
        while time.monotonic() - started < seconds:
            batch = rows(per_transaction)
            with engine.begin() as connection:
                connection.execute(insert(outbox_events), batch)
            now = time.time()
            committed_at.update((str(row["id"]), now) for row in batch)
            sent += 1
            delay = started + sent * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    finally:
        engine.dispose()
        done.set()
        committed.put(committed_at)


def latencies(committed_at: dict[str, float], confirmed_at: dict[str, float]) -> list[float]:
    missing = set(committed_at) - set(confirmed_at)
    if missing:
        raise SystemExit(f"{len(missing)} committed events were never confirmed")
    return sorted((confirmed_at[event_id] - at) * 1000 for event_id, at in committed_at.items())


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, round(share * (len(values) - 1)))]


def bench(broker: str, url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    upgrade(engine)
    tag = uuid.uuid4().hex[:8]
    policy = RelayPolicy(batch_size=args.batch_size, concurrency=args.concurrency)
    try:
        with engine.begin() as connection:
            connection.execute(outbox_events.delete())
        fill(engine, args.events)
        # A publisher per phase: each asyncio.run is a new event loop, and a publisher belongs to one loop.
        publisher = publisher_for(broker, tag)
        relay = OutboxRelay(SqlOutboxStore(engine), publisher, SystemClock(), policy)
        started = time.perf_counter()
        asyncio.run(drain_then_close(relay, publisher))
        elapsed = time.perf_counter() - started
        rate = args.events / elapsed
        verdict = "MET" if rate >= TARGETS[broker] else "NOT MET"
        print(
            f"{broker:<9} throughput: {args.events:,} events in {elapsed:.2f} s = {rate:,.0f} events/s "
            f"(batch {args.batch_size}, {args.concurrency} in flight; target >= {TARGETS[broker]:,}/s: {verdict})"
        )

        with engine.begin() as connection:
            connection.execute(outbox_events.delete())
        committed: multiprocessing.Queue[dict[str, float]] = multiprocessing.Queue()
        producer_done = multiprocessing.Event()
        producer = multiprocessing.Process(
            target=produce_at_rate, args=(url, args.rate, args.seconds, committed, producer_done)
        )
        timed = TimedPublisher(publisher_for(broker, tag))
        relay = OutboxRelay(SqlOutboxStore(engine), timed, SystemClock(), policy)
        producer.start()
        try:
            asyncio.run(relay_then_close(relay, timed, producer_done, engine))
            committed_at = committed.get()
        finally:
            producer.terminate()  # a no-op once it has finished; otherwise it would wait for its figures to be read
            producer.join()
        measured = latencies(committed_at, timed.confirmed_at)
        p50, p99 = percentile(measured, 0.50), percentile(measured, 0.99)
        verdict = "MET" if p99 < 100 else "NOT MET"
        print(
            f"{broker:<9} latency at {args.rate:,} events/s for {args.seconds:.0f} s: {len(measured):,} events, "
            f"commit-to-publish p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {measured[-1]:.1f} ms, "
            f"mean {statistics.fmean(measured):.1f} ms (p99 < 100 ms: {verdict})"
        )
    finally:
        asyncio.run(cleanup(broker, tag))
        engine.dispose()


async def drain_then_close(relay: OutboxRelay, publisher: EventPublisher) -> None:
    try:
        await relay.drain()
    finally:
        await publisher.close()


async def relay_then_close(
    relay: OutboxRelay, publisher: EventPublisher, producer_done: EventFlag, engine: Engine
) -> None:
    try:
        await relay_while(relay, producer_done, engine)
    finally:
        await publisher.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", default="nats,rabbitmq")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=RelayPolicy().batch_size)
    parser.add_argument("--concurrency", type=int, default=RelayPolicy().concurrency, help="batches in flight")
    parser.add_argument("--rate", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    for broker in args.brokers.split(","):
        with postgres_database(args.postgres_url) as url:
            if url is None:
                return
            bench(broker, url, args)


if __name__ == "__main__":
    main()
