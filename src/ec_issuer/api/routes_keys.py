"""Admin API for an issuer's signing keys: list, generate or import, rotate, activate, retire, revoke.

Keys are named by their fragment (the part of the kid after '#'), which is unique within an issuer and
safe in a URL path. Changing keys needs an admin client; listing needs only access to the issuer.
"""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from ec_issuer.access.service import require_admin
from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.api.http import documented_body, json_response, read_json_body
from ec_issuer.api.presenters import key_out
from ec_issuer.api.schemas import KeyList, KeyOut
from ec_issuer.core.validation import parse_command
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.commands import AddKey, RevokeKey, RotateKey
from ec_issuer.keys.model import Algorithm

blueprint = APIBlueprint("keys", __name__, url_prefix="/api/v1/issuers/<issuer_ref>/keys", tag="Keys")

_ERRORS = {
    401: "No or an unknown bearer token",
    403: "Not an admin client, or the issuer is outside the client's scope",
    404: "No such issuer or key",
    409: "The key cannot make this change (a revoked key stays revoked; did:key issuers keep their key)",
    422: "Invalid request (problem details name the field)",
    503: "The key backend cannot be reached",
}


def _issuer_for_change(issuer_ref: str) -> Issuer:
    client = caller()
    require_admin(client)
    return services().issuers.get_visible(client, issuer_ref)


@blueprint.get("")
@blueprint.auth_required(bearer_auth)
@blueprint.output(KeyList)
@blueprint.doc(summary="List an issuer's signing keys (public parts only), in every state", responses=_ERRORS)
def list_keys(issuer_ref: str) -> Response:
    container = services()
    issuer = container.issuers.get_visible(caller(), issuer_ref)
    return json_response({"items": [key_out(k) for k in container.keys.for_issuer(issuer.slug)]})


@blueprint.post("")
@blueprint.auth_required(bearer_auth)
@documented_body(AddKey)
@blueprint.output(KeyOut, status_code=201)
@blueprint.doc(
    summary="Generate or import a key",
    description=(
        "The key is active at once when the issuer has no active key of its algorithm (or `activate` is "
        "true, which retires the current one); otherwise it is `pending`: published, not yet signing."
    ),
    responses=_ERRORS,
)
def add_key(issuer_ref: str) -> Response:
    issuer = _issuer_for_change(issuer_ref)
    command = parse_command(AddKey, read_json_body())
    return json_response(key_out(services().keys.add(issuer, command.to_new_key())), 201)


@blueprint.post("/rotate")
@blueprint.auth_required(bearer_auth)
@documented_body(RotateKey)
@blueprint.output(KeyOut, status_code=201)
@blueprint.doc(
    summary="Rotate: a new key signs from now on; the current one retires and stays published",
    responses=_ERRORS,
)
def rotate_key(issuer_ref: str) -> Response:
    issuer = _issuer_for_change(issuer_ref)
    command = parse_command(RotateKey, read_json_body())
    return json_response(key_out(services().keys.rotate(issuer, Algorithm(command.algorithm), command.backend)), 201)


@blueprint.post("/<fragment>/activate")
@blueprint.auth_required(bearer_auth)
@blueprint.output(KeyOut)
@blueprint.doc(summary="Make a pending or retired key the signer; the current one retires", responses=_ERRORS)
def activate_key(issuer_ref: str, fragment: str) -> Response:
    issuer = _issuer_for_change(issuer_ref)
    return json_response(key_out(services().keys.activate(issuer, fragment)))


@blueprint.post("/<fragment>/retire")
@blueprint.auth_required(bearer_auth)
@blueprint.output(KeyOut)
@blueprint.doc(summary="Stop signing with a key; it stays published so its credentials verify", responses=_ERRORS)
def retire_key(issuer_ref: str, fragment: str) -> Response:
    issuer = _issuer_for_change(issuer_ref)
    return json_response(key_out(services().keys.retire(issuer, fragment)))


@blueprint.post("/<fragment>/revoke")
@blueprint.auth_required(bearer_auth)
@documented_body(RevokeKey)
@blueprint.output(KeyOut)
@blueprint.doc(
    summary="Revoke a compromised key: unpublished, and its credentials no longer verify",
    responses=_ERRORS,
)
def revoke_key(issuer_ref: str, fragment: str) -> Response:
    issuer = _issuer_for_change(issuer_ref)
    command = parse_command(RevokeKey, read_json_body())
    return json_response(key_out(services().keys.revoke(issuer, fragment, command.reason)))
