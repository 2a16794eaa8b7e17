"""The NATS JetStream and RabbitMQ publishers against real servers, read back by independent consumers.

Every event published arrives exactly once, its envelope byte for byte, with its id as the message id and the
attributes the adapters promise; JetStream de-duplicates a second publication of the same events; a broker
that cannot be reached fails the call at once instead of hanging; a publisher survives a lost connection.

Each test works on a stream, subjects or exchange named for it alone and removes them afterwards, so tests do
not see each other's messages nor anything a running relay publishes.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import IO

import aio_pika
import nats
import nats.errors
import pytest
from aio_pika.abc import AbstractIncomingMessage
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StorageType

from ec_issuer.brokers.nats import NatsPublisher
from ec_issuer.brokers.rabbitmq import RabbitMqPublisher
from ec_issuer.events.catalogue import EVENT_TYPES
from ec_issuer.events.model import OutboxEvent, new_event
from ec_issuer.events.ports import EventPublisher, PublishFailed
from tests.services import unavailable
from tests.support import SettableClock

COUNT = 500
CONTENT_TYPE = "application/cloudevents+json"
ISSUER_DID = "did:web:issuer.test"


class UuidIds:
    def new_id(self) -> str:
        return str(uuid.uuid4())


def make_events(count: int, type_: str | None = None) -> list[OutboxEvent]:
    ids, clock = UuidIds(), SettableClock()
    return [
        new_event(
            ids,
            clock,
            type_=type_ or EVENT_TYPES[n % len(EVENT_TYPES)],
            source=ISSUER_DID,
            subject=f"urn:uuid:{uuid.uuid4()}",
            data={"n": n, "text": "Grüße ✓"},  # non-ASCII: the bytes must arrive unchanged
        )
        for n in range(count)
    ]


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unique(kind: str) -> str:
    return f"ec-issuer-test-{kind}-{uuid.uuid4().hex[:12]}"


# --- NATS JetStream ---------------------------------------------------------------------------------------


async def fetch_all(jetstream: JetStreamContext, stream: str, prefix: str, expected: int) -> list[Msg]:
    """Every message of the stream through a fresh pull consumer, and proof that none follows the last."""
    subscription = await jetstream.pull_subscribe(f"{prefix}.>", stream=stream)
    received: list[Msg] = []
    try:
        while len(received) < expected:
            batch = await subscription.fetch(min(100, expected - len(received)), timeout=5)
            for message in batch:
                await message.ack()
            received.extend(batch)
        with pytest.raises(nats.errors.TimeoutError):  # nothing more to fetch
            await subscription.fetch(1, timeout=0.5)
    finally:
        await subscription.unsubscribe()
    return received


def test_nats_delivers_each_event_once_with_its_id_and_attributes_and_deduplicates_a_repeat(nats_url: str) -> None:
    tag = uuid.uuid4().hex[:12]
    stream, prefix = f"EC_ISSUER_TEST_{tag.upper()}", f"ec-issuer-test-{tag}"
    events = make_events(COUNT)
    by_id = {event.id: event for event in events}

    async def scenario() -> None:
        publisher = NatsPublisher(nats_url, stream=stream, subject_prefix=prefix)
        admin = await nats.connect(nats_url)
        jetstream = admin.jetstream()
        try:
            assert await publisher.publish(events) == [None] * COUNT

            info = await jetstream.stream_info(stream)  # created on first use
            assert info.config.subjects == [f"{prefix}.>"]
            assert info.config.storage == StorageType.FILE
            assert (info.config.duplicate_window or 0) >= 120
            assert info.state.messages == COUNT

            received = await fetch_all(jetstream, stream, prefix, COUNT)
            assert sorted(message.headers["Nats-Msg-Id"] for message in received if message.headers) == sorted(by_id)
            for message in received:
                headers = message.headers or {}
                event = by_id[headers["Nats-Msg-Id"]]
                assert message.subject == f"{prefix}.{event.type}"
                assert message.data == event.envelope
                assert headers == {
                    "Nats-Msg-Id": event.id,
                    "Nats-Expected-Stream": stream,  # kept with the message, like every header
                    "content-type": CONTENT_TYPE,
                    "ce-specversion": "1.0",
                    "ce-id": event.id,
                    "ce-type": event.type,
                    "ce-source": ISSUER_DID,
                    "ce-subject": event.subject,
                }

            # The same events again, by this publisher and by another one (a second relay): each is
            # confirmed, and the stream keeps its one copy.
            assert await publisher.publish(events) == [None] * COUNT
            other = NatsPublisher(nats_url, stream=stream, subject_prefix=prefix)
            try:
                assert await other.publish(events[:50]) == [None] * 50
            finally:
                await other.close()
            assert (await jetstream.stream_info(stream)).state.messages == COUNT
        finally:
            await publisher.close()
            with suppress(nats.errors.Error):
                await jetstream.delete_stream(stream)
            await admin.close()

    asyncio.run(scenario())


def test_nats_answers_for_each_event_a_failure_that_is_the_events_own(nats_url: str) -> None:
    tag = uuid.uuid4().hex[:12]
    stream, prefix = f"EC_ISSUER_TEST_{tag.upper()}", f"ec-issuer-test-{tag}"
    good = make_events(4)
    bad = make_events(1, type_="org.ec-issuer.not a subject")[0]  # a space cannot be part of a NATS subject

    async def scenario() -> None:
        publisher = NatsPublisher(nats_url, stream=stream, subject_prefix=prefix)
        try:
            answers = await publisher.publish([*good[:2], bad, *good[2:]])
            alone = await publisher.publish([bad])  # still the event's fault, not the broker's: no raise
        finally:
            await publisher.close()
            admin = await nats.connect(nats_url)
            with suppress(nats.errors.Error):
                await admin.jetstream().delete_stream(stream)
            await admin.close()
        assert [answer is None for answer in answers] == [True, True, False, True, True]
        assert bad.id in str(answers[2])
        assert len(alone) == 1
        assert isinstance(alone[0], PublishFailed)

    asyncio.run(scenario())


def test_nats_closed_port_fails_the_call_at_once(nats_url: str) -> None:
    publisher = NatsPublisher(f"nats://127.0.0.1:{closed_port()}", timeout_seconds=3)

    async def scenario() -> None:
        try:
            await publisher.publish(make_events(3))
        finally:
            await publisher.close()

    started = time.monotonic()
    with pytest.raises(PublishFailed, match="cannot connect to NATS"):
        asyncio.run(scenario())
    assert time.monotonic() - started < 1.0  # nats-py alone would retry for two minutes


def test_nats_close_is_idempotent_and_a_closed_publisher_connects_again(nats_url: str) -> None:
    tag = uuid.uuid4().hex[:12]
    stream, prefix = f"EC_ISSUER_TEST_{tag.upper()}", f"ec-issuer-test-{tag}"

    async def scenario() -> None:
        never_used = NatsPublisher(nats_url, stream=stream, subject_prefix=prefix)
        await never_used.close()
        await never_used.close()
        publisher = NatsPublisher(nats_url, stream=stream, subject_prefix=prefix)
        try:
            assert await publisher.publish(make_events(5)) == [None] * 5
            await publisher.close()
            await publisher.close()
            assert await publisher.publish(make_events(5)) == [None] * 5
        finally:
            await publisher.close()
            admin = await nats.connect(nats_url)
            info = await admin.jetstream().stream_info(stream)
            await admin.jetstream().delete_stream(stream)
            await admin.close()
        assert info.state.messages == 10

    asyncio.run(scenario())


class NatsServer:
    """A nats-server of the test's own, with JetStream storage in a directory that outlives a restart."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = closed_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        log_path = self.workdir / "nats.log"
        self._log = log_path.open("ab")
        offset = log_path.stat().st_size  # a restart appends to the log of the first start
        arguments = ["-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.workdir / "store")]
        self._process = subprocess.Popen([self.binary, *arguments], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while b"Server is ready" not in log_path.read_bytes()[offset:]:
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=15)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    binary = shutil.which("nats-server")
    if binary is None:
        unavailable("nats-server", "no `nats-server` binary on PATH (the Debian package nats-server has one)")
    server = NatsServer(binary, tmp_path)
    server.start()
    yield server
    server.stop()


def test_nats_publisher_rides_out_a_server_restart(own_nats: NatsServer) -> None:
    stream, prefix = "EC_ISSUER_RESTART", "ec-issuer-restart"
    before, during, after = make_events(10), make_events(10), make_events(10)

    async def scenario() -> int:
        publisher = NatsPublisher(own_nats.url, stream=stream, subject_prefix=prefix, timeout_seconds=3)
        try:
            assert await publisher.publish(before) == [None] * 10
            own_nats.stop()
            with pytest.raises(PublishFailed):
                await publisher.publish(during)
            own_nats.start()  # same port, same storage: the stream and its messages are back
            assert await publisher.publish(during) == [None] * 10
            assert await publisher.publish(after) == [None] * 10
        finally:
            await publisher.close()
        admin = await nats.connect(own_nats.url)
        try:
            return (await admin.jetstream().stream_info(stream)).state.messages
        finally:
            await admin.close()

    # `during` may have reached the stream twice (nats-py resends what it buffered while disconnected);
    # the message ids make that one copy.
    assert asyncio.run(scenario()) == 30


# --- RabbitMQ ---------------------------------------------------------------------------------------------


async def drain(queue: aio_pika.abc.AbstractQueue, expected: int) -> list[AbstractIncomingMessage]:
    """Every message in the queue, and proof that none follows the last."""
    received: list[AbstractIncomingMessage] = []
    while len(received) < expected:
        message = await queue.get(no_ack=True, fail=False, timeout=5)
        if message is None:
            await asyncio.sleep(0.05)
            continue
        received.append(message)
    assert await queue.get(no_ack=True, fail=False, timeout=5) is None
    return received


def test_rabbitmq_delivers_each_event_once_with_its_id_and_properties(rabbitmq_url: str) -> None:
    exchange_name = unique("exchange")
    events = make_events(COUNT)
    by_id = {event.id: event for event in events}

    async def scenario() -> list[AbstractIncomingMessage]:
        admin = await aio_pika.connect(rabbitmq_url)
        channel = await admin.channel()
        try:
            # The consumer's side: the same exchange the publisher declares, and a queue of its own for all of it.
            exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(exchange, "#")
            publisher = RabbitMqPublisher(rabbitmq_url, exchange=exchange_name)
            try:
                assert await publisher.publish(events) == [None] * COUNT
            finally:
                await publisher.close()
            return await drain(queue, COUNT)
        finally:
            await channel.exchange_delete(exchange_name)
            await admin.close()

    received = asyncio.run(scenario())
    assert sorted(message.message_id or "" for message in received) == sorted(by_id)
    for message in received:
        event = by_id[message.message_id or ""]
        assert message.body == event.envelope
        assert message.routing_key == event.type
        assert message.content_type == CONTENT_TYPE
        assert message.type == event.type
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.timestamp is not None
        assert int(message.timestamp.timestamp()) == int(event.time.timestamp())


def test_rabbitmq_confirms_an_event_no_queue_is_bound_for(rabbitmq_url: str) -> None:
    exchange_name = unique("unbound")

    async def scenario() -> list[PublishFailed | None]:
        publisher = RabbitMqPublisher(rabbitmq_url, exchange=exchange_name)
        try:
            return await publisher.publish(make_events(20))  # mandatory=False: dropped, and confirmed
        finally:
            await publisher.close()
            admin = await aio_pika.connect(rabbitmq_url)
            await (await admin.channel()).exchange_delete(exchange_name)
            await admin.close()

    assert asyncio.run(scenario()) == [None] * 20


def test_rabbitmq_closed_port_fails_the_call_at_once(rabbitmq_url: str) -> None:
    publisher = RabbitMqPublisher(f"amqp://guest:guest@127.0.0.1:{closed_port()}/", timeout_seconds=3)

    async def scenario() -> None:
        try:
            await publisher.publish(make_events(3))
        finally:
            await publisher.close()

    started = time.monotonic()
    with pytest.raises(PublishFailed, match="cannot connect to RabbitMQ") as raised:
        asyncio.run(scenario())
    assert time.monotonic() - started < 1.0
    assert "guest" not in str(raised.value)  # the password stays out of the message


def test_rabbitmq_close_is_idempotent_and_a_closed_publisher_connects_again(rabbitmq_url: str) -> None:
    exchange_name = unique("reopen")

    async def scenario() -> None:
        never_used = RabbitMqPublisher(rabbitmq_url, exchange=exchange_name)
        await never_used.close()
        await never_used.close()
        publisher = RabbitMqPublisher(rabbitmq_url, exchange=exchange_name)
        try:
            assert await publisher.publish(make_events(5)) == [None] * 5
            await publisher.close()
            await publisher.close()
            assert await publisher.publish(make_events(5)) == [None] * 5
        finally:
            await publisher.close()
            admin = await aio_pika.connect(rabbitmq_url)
            await (await admin.channel()).exchange_delete(exchange_name)
            await admin.close()

    asyncio.run(scenario())


def test_rabbitmq_publisher_recovers_its_channel_when_the_exchange_is_deleted(rabbitmq_url: str) -> None:
    """Publishing to a deleted exchange makes the broker close the channel: the call fails as a whole (the
    events are not at fault), and the robust channel comes back, declaring the exchange again."""
    exchange_name = unique("deleted")

    async def scenario() -> None:
        publisher = RabbitMqPublisher(rabbitmq_url, exchange=exchange_name, timeout_seconds=3)
        admin = await aio_pika.connect(rabbitmq_url)
        channel = await admin.channel()
        try:
            assert await publisher.publish(make_events(5)) == [None] * 5
            await channel.exchange_delete(exchange_name)
            with pytest.raises(PublishFailed, match="NOT_FOUND"):
                await publisher.publish(make_events(5))
            deadline = time.monotonic() + 10
            while True:
                try:
                    answers = await publisher.publish(make_events(5))
                    break
                except PublishFailed:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
            assert answers == [None] * 5
        finally:
            await publisher.close()
            await channel.exchange_delete(exchange_name)
            await admin.close()

    asyncio.run(scenario())


# --- both -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("broker", ["nats", "rabbitmq"])
def test_an_empty_call_needs_no_broker(broker: str) -> None:
    port = closed_port()
    publisher: EventPublisher = (
        NatsPublisher(f"nats://127.0.0.1:{port}")
        if broker == "nats"
        else RabbitMqPublisher(f"amqp://guest:guest@127.0.0.1:{port}/")
    )

    async def scenario() -> list[PublishFailed | None]:
        try:
            return await publisher.publish([])
        finally:
            await publisher.close()

    assert asyncio.run(scenario()) == []
