"""`ec-issuer relay` and `ec-issuer events …`: publishing the outbox, and looking after it."""

from __future__ import annotations

import asyncio
import signal

import click

from ec_issuer.bootstrap import event_publisher
from ec_issuer.cli.common import container_for_command, print_json
from ec_issuer.cli.metrics_listener import MetricsListener, parse_address
from ec_issuer.config import ConfigurationError
from ec_issuer.core.encoding import format_datetime
from ec_issuer.events.metrics import scrape
from ec_issuer.events.ports import PublishFailed
from ec_issuer.events.relay import OutboxRelay, RelayPolicy


@click.command()
@click.option("--once", is_flag=True, help="Publish what is due now, then exit (instead of running until stopped).")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=RelayPolicy().batch_size, show_default=True)
@click.option(
    "--metrics-address",
    metavar="HOST:PORT",
    help="Serve Prometheus metrics (relay counters, delivery lag, outbox depth) at http://HOST:PORT/metrics.",
)
def relay(once: bool, batch_size: int, metrics_address: str | None) -> None:
    """Publish the event outbox to EVENT_BROKER (nats or rabbitmq) until SIGTERM or SIGINT. Several relays
    may run at once; each event is published at least once, in order per subject."""
    container = container_for_command()
    address = parse_address(metrics_address) if metrics_address else None
    try:
        publisher = event_publisher(container.settings)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    worker = OutboxRelay(container.outbox, publisher, container.clock, RelayPolicy(batch_size=batch_size))
    listener = None
    if address is not None:
        outbox, clock = container.outbox, container.clock
        try:
            listener = MetricsListener(
                address,
                lambda: scrape(
                    lambda: outbox.stats(clock.now(), with_delivered=False), [(worker.relay_id, worker.stats)]
                ),
            )
        except OSError as exc:
            raise click.ClickException(f"cannot serve metrics at {metrics_address}: {exc}") from None
        listener.start()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            if once:
                await worker.drain()
            else:
                await worker.run(stop)
        finally:
            await publisher.close()

    try:
        asyncio.run(run())
    except PublishFailed as exc:
        raise click.ClickException(f"the broker is unavailable: {exc}") from None
    finally:
        if listener is not None:
            listener.stop()
    stats = worker.stats
    print_json({"relay": worker.relay_id, "published": stats.published, "retried": stats.retried, "dead": stats.dead})


@click.group()
def events() -> None:
    """The event outbox."""


@events.command("stats")
def events_stats() -> None:
    """Outbox depth and age, dead letters, delivered events."""
    container = container_for_command()
    stats = container.outbox.stats(container.clock.now())
    print_json(
        {
            "pending": stats.pending,
            "oldestPendingAgeSeconds": stats.oldest_pending_age_seconds,
            "dead": stats.dead,
            "delivered": stats.delivered,
            "at": format_datetime(container.clock.now()),
        }
    )


@events.command("dead")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def events_dead(limit: int) -> None:
    """Dead-lettered events: refused by the broker every time they were tried."""
    container = container_for_command()
    dead = container.outbox.dead_letters(limit)
    print_json(
        [
            {"seq": d.seq, "id": d.id, "type": d.type, "subject": d.subject, "attempts": d.attempts, "error": d.error}
            for d in dead
        ]
    )


@events.command("replay")
@click.option("--seq", "seqs", type=int, multiple=True, help="Only these events (default: every dead letter).")
def events_replay(seqs: tuple[int, ...]) -> None:
    """Put dead-lettered events back in line for the relay, attempts reset."""
    container = container_for_command()
    print_json({"replayed": container.outbox.replay(list(seqs) if seqs else None)})
