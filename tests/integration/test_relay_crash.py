"""The acceptance test of the relay against the real brokers: 10,000 events produced while the relay
process is killed with SIGKILL at random moments and restarted, and its broker connection is cut once.
A consumer must find every event id; duplicates (redeliveries) are counted and reported.

Runs on PostgreSQL (the production database for several relays); the relay is `ec-issuer relay`, a
real process, reaching the broker through a TCP proxy that the test can cut."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from yarl import URL

from ec_issuer.core.encoding import loads
from ec_issuer.events.model import OutboxEvent, new_event
from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.outbox import SqlOutbox
from ec_issuer.storage.session import LazyConnection
from ec_issuer.storage.tables import outbox_events
from tests.support import SettableClock

EVENTS = 10_000
KILLS = 5


class CuttableProxy:
    """Forwards TCP connections to a broker; `cut()` drops every open connection at once."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
        with self._lock:
            self._open.difference_update((source, sink))

    def cut(self) -> None:
        with self._lock:
            for connection in list(self._open):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                    connection.close()
            self._open.clear()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.cut()


def address_of(url: str, default_port: int) -> tuple[str, int]:
    parsed = URL(url)
    return parsed.host or "127.0.0.1", parsed.port or default_port


class Ids:
    def new_id(self) -> str:
        return str(uuid.uuid4())


