"""The outbox published to NATS JetStream: one stream, one subject per event type, confirmed by PubAck.

Each event goes to ``<prefix>.<event type>`` as its CloudEvent JSON envelope (structured mode,
``content-type: application/cloudevents+json``) and counts as delivered once JetStream answers with a
PubAck, that is once the stream has stored it. ``Nats-Msg-Id`` carries the event id: an event published
again inside the stream's duplicate window (a relay's lease ran out, or an ack was lost on the way) is
acknowledged as a duplicate and the stream keeps one copy. ``Nats-Expected-Stream`` makes the server refuse,
rather than store elsewhere, an event whose subject some other stream captures (JetStream keeps that header
with the message, as it keeps all of them).

The ``ce-*`` headers repeat the envelope's attributes for consumers that route or filter without parsing
the payload. A receiver has to tell the mode by ``content-type``: the CloudEvents Go SDK's JetStream
binding, for one, takes any message with a ``ce-specversion`` header for binary mode and would read the
whole envelope as the event's data.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import Header, PubAck, StorageType, StreamConfig
from nats.js.errors import NoStreamResponseError, NotFoundError, ServiceUnavailableError

from ec_issuer.brokers.outcomes import answers, describe
from ec_issuer.events.model import SPEC_VERSION, OutboxEvent
from ec_issuer.events.ports import PublishFailed

log = logging.getLogger(__name__)

CONTENT_TYPE: Final = "application/cloudevents+json"
# How long JetStream remembers message ids. It only has to outlast a relay publishing an event again (after a
# lost ack or an expired lease: seconds, at most minutes); consumers de-duplicate on the id beyond that. The
# server holds every id of the window in memory, so a longer window is not free.
DUPLICATE_WINDOW_SECONDS: Final = 300.0
# Failures that are the broker's, not the event's: when every event of a call fails with one of these, the
# call raises, so that the relay waits for the broker instead of counting an attempt against each event.
_BROKER_TROUBLE: Final = (
    nats.errors.TimeoutError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoRespondersError,
    nats.errors.OutboundBufferLimitError,
    NoStreamResponseError,
    ServiceUnavailableError,
    TimeoutError,
    OSError,
    asyncio.CancelledError,  # the connection was closed under the request
)
# Subject tokens may not be empty nor hold whitespace or wildcards; stream names, in addition, no dots or slashes.
_SUBJECT_TOKENS = re.compile(r"[^.\s*>]+(?:\.[^.\s*>]+)*")
_STREAM_NAME = re.compile(r"[^.\s*>/\\]+")
_LINE_BREAK = re.compile(r"[\r\n]")
_RECONNECT_POLL_SECONDS = 0.05


class NatsPublisher:
    """Events to one JetStream stream over one connection, made on first use and again once it is closed.

    ``servers`` is a NATS URL, or several separated by commas (members of one cluster). The stream is created
    when missing (subjects ``<prefix>.>``, file storage, a duplicate window of five minutes); an existing
    stream is used as it is.
    """

    def __init__(
        self,
        servers: str,
        stream: str = "EC_ISSUER_EVENTS",
        subject_prefix: str = "ec-issuer",
        timeout_seconds: float = 5.0,
    ) -> None:
        self._servers = [server.strip() for server in servers.split(",") if server.strip()]
        if not self._servers:
            raise ValueError("name at least one NATS server URL")
        if not _STREAM_NAME.fullmatch(stream):
            raise ValueError(f"'{stream}' is not a JetStream stream name")
        if not _SUBJECT_TOKENS.fullmatch(subject_prefix):
            raise ValueError(f"'{subject_prefix}' is not a NATS subject prefix")
        if timeout_seconds <= 0:
            raise ValueError("the timeout must be positive")
        self._stream = stream
        self._prefix = subject_prefix
        self._timeout = timeout_seconds
        self._where = ", ".join(_without_credentials(server) for server in self._servers)
        self._client: Client | None = None
        self._jetstream: JetStreamContext | None = None
        self._stream_checked = False
        self._lock = asyncio.Lock()

    async def publish(self, events: Sequence[OutboxEvent]) -> list[PublishFailed | None]:
        if not events:
            return []
        jetstream = await self._ready()
        outcomes: list[BaseException | None] = [None] * len(events)
        # publish_async writes each message and hands back a future for its PubAck, where publish starts a
        # request (a task and a timer) per message: a quarter fewer Python calls per event in bench/relay.py.
        acks: dict[asyncio.Future[PubAck], int] = {}
        broken = False
        for position, event in enumerate(events):
            subject = f"{self._prefix}.{event.type}"
            headers = _headers(event)
            if not _SUBJECT_TOKENS.fullmatch(subject) or any(_LINE_BREAK.search(value) for value in headers.values()):
                # Refused here rather than by nats-py, which would raise after taking a slot of its window
                # of pending acks and never give it back.
                outcomes[position] = nats.errors.BadSubjectError(f"'{subject}' cannot be sent as a NATS message")
                continue
            try:
                # `headers` is typed as a bare Dict in nats-py.
                ack = await jetstream.publish_async(  # pyright: ignore[reportUnknownMemberType]
                    subject, event.envelope, stream=self._stream, headers=headers
                )
            except Exception as exc:  # noqa: BLE001 - the connection failed mid-batch: the rest fail alike
                outcomes[position:] = [exc] * (len(events) - position)
                broken = True
                break
            acks[ack] = position
        if acks:
            _, unanswered = await asyncio.wait(acks, timeout=self._timeout)
            for ack, position in acks.items():
                if ack in unanswered:
                    ack.cancel()
                    outcomes[position] = TimeoutError(f"no PubAck within {self._timeout:g} s")
                else:
                    # The ack's `duplicate` is True for a repeat inside the window and None (not False)
                    # for a first copy; either way the stream holds the event.
                    outcomes[position] = ack.exception()
        if any(isinstance(outcome, NoStreamResponseError) for outcome in outcomes):
            self._stream_checked = False  # no stream takes the subject (deleted?): look again on the next call
        if broken:
            # A failed publish_async leaves its ack's slot taken; start over on a fresh connection.
            await self.close()
        return answers(events, outcomes, f"NATS at {self._where}", _BROKER_TROUBLE)

    async def close(self) -> None:
        async with self._lock:
            client, self._client, self._jetstream = self._client, None, None
            if client is not None and not client.is_closed:
                await client.close()

    async def _ready(self) -> JetStreamContext:
        """The JetStream context of a live connection whose stream exists; PublishFailed when there is none."""
        async with self._lock:
            if self._client is not None and self._client.is_closed:
                # nats-py closes a connection for good once it gives up reconnecting: start over.
                self._client = self._jetstream = None
            if self._client is None or self._jetstream is None:
                self._client = await self._connect()
                self._jetstream = JetStreamContext(self._client, timeout=self._timeout)
                self._stream_checked = False
            if not self._client.is_connected:
                await self._reconnected(self._client)
            if not self._stream_checked:
                await self._ensure_stream(self._jetstream)
                self._stream_checked = True
            return self._jetstream

    async def _connect(self) -> Client:
        client = Client()
        connecting = True
        failures = 0

        async def on_error(exc: Exception) -> None:
            nonlocal failures
            if connecting:
                # nats-py retries a first connection for minutes (60 rounds, 2 s apart); the relay has its own
                # backoff, so give up once every server has failed once. Raising here ends client.connect().
                failures += 1
                if failures >= len(self._servers):
                    raise _GaveUp(exc)
            else:
                log.warning("NATS connection to %s: %s", self._where, describe(exc))

        try:
            async with asyncio.timeout(self._timeout):
                await client.connect(
                    self._servers,
                    name="ec-issuer",
                    error_cb=on_error,
                    connect_timeout=max(1, math.ceil(self._timeout)),
                    allow_reconnect=True,  # after the first connection, nats-py reconnects and resends
                )
        except _GaveUp as exc:
            await _discard(client)
            raise PublishFailed(f"cannot connect to NATS at {self._where}: {describe(exc.cause)}") from exc.cause
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            await _discard(client)
            raise PublishFailed(f"cannot connect to NATS at {self._where}: {describe(exc)}") from exc
        connecting = False
        return client

    async def _reconnected(self, client: Client) -> None:
        """Wait, at most the timeout, for nats-py to win back a lost connection."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while not client.is_connected:
            if client.is_closed or loop.time() >= deadline:
                raise PublishFailed(f"lost the connection to NATS at {self._where}; reconnecting")
            await asyncio.sleep(_RECONNECT_POLL_SECONDS)

    async def _ensure_stream(self, jetstream: JetStreamContext) -> None:
        try:
            await jetstream.stream_info(self._stream)
        except NotFoundError:
            pass
        except nats.errors.Error as exc:
            raise PublishFailed(self._stream_problem("look up", exc)) from exc
        else:
            return
        config = StreamConfig(
            name=self._stream,
            subjects=[f"{self._prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
        try:
            # `add_stream` also takes the config's fields as untyped keyword arguments, unused here.
            await jetstream.add_stream(config)  # pyright: ignore[reportUnknownMemberType]
        except nats.errors.Error as exc:
            # Another relay may have created it a moment ago, with settings of its own: use that one.
            try:
                await jetstream.stream_info(self._stream)
            except nats.errors.Error:
                raise PublishFailed(self._stream_problem("create", exc)) from exc
        else:
            log.info("created the JetStream stream %s for subjects %s.>", self._stream, self._prefix)

    def _stream_problem(self, action: str, exc: Exception) -> str:
        hint = " (is JetStream enabled?)" if isinstance(exc, nats.errors.NoRespondersError) else ""
        return f"NATS at {self._where} could not {action} the stream {self._stream}{hint}: {describe(exc)}"


class _GaveUp(Exception):
    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _headers(event: OutboxEvent) -> dict[str, str]:
    return {
        Header.MSG_ID.value: event.id,
        "content-type": CONTENT_TYPE,
        "ce-specversion": SPEC_VERSION,
        "ce-id": event.id,
        "ce-type": event.type,
        "ce-source": event.source,
        "ce-subject": event.subject,
    }


async def _discard(client: Client) -> None:
    try:
        await client.close()
    except (nats.errors.Error, OSError) as exc:
        log.debug("closing an unfinished NATS connection: %s", describe(exc))


def _without_credentials(url: str) -> str:
    """The URL as host and port: a NATS URL may carry a user and password, which errors and logs must not."""
    try:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        port = parts.port
    except ValueError:
        return "(an unparseable URL)"
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{port}" if port else f"{parts.scheme}://{host}"
