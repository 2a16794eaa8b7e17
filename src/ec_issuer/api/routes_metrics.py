"""Operational metrics in the Prometheus text format, for admin clients (a scraper with a bearer token)."""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.core.errors import Forbidden

blueprint = APIBlueprint("metrics", __name__, tag="Operations")

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(name: str, help_text: str, value: float | None) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    if value is not None:
        lines.append(f"{name} {value:g}")
    return lines


@blueprint.get("/metrics")
@blueprint.auth_required(bearer_auth)
@blueprint.doc(
    summary="Prometheus metrics (admin clients)",
    description=(
        "The event outbox: events waiting for the relay, the age of the oldest, dead letters. Relay-side "
        "publish rates are not here yet: each relay logs its counts."
    ),
)
def metrics() -> Response:
    if not caller().is_admin:
        raise Forbidden("metrics are for admin clients")
    container = services()
    stats = container.outbox.stats(container.clock.now(), with_delivered=False)
    lines = [
        *_gauge("ec_issuer_outbox_pending", "Events recorded and not yet published by a relay.", stats.pending),
        *_gauge(
            "ec_issuer_outbox_oldest_pending_age_seconds",
            "Age of the oldest event waiting for a relay (absent when none waits).",
            stats.oldest_pending_age_seconds,
        ),
        *_gauge(
            "ec_issuer_outbox_dead",
            "Events refused by the broker on every attempt (ec-issuer events dead).",
            stats.dead,
        ),
    ]
    return Response("\n".join(lines) + "\n", mimetype=None, content_type=PROMETHEUS_TEXT)
