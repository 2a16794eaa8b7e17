"""GET /metrics: the outbox in the Prometheus text format, for admin clients only."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient

from ec_issuer.access.commands import CreateClient
from ec_issuer.bootstrap import Container
from ec_issuer.issuers.model import Issuer
from tests.support import SettableClock, award_body


def sample(text: str, name: str) -> float | None:
    match = re.search(rf"^{name} (\S+)$", text, flags=re.MULTILINE)
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
