"""GET /metrics: the outbox in the Prometheus text format, for admin clients only."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from flask.testing import FlaskClient

from ec_issuer.access.commands import CreateClient
from ec_issuer.bootstrap import Container
from ec_issuer.events.model import OutboxEvent
from ec_issuer.events.ports import PublishFailed
from ec_issuer.events.relay import OutboxRelay
from ec_issuer.issuers.model import Issuer
from tests.support import SettableClock, award_body


def sample(text: str, name: str) -> float | None:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, flags=re.MULTILINE)
    return float(match.group(1)) if match else None


def test_metrics_report_outbox_depth_age_and_dead_letters(
    http: FlaskClient, container: Container, clock: SettableClock, issuer: Issuer, auth: dict[str, str]
) -> None:
    assert http.post("/api/v1/credentials", json=award_body(), headers=auth).status_code == 201

    clock.advance(timedelta(seconds=42))
    response = http.get("/metrics", headers=auth)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    assert "# TYPE ec_issuer_outbox_pending gauge" in text
    assert sample(text, "ec_issuer_outbox_pending") == 3  # two key activations and the issue
    assert sample(text, "ec_issuer_outbox_oldest_pending_age_seconds") == 42
    assert sample(text, "ec_issuer_outbox_dead") == 0


def test_metrics_need_an_admin_client(http: FlaskClient, container: Container, issuer: Issuer) -> None:
    assert http.get("/metrics").status_code == 401
    registered = container.access.create(CreateClient(name="registrar", issuers=["acme"]))
    response = http.get("/metrics", headers={"Authorization": f"Bearer {registered.token}"})
    assert response.status_code == 403


def test_metrics_include_the_counters_of_a_relay_running_in_this_process(
    http: FlaskClient, container: Container, issuer: Issuer, auth: dict[str, str]
) -> None:
    relay = OutboxRelay(container.outbox, RefusingPublisher(), container.clock, relay_id="relay-in-service")
    relay.stats.delivered(0.02)
    container.relays.append(relay)
    try:
        text = http.get("/metrics", headers=auth).get_data(as_text=True)
    finally:
        container.relays.remove(relay)
    assert sample(text, 'ec_issuer_relay_published_total{relay="relay-in-service"}') == 1
    assert sample(text, 'ec_issuer_relay_delivery_lag_seconds_bucket{relay="relay-in-service",le="0.025"}') == 1
    assert "ec_issuer_relay_" not in http.get("/metrics", headers=auth).get_data(as_text=True)


class RefusingPublisher:
    """Never called here: the test reads a relay's counters, it does not run the relay."""

    async def publish(self, events: Sequence[OutboxEvent]) -> list[PublishFailed | None]:
        raise AssertionError("not expected to publish")

    async def close(self) -> None:
        pass
