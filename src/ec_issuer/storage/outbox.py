"""SQLAlchemy Core implementation of the outbox port."""

from __future__ import annotations

from ec_issuer.events.model import OutboxEvent
from ec_issuer.storage.session import LazyConnection
from ec_issuer.storage.tables import outbox_events

_INSERT = outbox_events.insert()


class SqlOutbox:
    def __init__(self, connection: LazyConnection) -> None:
        self._db = connection

    def add(self, event: OutboxEvent) -> None:
        self._db.execute(
            _INSERT,
            {
                "id": event.id,
                "type": event.type,
                "source": event.source,
                "subject": event.subject,
                "time": event.time,
                "envelope": event.envelope,
                "state": "pending",
                "attempts": 0,
            },
        )
