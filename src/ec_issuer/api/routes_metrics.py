"""Operational metrics in the Prometheus text format, for admin clients (a scraper with a bearer token)."""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.api.openapi import TEXT, answers, media_response
from ec_issuer.core.errors import Forbidden
from ec_issuer.events.metrics import CONTENT_TYPE, scrape

blueprint = APIBlueprint("metrics", __name__, tag="Operations")


@blueprint.get("/metrics")
@blueprint.auth_required(bearer_auth)
@blueprint.doc(
    summary="Prometheus metrics (admin clients)",
    description=(
        "The event outbox: events waiting for a relay, the age of the oldest, dead letters. When this process "
        "runs a relay (RELAY_IN_SERVICE), also its counters (published, retried, dead-lettered, broker "
        "failures) and its delivery-lag histogram, labelled with the relay's id. A standalone `ec-issuer "
        "relay --metrics-address` serves the same metrics for itself."
    ),
    responses=answers(
        {
            200: media_response("Prometheus text exposition format 0.0.4", {"text/plain": TEXT}),
            403: "Not an admin client",
        }
    ),
)
def metrics() -> Response:
    if not caller().is_admin:
        raise Forbidden("metrics are for admin clients")
    container = services()
    relays = [(relay.relay_id, relay.stats) for relay in container.relays]
    text = scrape(lambda: container.outbox.stats(container.clock.now(), with_delivered=False), relays)
    return Response(text, mimetype=None, content_type=CONTENT_TYPE)
