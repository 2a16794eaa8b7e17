"""The outbox port: events recorded by the transaction of the change they report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ec_issuer.events.model import OutboxEvent


class OutboxRepository(Protocol):
    def add(self, event: OutboxEvent) -> None:
        """Record the event for publishing; it becomes visible, to the relay as to anyone, on commit."""
        ...


class PublishFailed(Exception):
    """The broker did not confirm the event; it stays in the outbox and is retried."""


class EventPublisher(Protocol):
    """A message broker the relay publishes to. Implementations connect lazily, reconnect after a lost
    connection, and confirm each event only once the broker has taken responsibility for it."""

    async def publish(self, events: Sequence[OutboxEvent]) -> list[PublishFailed | None]:
        """Publish every event concurrently; one answer per event, in order: None when the broker
        confirmed it, else why not. Raises only for a problem that concerns all of them (no connection)."""
        ...

    async def close(self) -> None: ...
