"""What both broker adapters make of a batch's results: one answer per event, or one failure for all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ec_issuer.events.model import OutboxEvent
from ec_issuer.events.ports import PublishFailed


def answers(
    events: Sequence[OutboxEvent],
    outcomes: Sequence[BaseException | None],
    broker: str,
    broker_trouble: tuple[type[BaseException], ...],
) -> list[PublishFailed | None]:
    """One answer per event; raises instead when every event failed and each failure was the broker's
    (timeouts, a lost connection): that is an outage, which must not count against the events."""
    found: list[PublishFailed | None] = []
    troubles: list[BaseException] = []
    for event, outcome in zip(events, outcomes, strict=True):
        if outcome is None:
            found.append(None)
            continue
        if not isinstance(outcome, Exception | asyncio.CancelledError):
            raise outcome  # KeyboardInterrupt, SystemExit
        if isinstance(outcome, broker_trouble):
            troubles.append(outcome)
        failure = PublishFailed(f"{broker} did not confirm event {event.id}: {describe(outcome)}")
        failure.__cause__ = outcome
        found.append(failure)
    if len(troubles) == len(events):
        first = troubles[0]
        raise PublishFailed(f"{broker} confirmed none of {len(events)} events: {describe(first)}") from first
    return found


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
