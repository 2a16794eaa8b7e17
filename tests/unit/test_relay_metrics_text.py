"""The relay's counters and delivery-lag histogram in the Prometheus text format."""

from __future__ import annotations

import re

from ec_issuer.events.metrics import render, scrape
from ec_issuer.events.relay import LAG_BUCKETS_SECONDS, OutboxStats, RelayStats


def value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, flags=re.MULTILINE)
    assert match is not None, f"{series} missing from\n{text}"
    return float(match.group(1))


def test_lag_lands_in_the_first_bucket_whose_bound_holds_it_and_buckets_render_cumulatively() -> None:
    stats = RelayStats()
    for lag in (0.001, 0.005, 0.02, 0.02, 3.0, 1_000.0):
        stats.delivered(lag)
    stats.retried, stats.dead, stats.broker_failures = 2, 1, 3

    text = render(None, [("relay-a", stats)])

    bucket = 'ec_issuer_relay_delivery_lag_seconds_bucket{relay="relay-a",le="%s"}'
    assert value(text, bucket % "0.005") == 2  # a bound is inclusive: 0.005 counts as <= 0.005
    assert value(text, bucket % "0.01") == 2
    assert value(text, bucket % "0.025") == 4
    assert value(text, bucket % "2.5") == 4
    assert value(text, bucket % "5") == 5
    assert value(text, bucket % f"{LAG_BUCKETS_SECONDS[-1]:g}") == 5
    assert value(text, bucket % "+Inf") == 6  # 1,000 s is past every bound
    assert value(text, 'ec_issuer_relay_delivery_lag_seconds_count{relay="relay-a"}') == 6
    assert value(text, 'ec_issuer_relay_delivery_lag_seconds_sum{relay="relay-a"}') == sum(
        (0.001, 0.005, 0.02, 0.02, 3.0, 1_000.0)
    )
    assert value(text, 'ec_issuer_relay_published_total{relay="relay-a"}') == 6
    assert value(text, 'ec_issuer_relay_retried_total{relay="relay-a"}') == 2
    assert value(text, 'ec_issuer_relay_dead_total{relay="relay-a"}') == 1
    assert value(text, 'ec_issuer_relay_broker_failures_total{relay="relay-a"}') == 3
    assert "ec_issuer_outbox_pending" not in text


def test_every_family_is_declared_once_with_its_type_before_its_samples() -> None:
    text = render(
        OutboxStats(pending=5, oldest_pending_age_seconds=None, dead=0, delivered=None),
        [("relay-a", RelayStats()), ("relay-b", RelayStats())],
    )
    declared: list[str] = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            declared.append(line.split()[2])
        elif not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert declared and declared[-1] in (name, family), f"{line!r} outside its family"
    assert len(declared) == len(set(declared))
    assert value(text, "ec_issuer_outbox_pending") == 5
    assert not re.search(r"^ec_issuer_outbox_oldest_pending_age_seconds ", text, re.MULTILINE)  # nothing waits
    assert value(text, 'ec_issuer_relay_published_total{relay="relay-b"}') == 0


def test_a_scrape_copies_the_counters_before_counting_the_outbox() -> None:
    """The relay settles (the outbox row leaves pending) before it counts an event as published. A scrape
    that counted the outbox first and read the counters afterwards could show an event both pending and
    published; here the relay publishes while the outbox is being counted."""
    stats = RelayStats()

    def count_outbox_while_the_relay_publishes() -> OutboxStats:
        stats.delivered(0.01)  # settled after this count began: the count still holds the event
        return OutboxStats(pending=1, oldest_pending_age_seconds=0.01, dead=0, delivered=None)

    text = scrape(count_outbox_while_the_relay_publishes, [("relay-a", stats)])

    assert value(text, "ec_issuer_outbox_pending") == 1
    assert value(text, 'ec_issuer_relay_published_total{relay="relay-a"}') == 0
    assert value(text, 'ec_issuer_relay_delivery_lag_seconds_count{relay="relay-a"}') == 0
    assert stats.published == 1  # the live counters went on


def test_a_snapshot_of_the_counters_stays_put() -> None:
    stats = RelayStats()
    stats.delivered(0.2)
    copy = stats.snapshot()
    stats.delivered(0.2)
    stats.retried += 1
    assert (copy.published, copy.retried, sum(copy.lag_counts)) == (1, 0, 1)
    assert (stats.published, stats.retried, sum(stats.lag_counts)) == (2, 1, 2)
