"""The outbox port: events recorded by the transaction of the change they report."""

from __future__ import annotations

from typing import Protocol

from ec_issuer.events.model import OutboxEvent


class OutboxRepository(Protocol):
    def add(self, event: OutboxEvent) -> None:
        """Record the event for publishing; it becomes visible, to the relay as to anyone, on commit."""
        ...