def produce(url: str, produced: list[str], done: threading.Event) -> None:
    """10,000 events in transactions of 100, over about 10 s, while the relay works and dies."""
    engine = make_engine(url)
    clock = SettableClock()
    try:
        for batch in range(EVENTS // 100):
            connection = LazyConnection(engine)
            outbox = SqlOutbox(connection)
            for index in range(100):
                subject = f"urn:uuid:crash-{(batch * 100 + index) % 500}"
                event: OutboxEvent = new_event(
                    Ids(),
                    clock,
                    type_="org.ec-issuer.credential.issued",
                    source="did:example:crash",
                    subject=subject,
                    data={"n": index},
                )
                outbox.add(event)
                produced.append(event.id)
            connection.commit()
            connection.retire()
            time.sleep(0.1)
    finally:
        engine.dispose()
        done.set()


def start_relay(url: str, env: dict[str, str], data_dir: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        **env,
        "DATABASE_URL": url,
        "EC_ISSUER_ENV": "production",
        "KEYSTORE_SECRET": "relay-crash-test-secret-not-used-for-keys",
        "EC_ISSUER_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from ec_issuer.cli.main import cli; cli()", "relay", "--batch-size", "200"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def pending(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).where(outbox_events.c.state != "delivered")).scalar_one()
    finally:
        engine.dispose()


def run_with_crashes(url: str, env: dict[str, str], proxy: CuttableProxy, data_dir: Path) -> list[str]:
    produced: list[str] = []
    done = threading.Event()
    producer = threading.Thread(target=produce, args=(url, produced, done))
    producer.start()
    relay = start_relay(url, env, data_dir)
    rng = random.Random(20261206)  # noqa: S311 - kill timings, reproducible by seed
    try:
        for kill in range(KILLS):
            time.sleep(rng.uniform(0.5, 2.0))
            if kill == 2:
                proxy.cut()  # the broker connection goes, the relay process stays
                time.sleep(rng.uniform(0.5, 1.5))
            relay.send_signal(signal.SIGKILL)
            relay.wait(10)
            if relay.stderr is not None:
                relay.stderr.close()
            relay = start_relay(url, env, data_dir)
        producer.join(60)
        deadline = time.monotonic() + 120
        while pending(url) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert pending(url) == 0, "the relay did not publish everything within two minutes"
    finally:
        relay.send_signal(signal.SIGTERM)
        try:
            _, errors = relay.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            relay.kill()
            _, errors = relay.communicate()
        producer.join(60)
    assert relay.returncode == 0, errors.decode(errors="replace")[-2000:]
    return produced


@pytest.fixture
def clean_outbox(postgres_url: str) -> Iterator[str]:
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(delete(outbox_events))
    engine.dispose()
    yield postgres_url


def report(broker: str, produced: list[str], received: list[str], seconds: float) -> None:
    counts = Counter(received)
    missing = set(produced) - set(counts)
    duplicates = sum(n - 1 for n in counts.values())
    print(  # noqa: T201 - the figures this test exists to report
        f"\n[{broker}] {len(produced)} produced, {len(counts)} distinct received, {len(missing)} missing, "
        f"{duplicates} duplicates (at-least-once redeliveries), {KILLS} SIGKILLs + 1 cut connection, {seconds:.1f} s"
    )
    assert not missing, f"{len(missing)} events never reached {broker}"
    assert set(counts) == set(produced)


def test_nats_receives_every_event_through_crashes(clean_outbox: str, nats_url: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    stream, prefix = f"CRASH_{tag}", f"crash-{tag}"
    proxy = CuttableProxy(address_of(nats_url, 4222))
    started = time.monotonic()
    try:
        produced = run_with_crashes(
            clean_outbox,
            {
                "EVENT_BROKER": "nats",
                "NATS_URL": f"nats://127.0.0.1:{proxy.port}",
                "NATS_STREAM": stream,
                "NATS_SUBJECT_PREFIX": prefix,
            },
            proxy,
            tmp_path,
        )
    finally:
        proxy.close()
    received, stored = asyncio.run(read_nats_stream(nats_url, stream))
    report("nats", produced, received, time.monotonic() - started)
    assert stored == len(received)
    assert len(received) == EVENTS, "JetStream de-duplicates on Nats-Msg-Id: no event should be stored twice"


async def read_nats_stream(url: str, stream: str, *, with_subjects: bool = False) -> tuple[list[Any], int]:
    """Every message of the stream in stream order: its event id (and the CloudEvent subject), then
    deletes the stream."""
    import nats

    client = await nats.connect(url)
    try:
        jetstream = client.jetstream()
        info = await jetstream.stream_info(stream)
        found: list[Any] = []
        subscription = await jetstream.pull_subscribe("", stream=stream)
        while len(found) < info.state.messages:
            for message in await subscription.fetch(1000, timeout=5):
                event_id = (message.headers or {})["Nats-Msg-Id"]
                found.append((event_id, loads(message.data)["subject"]) if with_subjects else event_id)
                await message.ack()
        await jetstream.delete_stream(stream)
        return found, info.state.messages
    finally:
        await client.close()


def test_rabbitmq_receives_every_event_through_crashes(clean_outbox: str, rabbitmq_url: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    exchange, queue = f"crash-{tag}", f"crash-{tag}"
    asyncio.run(bind_queue(rabbitmq_url, exchange, queue))
    proxy = CuttableProxy(address_of(rabbitmq_url, 5672))
    started = time.monotonic()
    try:
        produced = run_with_crashes(
            clean_outbox,
            {
                "EVENT_BROKER": "rabbitmq",
                "RABBITMQ_URL": str(URL(rabbitmq_url).with_host("127.0.0.1").with_port(proxy.port)),
                "RABBITMQ_EXCHANGE": exchange,
            },
            proxy,
            tmp_path,
        )
    finally:
        proxy.close()
    received = asyncio.run(drain_queue(rabbitmq_url, exchange, queue))
    report("rabbitmq", produced, received, time.monotonic() - started)


async def bind_queue(url: str, exchange_name: str, queue_name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "#")


async def drain_queue(url: str, exchange_name: str, queue_name: str) -> list[str]:
    """The consumer-side de-duplication example of docs/events.md counts on message_id, as here."""
    import aio_pika

    connection = await aio_pika.connect(url)
    ids: list[str] = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            ids.append(str(message.message_id))
        await queue.delete(if_unused=False, if_empty=False)
        await channel.exchange_delete(exchange_name)
    return ids


def test_two_relays_at_once_publish_each_event_once_in_order_per_subject(
    clean_outbox: str, nats_url: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    stream = f"TWO_{tag}"
    env = {
        "EVENT_BROKER": "nats",
        "NATS_URL": nats_url,
        "NATS_STREAM": stream,
        "NATS_SUBJECT_PREFIX": f"two-{tag}",
    }
    produced: list[str] = []
    done = threading.Event()
    producer = threading.Thread(target=produce, args=(clean_outbox, produced, done))
    producer.start()
    relays = [start_relay(clean_outbox, env, tmp_path / name) for name in ("a", "b")]
    try:
        producer.join(120)
        deadline = time.monotonic() + 120
        while pending(clean_outbox) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert pending(clean_outbox) == 0
    finally:
        for relay in relays:
            relay.send_signal(signal.SIGTERM)
            relay.communicate(timeout=20)
    assert all(relay.returncode == 0 for relay in relays)
    received, stored = asyncio.run(read_nats_stream(nats_url, stream, with_subjects=True))
    assert stored == EVENTS == len(received)
    assert sorted(event_id for event_id, _ in received) == sorted(produced)
    # Within each subject, the stream holds the events in the order they were committed.
    position = {event_id: index for index, event_id in enumerate(produced)}
    by_subject: dict[str, list[int]] = {}
    for event_id, subject in received:
        by_subject.setdefault(subject, []).append(position[event_id])
    assert len(by_subject) == 500
    assert all(order == sorted(order) for order in by_subject.values())
