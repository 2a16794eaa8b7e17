"""The outbox relay: publish recorded events to a broker, at least once, in order per subject.

A relay claims a batch of due events with a lease, publishes them without holding any database lock,
and then settles each: delivered once the broker confirmed it; otherwise retried later with exponential
backoff, and after ``max_attempts`` refusals moved to the dead-letter state with its last error, so that
one poison event does not hold up the rest. An event is claimable only when no earlier event of the same
subject is still pending, which keeps the order per subject even with several relays at once. A relay
that dies mid-batch leaves its lease to expire; another relay then publishes those events again, which
is why delivery is at least once and consumers de-duplicate on the event id.

A broker that cannot be reached is not the events' fault: the batch is released untouched and the relay
waits (backing off) instead of counting attempts.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ec_issuer.core.errors import Unavailable
from ec_issuer.core.ports import Clock
from ec_issuer.events.model import OutboxEvent
from ec_issuer.events.ports import EventPublisher, PublishFailed

log = logging.getLogger(__name__)

DELIVERED = "delivered"
PENDING = "pending"
DEAD = "dead"


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    seq: int
    event: OutboxEvent
    attempts: int


@dataclass(frozen=True, slots=True)
class Settlement:
    seq: int
    state: str  # DELIVERED, PENDING (retry at next_attempt_at) or DEAD
    attempts: int
    next_attempt_at: datetime | None = None
    error: str | None = None


class OutboxStore(Protocol):
    def claim(self, relay_id: str, limit: int, now: datetime, lease: timedelta) -> list[ClaimedEvent]:
        """Lease up to ``limit`` due events, oldest first, none whose subject has an earlier pending event."""
        ...

    def settle(self, relay_id: str, settlements: list[Settlement], now: datetime) -> None:
        """Record outcomes of events this relay still holds the lease of (a lost lease changes nothing)."""
        ...

    def release(self, relay_id: str, seqs: list[int]) -> None:
        """Give the leases back untouched."""
        ...


@dataclass(frozen=True, slots=True)
class RelayPolicy:
    # 500 events a claim: 7,700-9,400 events/s to NATS in bench/relay.py, against 7,300 with 100.
    batch_size: int = 500
    # Batches in flight at once: while one is published, the next is claimed and the last settled.
    concurrency: int = 3
    lease: timedelta = timedelta(seconds=30)
    max_attempts: int = 8
    first_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=10)
    # How long a lane that found nothing due waits before it looks again: the worst added latency of an
    # event committed into a quiet outbox, for a few cheap queries per second while idle.
    idle_wait_seconds: float = 0.05

    def backoff(self, attempts: int) -> timedelta:
        return min(self.first_backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)


# Upper bounds of the delivery-lag histogram; one more slot counts what is slower than the last.
LAG_BUCKETS_SECONDS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass(slots=True)
class RelayStats:
    """What one relay has done since it started (the counters behind its metrics)."""

    published: int = 0
    retried: int = 0
    dead: int = 0
    broker_failures: int = 0
    last_error: str | None = None
    # Delivery lag (event time to the broker's confirmation) of each published event, per bucket.
    lag_counts: list[int] = field(default_factory=lambda: [0] * (len(LAG_BUCKETS_SECONDS) + 1))
    lag_sum_seconds: float = 0.0

    def snapshot(self) -> RelayStats:
        """A copy that stays put while the relay goes on counting. The counters are read before the
        histogram's buckets, and `delivered` fills the histogram before the counter, so a copy never shows
        an event as published without its delay."""
        copy = dataclasses.replace(self)
        copy.lag_counts = list(self.lag_counts)
        return copy

    def delivered(self, lag_seconds: float) -> None:
        self.lag_sum_seconds += lag_seconds
        self.lag_counts[bisect.bisect_left(LAG_BUCKETS_SECONDS, lag_seconds)] += 1
        self.published += 1


class OutboxRelay:
    def __init__(
        self,
        store: OutboxStore,
        publisher: EventPublisher,
        clock: Clock,
        policy: RelayPolicy | None = None,
        relay_id: str | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._clock = clock
        self._policy = policy or RelayPolicy()
        self.relay_id = relay_id or f"relay-{uuid.uuid4().hex[:12]}"
        self.stats = RelayStats()

    async def run_once(self) -> int:
        """Claim, publish and settle one batch; the number of events claimed (0: nothing due)."""
        policy = self._policy
        # Database calls run in worker threads, so that other batches are published meanwhile.
        claimed = await asyncio.to_thread(
            self._store.claim, self.relay_id, policy.batch_size, self._clock.now(), policy.lease
        )
        if not claimed:
            return 0
        try:
            outcomes = await self._publisher.publish([item.event for item in claimed])
        except PublishFailed as exc:
            await asyncio.to_thread(self._store.release, self.relay_id, [item.seq for item in claimed])
            self.stats.broker_failures += 1
            self.stats.last_error = str(exc)
            raise
        now = self._clock.now()
        settlements = [self._settlement(item, outcome, now) for item, outcome in zip(claimed, outcomes, strict=True)]
        await asyncio.to_thread(self._store.settle, self.relay_id, settlements, now)
        for item, settlement in zip(claimed, settlements, strict=True):
            if settlement.state == DELIVERED:
                self.stats.delivered((now - item.event.time).total_seconds())
            elif settlement.state == DEAD:
                self.stats.dead += 1
                log.error("event %s moved to the dead letters: %s", settlement.seq, settlement.error)
            else:
                self.stats.retried += 1
        return len(claimed)

    async def drain(self) -> None:
        """Publish everything due now, ``concurrency`` batches at a time, then return."""

        async def worker() -> None:
            while await self.run_once():
                pass

        await asyncio.gather(*(worker() for _ in range(self._policy.concurrency)))

    async def run(self, stop: asyncio.Event, *, report_every_seconds: float = 60.0) -> None:
        """Relay until ``stop`` is set, ``concurrency`` batches at a time, logging counts periodically."""
        lanes = [self._run_one_lane(stop) for _ in range(self._policy.concurrency)]
        await asyncio.gather(*lanes, self._report(stop, report_every_seconds))

    async def _report(self, stop: asyncio.Event, every: float) -> None:
        while not stop.is_set():
            await _wait(stop, every)
            stats = self.stats
            log.info(
                "relay %s: %d published, %d retried, %d dead-lettered, %d broker failures",
                self.relay_id,
                stats.published,
                stats.retried,
                stats.dead,
                stats.broker_failures,
            )

    async def _run_one_lane(self, stop: asyncio.Event) -> None:
        """One batch after another, waiting when idle and backing off while the broker or the database is
        away: a lane that ended on an outage would leave events unpublished until the process restarts."""
        outage_wait = self._policy.first_backoff.total_seconds()
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except (PublishFailed, Unavailable) as exc:
                away = "broker" if isinstance(exc, PublishFailed) else "database"
                log.warning("%s unavailable (%s); retrying in %.1f s", away, exc, outage_wait)
                await _wait(stop, outage_wait)
                outage_wait = min(outage_wait * 2, self._policy.max_backoff.total_seconds())
                continue
            outage_wait = self._policy.first_backoff.total_seconds()
            if not claimed:
                await _wait(stop, self._policy.idle_wait_seconds)

    def _settlement(self, item: ClaimedEvent, outcome: PublishFailed | None, now: datetime) -> Settlement:
        if outcome is None:
            return Settlement(item.seq, DELIVERED, item.attempts + 1)
        attempts = item.attempts + 1
        if attempts >= self._policy.max_attempts:
            return Settlement(item.seq, DEAD, attempts, error=str(outcome))
        return Settlement(item.seq, PENDING, attempts, now + self._policy.backoff(attempts), str(outcome))


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):  # the wait ended without a stop: carry on
        await asyncio.wait_for(stop.wait(), timeout=seconds)


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending: int
    oldest_pending_age_seconds: float | None
    dead: int
    delivered: int | None  # None when not counted


@dataclass(frozen=True, slots=True)
class DeadEvent:
    seq: int
    id: str
    type: str
    subject: str
    attempts: int
    error: str | None


class BackgroundRelay:
    """A relay on a daemon thread with its own event loop, for running inside the service process
    (RELAY_IN_SERVICE). Every worker may run one: relays share the outbox safely."""

    def __init__(self, relay: OutboxRelay, publisher: EventPublisher) -> None:
        self._relay = relay
        self._publisher = publisher
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="outbox-relay", daemon=True)
        self._started = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._started.wait(5)

    def stop(self, timeout: float = 10.0) -> None:
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self._started.set()
        try:
            await self._relay.run(self._stop)
        finally:
            await self._publisher.close()
