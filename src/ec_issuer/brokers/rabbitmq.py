"""The outbox published to RabbitMQ: one durable topic exchange, routing key = event type, publisher confirms.

Each event is one persistent message whose body is its CloudEvent JSON envelope (structured mode,
``content_type`` ``application/cloudevents+json``), with ``message_id`` = the event id, ``type`` = the
event type and ``timestamp`` = when the change happened (AMQP keeps whole seconds; the envelope's ``time`` is
exact). It counts as delivered once the broker confirms it (``basic.ack`` on a channel in confirm mode), that
is once every queue it was routed to has taken it, and, for durable queues, written it down.

RabbitMQ does not de-duplicate: an event published again (a relay's lease ran out, or a confirm was lost)
arrives twice, with the same ``message_id``, and consumers de-duplicate on it.

Messages are published with ``mandatory=False``: an event no queue is bound for is dropped by the exchange
and still confirmed. In AMQP the exchange only routes and queues store, so whoever needs every event binds a
durable queue (or the operator sets an alternate exchange) before events flow. With ``mandatory=True`` the
broker would return such an event, and treating the return as a failure would keep the outbox from draining,
and send its events to the dead letters, merely because nobody listens yet.

The adapter speaks aiormq (the AMQP client under aio-pika) directly: aio-pika's message objects and robust
wrappers doubled the CPU per event (bench/relay.py: 3,300-3,900 events/s through aio-pika, against 7,300/s
for bare aiormq on this machine). Reconnection is the relay's: a call that finds the connection or the
channel closed opens them again, and one that fails raises PublishFailed so that the relay backs off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final

from aiormq import Connection
from aiormq.abc import AbstractChannel
from aiormq.exceptions import AMQPChannelError, AMQPConnectionError, AMQPError, ChannelInvalidStateError
from pamqp.commands import Basic
from yarl import URL

from ec_issuer.brokers.outcomes import answers, describe
from ec_issuer.events.model import OutboxEvent
from ec_issuer.events.ports import PublishFailed

log = logging.getLogger(__name__)

CONTENT_TYPE: Final = "application/cloudevents+json"
_PERSISTENT: Final = 2
# Failures that are the broker's, not the event's: when every event of a call fails with one of these, the
# call raises, so that the relay waits for the broker instead of counting an attempt against each event.
# A nack (DeliveryError) is the broker refusing that one message, so it is not among them.
_BROKER_TROUBLE: Final = (
    TimeoutError,  # no confirm in time; also what a broker blocked by a memory or disk alarm looks like
    AMQPConnectionError,
    AMQPChannelError,
    ChannelInvalidStateError,
    ConnectionError,
    OSError,
    RuntimeError,  # aiormq's "closed" for a channel asked of a connection that has just been lost
    asyncio.CancelledError,  # the channel was closed under the publication
)


class RabbitMqPublisher:
    """Events to one topic exchange over one connection and one confirming channel, opened on first use and
    again whenever a call finds either closed."""

    def __init__(self, url: str, exchange: str = "ec-issuer.events", timeout_seconds: float = 5.0) -> None:
        if timeout_seconds <= 0:
            raise ValueError("the timeout must be positive")
        self._url = URL(url)
        self._exchange = exchange
        self._timeout = timeout_seconds
        # The URL carries the password: errors and logs name the broker without it.
        self._where = str(self._url.with_user(None).with_query(None))
        self._connection: Connection | None = None
        self._channel: AbstractChannel | None = None
        self._lock = asyncio.Lock()

    async def publish(self, events: Sequence[OutboxEvent]) -> list[PublishFailed | None]:
        if not events:
            return []
        channel = await self._ready()
        sending = (self._publish_one(channel, event) for event in events)
        outcomes = await asyncio.gather(*sending, return_exceptions=True)
        return answers(events, outcomes, f"RabbitMQ at {self._where}", _BROKER_TROUBLE)

    async def close(self) -> None:
        async with self._lock:
            connection, self._connection, self._channel = self._connection, None, None
            if connection is not None:
                await _discard(connection)

    async def _publish_one(self, channel: AbstractChannel, event: OutboxEvent) -> None:
        properties = Basic.Properties(
            content_type=CONTENT_TYPE,
            delivery_mode=_PERSISTENT,
            message_id=event.id,
            message_type=event.type,
            timestamp=event.time,
            app_id="ec-issuer",
        )
        # A nack raises DeliveryError, a missing confirm TimeoutError.
        confirmation = await channel.basic_publish(
            event.envelope,
            exchange=self._exchange,
            routing_key=event.type,
            properties=properties,
            mandatory=False,
            timeout=self._timeout,
        )
        if not isinstance(confirmation, Basic.Ack):
            raise _NotConfirmed(f"the broker answered {type(confirmation).__name__} instead of a confirm")

    async def _ready(self) -> AbstractChannel:
        """A confirming channel on which the exchange is declared; PublishFailed when there is none."""
        async with self._lock:
            if self._connection is None or self._connection.is_closed:
                if self._connection is not None:
                    log.warning("lost the connection to RabbitMQ at %s; connecting again", self._where)
                self._connection, self._channel = await self._connect(), None
            if self._channel is None or self._channel.is_closed:
                # The broker closes a channel on a channel error (a deleted exchange, say) and keeps the
                # connection: a new channel declares the exchange again.
                self._channel = await self._open_channel(self._connection)
            return self._channel

    async def _connect(self) -> Connection:
        connection = Connection(self._url)
        try:
            async with asyncio.timeout(self._timeout):
                # aiormq wraps connect() in a decorator that hides its signature from the type checker.
                await connection.connect(client_properties={"connection_name": "ec-issuer"})  # pyright: ignore[reportUnknownMemberType]
        except (TimeoutError, AMQPError, OSError) as exc:
            await _discard(connection)
            raise PublishFailed(f"cannot connect to RabbitMQ at {self._where}: {describe(exc)}") from exc
        return connection

    async def _open_channel(self, connection: Connection) -> AbstractChannel:
        try:
            async with asyncio.timeout(self._timeout):
                channel = await connection.channel(publisher_confirms=True)
                await channel.exchange_declare(self._exchange, exchange_type="topic", durable=True)
        except (TimeoutError, AMQPError, OSError, RuntimeError) as exc:
            # A channel refused on a live connection leaves the connection usable; one lost with it is
            # found closed by the next call, which connects again.
            raise PublishFailed(
                f"RabbitMQ at {self._where} could not declare the topic exchange '{self._exchange}' "
                f"(does it exist with other settings?): {describe(exc)}"
            ) from exc
        return channel


class _NotConfirmed(Exception):
    """The publication returned something other than a confirm (a channel not in confirm mode)."""


async def _discard(connection: Connection) -> None:
    try:
        await connection.close()
    except (AMQPError, OSError, RuntimeError) as exc:
        log.debug("closing a RabbitMQ connection: %s", describe(exc))
