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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final

from aio_pika import DeliveryMode, ExchangeType, Message, RobustConnection
from aio_pika.abc import AbstractExchange, AbstractRobustChannel
from aio_pika.exceptions import AMQPChannelError, AMQPConnectionError, AMQPError, ChannelInvalidStateError
from pamqp.commands import Basic
from yarl import URL

from ec_issuer.brokers.outcomes import answers, describe
from ec_issuer.events.model import OutboxEvent
from ec_issuer.events.ports import PublishFailed

log = logging.getLogger(__name__)

CONTENT_TYPE: Final = "application/cloudevents+json"
_RECONNECT_INTERVAL_SECONDS: Final = 1.0
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
    asyncio.CancelledError,  # the channel was closed under the publication
)


class RabbitMqPublisher:
    """Events to one topic exchange over one robust connection, made on first use and again once closed.

    aio-pika's robust connection reconnects by itself after a lost connection and restores the channel and
    the exchange declaration; a call that finds it reconnecting waits up to the timeout for it.
    """

    def __init__(self, url: str, exchange: str = "ec-issuer.events", timeout_seconds: float = 5.0) -> None:
        if timeout_seconds <= 0:
            raise ValueError("the timeout must be positive")
        self._url = URL(url)
        self._exchange_name = exchange
        self._timeout = timeout_seconds
        # The URL carries the password: errors and logs name the broker without it.
        self._where = str(self._url.with_user(None).with_query(None))
        self._connection: RobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()

    async def publish(self, events: Sequence[OutboxEvent]) -> list[PublishFailed | None]:
        if not events:
            return []
        exchange = await self._ready()
        sending = (self._publish_one(exchange, event) for event in events)
        outcomes = await asyncio.gather(*sending, return_exceptions=True)
        return answers(events, outcomes, f"RabbitMQ at {self._where}", _BROKER_TROUBLE)

    async def close(self) -> None:
        async with self._lock:
            connection, self._connection, self._channel, self._exchange = self._connection, None, None, None
            if connection is not None and not connection.is_closed:
                await connection.close()

    async def _publish_one(self, exchange: AbstractExchange, event: OutboxEvent) -> None:
        message = Message(
            event.envelope,
            content_type=CONTENT_TYPE,
            delivery_mode=DeliveryMode.PERSISTENT,
            message_id=event.id,
            type=event.type,
            timestamp=event.time,
            app_id="ec-issuer",
        )
        # A nack raises DeliveryError, a missing confirm TimeoutError.
        confirmation = await exchange.publish(message, event.type, mandatory=False, timeout=self._timeout)
        if not isinstance(confirmation, Basic.Ack):
            raise _NotConfirmed(f"the broker answered {type(confirmation).__name__} instead of a confirm")

    async def _ready(self) -> AbstractExchange:
        """The exchange, on a channel that is open; PublishFailed when there is none."""
        async with self._lock:
            if self._connection is not None and self._connection.is_closed:
                self._connection = self._channel = self._exchange = None
            if self._connection is None or self._channel is None or self._exchange is None:
                self._connection, self._channel, self._exchange = await self._connect()
            try:
                async with asyncio.timeout(self._timeout):
                    await self._channel.ready()  # at once, unless the robust connection is reconnecting
            except TimeoutError:
                raise PublishFailed(f"lost the connection to RabbitMQ at {self._where}; reconnecting") from None
            return self._exchange

    async def _connect(self) -> tuple[RobustConnection, AbstractRobustChannel, AbstractExchange]:
        # The connection is made here rather than by connect_robust() so that it can be closed whatever
        # happens: a robust connection left behind would go on reconnecting in the background.
        connection = RobustConnection(
            self._url,
            client_properties={"connection_name": "ec-issuer"},
            # aio-pika waits 5 s between reconnection attempts by default; the relay backs off on its own.
            # A lost connection is not always an outage, either: when the broker closed the channel (the
            # exchange had been deleted) under several publications in flight, it then closed the whole
            # connection about half the time (aio-pika 10.2, aiormq 7.2: "504 CHANNEL_ERROR - expected
            # 'channel.open'"), a frame having followed on the closed channel.
            reconnect_interval=_RECONNECT_INTERVAL_SECONDS,
        )
        try:
            async with asyncio.timeout(self._timeout):
                await connection.connect(timeout=self._timeout)
        except (TimeoutError, AMQPError, OSError) as exc:
            await _discard(connection)
            raise PublishFailed(f"cannot connect to RabbitMQ at {self._where}: {describe(exc)}") from exc
        try:
            async with asyncio.timeout(self._timeout):
                channel = await connection.channel(publisher_confirms=True)
                exchange = await channel.declare_exchange(self._exchange_name, ExchangeType.TOPIC, durable=True)
        except (TimeoutError, AMQPError, OSError, ChannelInvalidStateError) as exc:
            await _discard(connection)
            raise PublishFailed(
                f"RabbitMQ at {self._where} could not declare the topic exchange '{self._exchange_name}' "
                f"(does it exist with other settings?): {describe(exc)}"
            ) from exc
        return connection, channel, exchange


class _NotConfirmed(Exception):
    """The publication returned something other than a confirm (a channel not in confirm mode)."""


async def _discard(connection: RobustConnection) -> None:
    try:
        await connection.close()
    except (AMQPError, OSError, RuntimeError) as exc:
        log.debug("closing an unfinished RabbitMQ connection: %s", describe(exc))
