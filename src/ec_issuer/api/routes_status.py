"""Credential lifecycle over HTTP: revoke, suspend, reinstate and history (admin API, authenticated),
and the status lists verifiers fetch (public, cacheable)."""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response, request

from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.api.http import documented_body, json_response, read_json_body
from ec_issuer.api.openapi import TEXT, answers, media_response
from ec_issuer.api.presenters import history_out, lifecycle_change_out
from ec_issuer.api.schemas import HistoryOut, LifecycleChangeOut
from ec_issuer.core.errors import NotFound
from ec_issuer.core.validation import parse_command
from ec_issuer.credentials.reading import normalize_credential_id
from ec_issuer.signing.jose import VC_JWT_MEDIA_TYPE
from ec_issuer.status.commands import ChangeStatus, RevokeCredential
from ec_issuer.status.lists import StatusListKind, StatusListUrls
from ec_issuer.status.model import LifecycleAction, RevocationReason
from ec_issuer.status.publication import STATUS_LIST_JWT_MEDIA_TYPE, PublishedList
from ec_issuer.status.service import LifecycleOutcome

admin = APIBlueprint("lifecycle", __name__, url_prefix="/api/v1/credentials", tag="Credential lifecycle")
public = APIBlueprint("status_lists", __name__, tag="Status lists")

_ERRORS = {
    400: "Malformed",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "No such credential",
    409: "Not allowed from the credential's current status",
    422: "Invalid input",
}
_RESPONSES = answers(_ERRORS)


def _change_response(outcome: LifecycleOutcome) -> Response:
    return json_response(lifecycle_change_out(outcome, services().clock.now()))


@admin.post("/<path:credential_id>/revoke")
@admin.auth_required(bearer_auth)
@documented_body(RevokeCredential)
@admin.output(LifecycleChangeOut)
@admin.doc(
    summary="Revoke a credential (permanent)",
    description=(
        "Sets the credential's revocation bit (and clears a suspension). Idempotent: revoking a revoked "
        "credential changes nothing (`changed: false`). An expired credential cannot be revoked (409)."
    ),
    responses=_RESPONSES,
)
def revoke(credential_id: str) -> Response:
    command = parse_command(RevokeCredential, read_json_body(allow_empty=True))
    reason_code = RevocationReason.parse(command.reasonCode)
    outcome = services().lifecycle.change(
        caller(),
        normalize_credential_id(credential_id),
        LifecycleAction.REVOKE,
        reason_code=reason_code,
        reason=command.reason,
    )
    return _change_response(outcome)


@admin.post("/<path:credential_id>/suspend")
@admin.auth_required(bearer_auth)
@documented_body(ChangeStatus)
@admin.output(LifecycleChangeOut)
@admin.doc(summary="Suspend a credential (reversible)", description="Idempotent.", responses=_RESPONSES)
def suspend(credential_id: str) -> Response:
    return _reversible(credential_id, LifecycleAction.SUSPEND)


@admin.post("/<path:credential_id>/reinstate")
@admin.auth_required(bearer_auth)
@documented_body(ChangeStatus)
@admin.output(LifecycleChangeOut)
@admin.doc(
    summary="Reinstate a suspended credential",
    description="Idempotent for an active credential; a revoked or expired one cannot be reinstated (409).",
    responses=_RESPONSES,
)
def reinstate(credential_id: str) -> Response:
    return _reversible(credential_id, LifecycleAction.REINSTATE)


def _reversible(credential_id: str, action: LifecycleAction) -> Response:
    command = parse_command(ChangeStatus, read_json_body(allow_empty=True))
    outcome = services().lifecycle.change(
        caller(), normalize_credential_id(credential_id), action, reason=command.reason
    )
    return _change_response(outcome)


@admin.get("/<path:credential_id>/history")
@admin.auth_required(bearer_auth)
@admin.output(HistoryOut)
@admin.doc(
    summary="A credential's lifecycle history",
    description="Every transition, oldest first, with the acting client (null: the expiry sweep), time and reason.",
    responses=answers({404: _RESPONSES[404], 401: _RESPONSES[401]}),
)
def history(credential_id: str) -> Response:
    credential_id = normalize_credential_id(credential_id)
    events = services().lifecycle.history(caller(), credential_id)
    return json_response(history_out(credential_id, events))


_BITSTRING_TYPES = ["application/json", "application/ld+json", "application/vc", VC_JWT_MEDIA_TYPE]


@public.get("/issuers/<slug>/status/<kind>/<int:number>")
@public.doc(
    summary="A status list",
    description=(
        "`revocation` and `suspension` lists are BitstringStatusListCredentials: JSON with a Data Integrity "
        "proof (`application/json`, `application/ld+json`, `application/vc`) or `application/vc+jwt`. "
        "`token` lists are Status List Tokens (`application/statuslist+jwt`). Cacheable for the list's ttl; "
        "send `If-None-Match` with the ETag for a 304."
    ),
    responses=answers(
        {
            200: media_response(
                "The list, in the representation asked for",
                {
                    "application/json": {"type": "object"},
                    "application/ld+json": {"type": "object"},
                    "application/vc": {"type": "object"},
                    VC_JWT_MEDIA_TYPE: TEXT,
                    STATUS_LIST_JWT_MEDIA_TYPE: TEXT,
                },
            ),
            304: {"description": "Not modified (If-None-Match)"},
            404: "No such issuer, list kind or list",
        }
    ),
)
def status_list(slug: str, kind: str, number: int) -> Response:
    container = services()
    try:
        list_kind = StatusListKind(kind)
    except ValueError:
        raise NotFound(f"no status list kind '{kind}'") from None
    published = container.status_lists.current(StatusListUrls.list_id(slug, list_kind, number))
    body, media_type = _representation(published)
    etag = published.etag(body)
    headers = {
        "Cache-Control": f"public, max-age={container.status_lists.ttl_seconds}",
        "Vary": "Accept",
        "Access-Control-Allow-Origin": "*",
    }
    # RFC 9110 §13.1.2: If-None-Match compares weakly (a proxy that compresses may weaken the tag) and "*"
    # matches any representation.
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304, headers=headers)
        response.set_etag(etag)
        return response
    response = Response(body, mimetype=media_type, headers=headers)
    response.set_etag(etag)
    return response


def _representation(published: PublishedList) -> tuple[str, str]:
    if published.document is None:
        return published.jwt, STATUS_LIST_JWT_MEDIA_TYPE
    best = request.accept_mimetypes.best_match(_BITSTRING_TYPES, default="application/json")
    if (
        best == VC_JWT_MEDIA_TYPE
        and request.accept_mimetypes[VC_JWT_MEDIA_TYPE] > request.accept_mimetypes["application/json"]
    ):
        return published.jwt, VC_JWT_MEDIA_TYPE
    return published.document, best if best != VC_JWT_MEDIA_TYPE else "application/json"
