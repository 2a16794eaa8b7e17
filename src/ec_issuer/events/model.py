"""CloudEvents 1.0 envelopes for what the issuer does, and the outbox rows that carry them.

An event is recorded in the outbox table by the same database transaction as the change it reports, so
an event exists exactly when its change was committed. A relay publishes the outbox to a broker later.

The envelope is CloudEvents 1.0 in its JSON structured mode (the ``specversion``, ``id``, ``source``,
``type``, ``subject``, ``time``, ``datacontenttype`` attributes and ``data``), built here directly: eight
attributes do not need a library, and building them costs a few microseconds on every issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ec_issuer.core.encoding import dumps, format_datetime
from ec_issuer.core.ports import Clock, IdGenerator

SPEC_VERSION = "1.0"
TYPE_PREFIX = "org.ec-issuer."


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One CloudEvent as stored in the outbox: its attributes, and the serialized envelope to publish."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    envelope: bytes  # the CloudEvent in JSON structured mode, exactly as published


def new_event(
    ids: IdGenerator, clock: Clock, *, type_: str, source: str, subject: str, data: dict[str, Any]
) -> OutboxEvent:
    """A CloudEvent with a fresh id (it stays the event's id through every retry and redelivery)."""
    event_id = ids.new_id()
    now = clock.now()
    envelope = {
        "specversion": SPEC_VERSION,
        "id": event_id,
        "source": source,
        "type": type_,
        "subject": subject,
        "time": format_datetime(now),
        "datacontenttype": "application/json",
        "data": data,
    }
    return OutboxEvent(event_id, type_, source, subject, now, dumps(envelope))
