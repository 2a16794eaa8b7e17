"""Admin API for issuers and API clients (keys: routes_keys.py)."""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from ec_issuer.access.commands import CreateClient
from ec_issuer.access.service import require_admin
from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.api.http import documented_body, json_response, read_json_body
from ec_issuer.api.openapi import answers
from ec_issuer.api.presenters import client_out, issuer_out
from ec_issuer.api.schemas import ClientOut, IssuerList, IssuerOut
from ec_issuer.core.validation import parse_command
from ec_issuer.issuers.commands import CreateIssuer

blueprint = APIBlueprint("admin", __name__, url_prefix="/api/v1", tag="Administration")


@blueprint.get("/issuers")
@blueprint.auth_required(bearer_auth)
@blueprint.output(IssuerList)
@blueprint.doc(summary="List the issuers this client may use")
def list_issuers() -> Response:
    container = services()
    issuers = container.issuers.visible_to(caller())
    return json_response({"items": [issuer_out(i, container.layout) for i in issuers]})


@blueprint.post("/issuers")
@blueprint.auth_required(bearer_auth)
@documented_body(CreateIssuer)
@blueprint.output(IssuerOut, status_code=201)
@blueprint.doc(
    summary="Register an issuer (admin clients only)",
    responses=answers({403: "Not an admin client", 409: "The slug is taken", 422: "Invalid input"}),
)
def create_issuer() -> Response:
    container = services()
    require_admin(caller())
    issuer = container.issuers.create(parse_command(CreateIssuer, read_json_body()))
    return json_response(issuer_out(issuer, container.layout), 201, {"Location": f"/api/v1/issuers/{issuer.slug}"})


@blueprint.get("/issuers/<issuer_ref>")
@blueprint.auth_required(bearer_auth)
@blueprint.output(IssuerOut)
@blueprint.doc(summary="Fetch one issuer by slug or DID")
def get_issuer(issuer_ref: str) -> Response:
    container = services()
    return json_response(issuer_out(container.issuers.get_visible(caller(), issuer_ref), container.layout))


@blueprint.post("/clients")
@blueprint.auth_required(bearer_auth)
@documented_body(CreateClient)
@blueprint.output(ClientOut, status_code=201)
@blueprint.doc(
    summary="Register an API client; its token is in this answer and nowhere else",
    responses=answers({403: "Not an admin client", 422: "Invalid input, or a scope names an unknown issuer"}),
)
def create_client() -> Response:
    container = services()
    require_admin(caller())
    registered = container.access.create(parse_command(CreateClient, read_json_body()))
    return json_response(client_out(registered.client, registered.token), 201, {"Cache-Control": "no-store"})
