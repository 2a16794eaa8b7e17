"""Admin API for credentials: issue, read, list, verify."""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from datetime import datetime

from apiflask import APIBlueprint
from flask import Response, request
from werkzeug.exceptions import NotAcceptable

from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.api.http import documented_body, json_response, read_json_body
from ec_issuer.api.openapi import TEXT, answers, media_response
from ec_issuer.api.presenters import credential_full, credential_summary, verification_out
from ec_issuer.api.routes_elm import admin_download_path, public_download_url
from ec_issuer.api.schemas import (
    CredentialPage,
    IssuedCredentialOut,
    IssueOutcomeOut,
    IssueRequestBody,
    VerificationOut,
    VerifyRequest,
)
from ec_issuer.core.encoding import dumps, parse_datetime
from ec_issuer.core.errors import FieldError, InvalidInput
from ec_issuer.core.validation import parse_command
from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.credentials.reading import ListQuery, normalize_credential_id
from ec_issuer.elm.verifying import is_sealed_file
from ec_issuer.signing.jose import VC_JWT_MEDIA_TYPE

VC_MEDIA_TYPE = "application/vc"  # VC 2.0: a credential in JSON-LD, here with its embedded proof

blueprint = APIBlueprint("credentials", __name__, url_prefix="/api/v1/credentials", tag="Credentials")

_ERRORS = {
    400: "Malformed",
    401: "Unauthenticated",
    403: "Forbidden",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input",
}


@blueprint.post("")
@blueprint.auth_required(bearer_auth)
@documented_body(IssueRequestBody)
@blueprint.output(IssueOutcomeOut, status_code=201)
@blueprint.doc(
    summary="Issue an Open Badges 3.0 credential, a European Digital Credential, or both",
    description=(
        "Builds (or completes, when `credential` is given), validates against the OB 3.0 schema, secures "
        "(`format`: `vc+jwt` by default, or `data-integrity` for an embedded eddsa-rdfc-2022 / "
        "ecdsa-rdfc-2019 proof) and stores a credential. With `produce` including `elm-3.2` and a `europass` "
        "part it also builds an ELM 3.2 European Digital Credential, checks it against the EDC shapes (422 "
        "listing each violation) and seals it (JAdES); `europass` in the answer says where to download it. "
        "Send an `Idempotency-Key` header to make retries safe: the same key with the same body answers with "
        "the same credential, with another body 409."
    ),
    responses=_ERRORS,
)
def issue_credential() -> Response:
    container = services()
    issue_request = parse_issue_request(read_json_body())
    outcome = container.issuing.issue(caller(), issue_request, request.headers.get("Idempotency-Key"))
    headers = {"Location": f"/api/v1/credentials/{outcome.credential.id}"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    body = credential_full(outcome.credential, container.clock.now())
    european = outcome.credential if outcome.credential.is_sealed_file else outcome.companion
    if european is not None:
        body["europass"] = {
            "credentialId": european.id,
            "download": admin_download_path(european.id),
            "publicDownload": public_download_url(outcome.download_token) if outcome.download_token else None,
        }
    return json_response(body, 201, headers)


@blueprint.get("")
@blueprint.auth_required(bearer_auth)
@blueprint.output(CredentialPage)
@blueprint.doc(
    summary="List issued credentials",
    description=(
        "Newest first. Filters: `issuer` (slug or DID), `status`, `recipient` (e-mail address or DID), "
        "`issuedAfter`/`issuedBefore` (RFC 3339). Pass `nextCursor` back as `cursor` for the next page."
    ),
)
def list_credentials() -> Response:
    container = services()
    args = request.args
    try:
        limit = int(args.get("limit", "50"))
    except ValueError:
        raise InvalidInput("limit is not a number", [FieldError("limit", "must be an integer")]) from None
    query = ListQuery(
        issuer=args.get("issuer"),
        status=args.get("status"),
        recipient=args.get("recipient"),
        issued_after=_query_time("issuedAfter"),
        issued_before=_query_time("issuedBefore"),
        cursor=args.get("cursor"),
        limit=limit,
    )
    page = container.reading.page(caller(), query)
    now = container.clock.now()
    return json_response({"items": [credential_summary(c, now) for c in page.items], "nextCursor": page.next_cursor})


def _query_time(name: str) -> datetime | None:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise InvalidInput(f"{name} is not a timestamp", [FieldError(name, "RFC 3339 with offset")]) from None


@blueprint.get("/<path:credential_id>")
@blueprint.auth_required(bearer_auth)
@blueprint.output(IssuedCredentialOut)
@blueprint.doc(
    summary="Fetch one credential",
    description=(
        "JSON by default; the secured form alone with `Accept: application/vc+jwt` (VC-JOSE credentials) or "
        "`Accept: application/vc` (credentials with an embedded Data Integrity proof); the other is 406."
    ),
    responses=answers(
        {
            200: media_response("The credential", {VC_JWT_MEDIA_TYPE: TEXT, VC_MEDIA_TYPE: {"type": "object"}}),
            404: "No such credential, or not one this client may read",
            406: "Not secured in the form asked for",
        }
    ),
)
def get_credential(credential_id: str) -> Response:
    container = services()
    credential = container.reading.get(caller(), credential_id)
    offered = ["application/json", VC_JWT_MEDIA_TYPE, VC_MEDIA_TYPE]
    best = request.accept_mimetypes.best_match(offered, default="application/json")
    if best != "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["application/json"]:
        artefact = credential.jws if best == VC_JWT_MEDIA_TYPE else credential.with_embedded_proof
        if artefact is None:
            raise NotAcceptable(f"this credential is secured as {credential.format}, not as {best}")
        return Response(artefact, mimetype=best)
    return json_response(credential_full(credential, container.clock.now()))


@blueprint.post("/verify")
@blueprint.auth_required(bearer_auth)
@documented_body(VerifyRequest)
@blueprint.output(VerificationOut)
@blueprint.doc(
    summary="Verify a credential",
    description=(
        "Checks format, header, key, signature, claims, schema, validity period and (for credentials issued "
        "here) stored status. A failed check is a normal answer with `verified: false`, not an error. "
        "The body is `{jws}`, `{credential}` (with an embedded proof) or `{credentialId}`, or a bare JWS "
        "sent as `application/vc+jwt`."
    ),
    responses=answers({404: "`credentialId` names no credential this client may read", 422: "Invalid input"}),
)
def verify_credential() -> Response:
    container = services()
    if request.mimetype == VC_JWT_MEDIA_TYPE:
        token = request.get_data(cache=False).decode("ascii", errors="replace")
        return json_response(verification_out(container.verifier.verify(token)))
    command = parse_command(VerifyRequest, read_json_body())
    given = [name for name in ("jws", "credential", "credentialId") if getattr(command, name) is not None]
    if len(given) != 1:
        raise InvalidInput("give exactly one of jws, credential or credentialId", [FieldError("", "one of the three")])
    if command.jws is not None:
        verification = container.verifier.verify(command.jws)
    elif command.credential is not None and is_sealed_file(command.credential):
        verification = container.verifier.verify_sealed(dumps(command.credential))
    elif command.credential is not None:
        verification = container.verifier.verify_document(command.credential)
    else:
        stored = container.reading.get(caller(), normalize_credential_id(command.credentialId or ""))
        verification = container.verifier.verify_stored(stored)
    return json_response(verification_out(verification))
