"""Public, unauthenticated documents: JWK Sets, did:web DID documents, health and readiness."""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from ec_issuer.api.context import services
from ec_issuer.api.http import json_response
from ec_issuer.api.openapi import ANSWERS_WITHOUT_DATABASE, answers, media_response
from ec_issuer.api.schemas import Health
from ec_issuer.bootstrap import readiness
from ec_issuer.core.errors import NotFound
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.publishing import did_document, jwk_set

blueprint = APIBlueprint("public", __name__, tag="Public documents")

_CACHE = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}


def _issuer(slug: str) -> Issuer:
    issuer = services().issuers.get(slug)
    if issuer is None or issuer.slug != slug:
        raise NotFound(f"no issuer '{slug}'")
    return issuer


_HEALTH = {"$ref": "#/components/schemas/Health"}
_DID_DOCUMENT = media_response("A DID document (DID Core 1.0)", {"application/did+json": {"type": "object"}})


@blueprint.get("/.well-known/jwks.json")
@blueprint.doc(summary="Every key of every issuer that may still verify a credential")
def all_jwks() -> Response:
    return json_response(jwk_set(services().keys.all_published()), headers=_CACHE)


@blueprint.get("/issuers/<slug>/jwks.json")
@blueprint.doc(summary="One issuer's verification keys as a JWK Set")
def issuer_jwks(slug: str) -> Response:
    issuer = _issuer(slug)
    return json_response(jwk_set(services().keys.for_issuer(issuer.slug)), headers=_CACHE)


@blueprint.get("/.well-known/did.json")
@blueprint.doc(
    summary="The root issuer's did:web document",
    responses=answers({200: _DID_DOCUMENT, 404: "This deployment has no root issuer"}),
)
def root_did_document() -> Response:
    container = services()
    issuer = container.issuers.root_document_issuer()
    if issuer is None:
        raise NotFound("this deployment has no root issuer")
    return _did_response(issuer)


@blueprint.get("/issuers/<slug>/did.json")
@blueprint.doc(
    summary="An issuer's did:web document",
    responses=answers({200: _DID_DOCUMENT, 404: "No such issuer, or its document is elsewhere (root, did:key)"}),
)
def issuer_did_document(slug: str) -> Response:
    issuer = _issuer(slug)
    if issuer.is_root:
        raise NotFound(f"issuer '{slug}' is the root issuer: its document is /.well-known/did.json")
    if not issuer.uses_did_web:
        raise NotFound(f"issuer '{slug}' is {issuer.did}: a did:key resolves from the identifier itself")
    return _did_response(issuer)


def _did_response(issuer: Issuer) -> Response:
    document = did_document(issuer, services().keys.for_issuer(issuer.slug))
    response = json_response(document, headers=_CACHE)
    response.mimetype = "application/did+json"
    return response


@blueprint.get("/health")
@blueprint.output(Health)
@blueprint.doc(summary="Liveness: the process answers", extensions=ANSWERS_WITHOUT_DATABASE)
def health() -> Response:
    return json_response({"status": "ok"})


@blueprint.get("/ready")
@blueprint.output(Health)
@blueprint.doc(
    summary="Readiness: database reachable and migrated, key backends usable",
    responses=answers({503: media_response("Not ready: `checks` says what failed", {"application/json": _HEALTH})}),
)
def ready() -> Response:
    checks = readiness(services())
    healthy = all(value == "ok" for value in checks.values())
    return json_response({"status": "ok" if healthy else "unavailable", "checks": checks}, 200 if healthy else 503)
