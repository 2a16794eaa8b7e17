"""The outbox and its relays in the Prometheus text exposition format (version 0.0.4).

Both `GET /metrics` of the service and the metrics listener of `ec-issuer relay` render through here, so a
metric has one name and one meaning wherever it is scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ec_issuer.events.relay import LAG_BUCKETS_SECONDS, OutboxStats, RelayStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def scrape(count_outbox: Callable[[], OutboxStats], relays: Sequence[tuple[str, RelayStats]]) -> str:
    """One scrape: the relays' counters, then the outbox. A relay counts an event as published only after
    its settlement committed, so copying the counters first means the outbox depth read next can no longer
    hold an event those counters already show as published."""
    counters = [(relay_id, stats.snapshot()) for relay_id, stats in relays]
    return render(count_outbox(), counters)


def render(outbox: OutboxStats | None, relays: Sequence[tuple[str, RelayStats]]) -> str:
    lines: list[str] = []
    if outbox is not None:
        lines += _outbox(outbox)
    if relays:
        lines += _relays(relays)
    return "\n".join(lines) + "\n"


def _outbox(stats: OutboxStats) -> list[str]:
    lines = _family("ec_issuer_outbox_pending", "gauge", "Events recorded and not yet published by a relay.")
    lines.append(f"ec_issuer_outbox_pending {stats.pending}")
    lines += _family(
        "ec_issuer_outbox_oldest_pending_age_seconds",
        "gauge",
        "Age of the oldest event waiting for a relay (absent when none waits).",
    )
    if stats.oldest_pending_age_seconds is not None:
        lines.append(f"ec_issuer_outbox_oldest_pending_age_seconds {stats.oldest_pending_age_seconds!r}")
    lines += _family(
        "ec_issuer_outbox_dead", "gauge", "Events refused by the broker on every attempt (ec-issuer events dead)."
    )
    lines.append(f"ec_issuer_outbox_dead {stats.dead}")
    return lines


_COUNTERS = (
    ("published", "Events the broker confirmed."),
    ("retried", "Events the broker refused, to be tried again after a backoff."),
    ("dead", "Events moved to the dead letters after their last attempt."),
    ("broker_failures", "Batches released untouched because the broker could not be reached."),
)


def _relays(relays: Sequence[tuple[str, RelayStats]]) -> list[str]:
    lines: list[str] = []
    for name, help_text in _COUNTERS:
        metric = f"ec_issuer_relay_{name}_total"
        lines += _family(metric, "counter", help_text)
        lines += [f'{metric}{{relay="{relay_id}"}} {getattr(stats, name)}' for relay_id, stats in relays]
    metric = "ec_issuer_relay_delivery_lag_seconds"
    lines += _family(metric, "histogram", "From an event's recording to the broker's confirmation of it.")
    for relay_id, stats in relays:
        counts = stats.lag_counts
        cumulative = 0
        for bound, count in zip(LAG_BUCKETS_SECONDS, counts, strict=False):
            cumulative += count
            lines.append(f'{metric}_bucket{{relay="{relay_id}",le="{bound:g}"}} {cumulative}')
        total = sum(counts)
        lines.append(f'{metric}_bucket{{relay="{relay_id}",le="+Inf"}} {total}')
        lines.append(f'{metric}_sum{{relay="{relay_id}"}} {stats.lag_sum_seconds!r}')  # full precision
        lines.append(f'{metric}_count{{relay="{relay_id}"}} {total}')
    return lines


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
