"""The external agent's webhook: the agent pushes its events here, and they move our offers' states.

The agent authenticates with the shared secret SSI_AGENT_WEBHOOK_SECRET, either as a bearer token or, for an
agent that can only be given a URL (UniCore's HTTP event publisher sends no headers of its own), as the last
path segment. A secret in a URL ends up in access logs: prefer the header where a proxy can add it.
"""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

import hashlib
import hmac

from apiflask import APIBlueprint
from flask import Response, request

from ec_issuer.api.context import services
from ec_issuer.api.http import json_response, read_json_body
from ec_issuer.api.openapi import answers, media_response
from ec_issuer.core.errors import NotFound, Unauthenticated

blueprint = APIBlueprint("agent", __name__, url_prefix="/api/v1/agent", tag="External OID4VCI agent")


@blueprint.post("/events")
@blueprint.post("/events/<string(maxlength=256):secret>")
@blueprint.doc(
    summary="An event of the external OID4VCI agent",
    description=(
        'The agent\'s event as it publishes it, `{"<EventName>": {…}}`. Answers 202 with what became of it '
        "(`applied`, `repeated`, `noted`, or ignored: `unknown-event`, `unknown-offer`, `unknown-credential`); "
        "401 without the shared secret; 422 naming the field of an event that is not well formed; 404 when "
        "no agent is configured."
    ),
    responses=answers(
        {
            202: media_response("What became of the event", {"application/json": {"type": "object"}}),
            401: "Without the shared secret",
            404: "No external agent is configured",
            422: "The event is not well formed",
        }
    ),
)
def agent_event(secret: str | None = None) -> Response:
    container = services()
    agent = container.settings.ssi_agent
    events = container.agent_events
    if agent is None or events is None:
        raise NotFound("no external agent is configured")
    given = secret if secret is not None else _bearer_token()
    if given is None or not _same_secret(given, agent.webhook_secret):
        raise Unauthenticated("the agent's events need the shared webhook secret")
    return json_response({"outcome": events.receive(read_json_body())}, 202)


def _bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _same_secret(given: str, expected: str) -> bool:
    # Digests first: compare_digest is constant-time only for inputs of equal length.
    return hmac.compare_digest(
        hashlib.sha256(given.encode(errors="replace")).digest(), hashlib.sha256(expected.encode()).digest()
    )
