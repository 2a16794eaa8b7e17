"""The W3C VC API (VCALM) issuer and verifier endpoints, Data Integrity secured, bearer-authenticated.

`POST /credentials/issue`, `POST /credentials/verify`, `POST /presentations/verify` and
`POST /credentials/status`; status codes and problem types are tabulated in docs/vc-api.md. The verify path also
takes account-free shapes (a credential id, a JWS, a file), which routes_verification.py answers.
"""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response
from pydantic import BaseModel, Field

from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.api.http import documented_body, json_response, read_json_body
from ec_issuer.api.routes_verification import (
    is_anonymous_media_type,
    is_anonymous_shape,
    prepare_json_verify_body,
    require_client,
    verify_anonymously,
)
from ec_issuer.core.encoding import JsonObject, format_datetime, loads_object
from ec_issuer.core.errors import FieldError, Forbidden, InvalidInput, MalformedInput
from ec_issuer.core.vcdm import is_v1, issuer_id
from ec_issuer.credentials.commands import IssueDocument
from ec_issuer.credentials.reading import normalize_credential_id
from ec_issuer.vc_api.shape import (
    check_credential,
    check_presentation,
    check_v1_issuance_date,
    embedded_credentials,
    optional_object,
    require_object,
    required_member,
)
from ec_issuer.vc_api.status_request import parse_status_update
from ec_issuer.vc_api.verification import VcApiVerifier

blueprint = APIBlueprint("vc_api", __name__, tag="W3C VC API")

# VC Data Integrity cryptosuites this service creates, and the key algorithm each signs with.
CRYPTOSUITES = {"eddsa-rdfc-2022": "EdDSA", "ecdsa-rdfc-2019": "ES256"}

_ERRORS = {
    400: "Malformed request or credential",
    401: "Unauthenticated",
    403: "Forbidden",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many account-free requests from this address for now (PUBLIC_RATE_PER_MINUTE); see Retry-After",
}


def _problems(*codes: int) -> dict[int, Any]:
    return {code: _ERRORS[code] for code in codes}


class IssueOptions(BaseModel):
    cryptosuite: str | None = Field(default=None, description="eddsa-rdfc-2022 or ecdsa-rdfc-2019")


class VcApiIssueRequest(BaseModel):
    credential: dict[str, Any] = Field(description="An unsecured VC 2.0 or VC 1.1 credential")
    options: IssueOptions | None = None


class VcApiIssueResponse(BaseModel):
    verifiableCredential: dict[str, Any] = Field(description="The credential with an embedded DataIntegrityProof")


class VcApiVerifyCredentialRequest(BaseModel):
    verifiableCredential: dict[str, Any] | None = Field(default=None, description="VC API: needs a bearer token")
    options: dict[str, Any] | None = None
    credentialId: str | None = Field(default=None, description="No token needed: a credential issued here")
    jws: str | None = Field(default=None, description="No token needed: a compact JWS (vc+jwt)")
    file: str | None = Field(default=None, description="With credentialId or jws: the original file, base64")


class VcApiPresentationOptions(BaseModel):
    challenge: str | None = None
    domain: str | None = None


class VcApiVerifyPresentationRequest(BaseModel):
    verifiablePresentation: dict[str, Any]
    options: VcApiPresentationOptions | None = None


class VcApiProblemDetail(BaseModel):
    type: str
    title: str
    detail: str


class VcApiVerificationResponse(BaseModel):
    verified: bool
    problemDetails: list[VcApiProblemDetail]
    warnings: list[VcApiProblemDetail]
    results: dict[str, Any]


@blueprint.post("/credentials/issue")
@blueprint.auth_required(bearer_auth)
@documented_body(VcApiIssueRequest)
@blueprint.output(VcApiIssueResponse, status_code=201)
@blueprint.doc(
    summary="Issue a credential with a Data Integrity proof (VC API)",
    description=(
        "Signs `credential` (VC 2.0 or 1.1) with an embedded `DataIntegrityProof` and stores it. The credential's "
        "`issuer` (string or object `id`) must be the DID of an issuer this client may use. "
        "`options.cryptosuite`: `eddsa-rdfc-2022` (EdDSA key) or `ecdsa-rdfc-2019` (ES256 key, the default)."
    ),
    responses=_problems(400, 401, 403, 413, 415, 422),
)
def issue() -> Response:
    container = services()
    body = require_object(read_json_body(), "", "the request body")
    document = check_credential(required_member(body, "credential"), "/credential", secured=False)
    options = optional_object(body.get("options"), "/options", "options")
    algorithm = _algorithm(options)
    did = issuer_id(document)
    client = caller()
    issuer = container.issuers.get(did) if did is not None and did.startswith("did:") else None
    if client.issuer_scope is not None and (issuer is None or not client.may_use_issuer(issuer.slug)):
        raise Forbidden(f"client may not issue for issuer {did!r}")
    if issuer is None:
        pointer = "/credential/issuer/id" if isinstance(document.get("issuer"), dict) else "/credential/issuer"
        raise MalformedInput(
            f"the credential's issuer {did!r} is not an issuer of this service",
            [FieldError(pointer, "must be the DID of an issuer this client may use")],
        )
    if is_v1(document) and "issuanceDate" not in document:
        document = {**document, "issuanceDate": format_datetime(container.clock.now().replace(microsecond=0))}
    request = IssueDocument(issuer=issuer.did, credential=document, algorithm=algorithm, format="data-integrity")
    try:
        outcome = container.issuing.issue(client, request)
    except InvalidInput as exc:  # the issuing service names the algorithm; the VC API caller chose a cryptosuite
        errors = [FieldError("/options/cryptosuite", e.detail) if e.pointer == "/algorithm" else e for e in exc.errors]
        raise InvalidInput(exc.detail, errors) from None
    return json_response({"verifiableCredential": loads_object(outcome.credential.signed)}, 201)


def _algorithm(options: JsonObject) -> Any:
    suite = options.get("cryptosuite")
    if suite is None:
        return None
    if not isinstance(suite, str) or suite not in CRYPTOSUITES:
        raise MalformedInput(
            f"unsupported cryptosuite {suite!r}",
            [FieldError("/options/cryptosuite", f"must be one of {', '.join(CRYPTOSUITES)}")],
        )
    return CRYPTOSUITES[suite]


@blueprint.post("/credentials/verify")
@documented_body(VcApiVerifyCredentialRequest)
@blueprint.output(VcApiVerificationResponse)
@blueprint.doc(
    summary="Verify a credential: VC API (bearer token), or by id or JWS (no account needed)",
    description=(
        "With `{verifiableCredential, options}` (the VC API, bearer token required): checks every proof "
        "(eddsa-rdfc-2022, ecdsa-rdfc-2019, Ed25519Signature2020) and the validity period; a failed check is a "
        "200 with `verified: false` and `problemDetails`, a malformed credential a 400. Without a token: "
        "`{credentialId}` or `{jws}`, optionally with `file` (base64, up to 1 MiB), a bare JWS as "
        "`application/vc+jwt`, or `multipart/form-data` with a `credentialId` or `credential` part and an optional "
        "`file` part (up to VERIFY_FILE_MAX_BYTES); these answer with each check (signature, status, validity, "
        "`contentHash`) and a `verdict` (docs/verification.md)."
    ),
    responses=_problems(400, 401, 403, 413, 415, 422, 429),
    security=[{"BearerAuth": []}, {}],
)
def verify_credential() -> Response:
    if is_anonymous_media_type():
        return verify_anonymously(None)
    prepare_json_verify_body()
    submitted = read_json_body()
    if is_anonymous_shape(submitted):
        return verify_anonymously(submitted)
    require_client()
    container = services()
    body = require_object(submitted, "", "the request body")
    credential = check_credential(required_member(body, "verifiableCredential"), "/verifiableCredential", secured=True)
    check_v1_issuance_date(credential, "/verifiableCredential")
    optional_object(body.get("options"), "/options", "options")
    outcome = _verifier().verify_credential(credential, container.clock.now())
    return json_response(outcome.as_json())


@blueprint.post("/presentations/verify")
@blueprint.auth_required(bearer_auth)
@documented_body(VcApiVerifyPresentationRequest)
@blueprint.output(VcApiVerificationResponse)
@blueprint.doc(
    summary="Verify a Data Integrity secured presentation (VC API)",
    description=(
        "Checks the presentation's `authentication` proof (by the holder's key, carrying `options.challenge` and "
        "`options.domain` when given) and each embedded credential. Answers like /credentials/verify; "
        "`results.credentialResults` holds one result per embedded credential."
    ),
    responses=_problems(400, 401, 413, 415),
)
def verify_presentation() -> Response:
    container = services()
    body = require_object(read_json_body(), "", "the request body")
    presentation = check_presentation(required_member(body, "verifiablePresentation"), "/verifiablePresentation")
    for index, item in enumerate(embedded_credentials(presentation)):
        pointer = f"/verifiablePresentation/verifiableCredential/{index}"
        check_v1_issuance_date(check_credential(item, pointer, secured=True), pointer)
    options = optional_object(body.get("options"), "/options", "options")
    challenge, domain = _string_option(options, "challenge"), _string_option(options, "domain")
    outcome = _verifier().verify_presentation(presentation, container.clock.now(), challenge=challenge, domain=domain)
    return json_response(outcome.as_json())


def _string_option(options: JsonObject, name: str) -> str | None:
    value = options.get(name)
    if value is not None and not isinstance(value, str):
        raise MalformedInput(f"options.{name} must be a string", [FieldError(f"/options/{name}", "must be a string")])
    return value


def _verifier() -> VcApiVerifier:
    container = services()
    return VcApiVerifier(container.key_resolver, container.status_source)


class VcApiStatusRequest(BaseModel):
    credentialId: str
    credentialStatus: dict[str, Any] | list[dict[str, Any]] = Field(
        description="`{type: BitstringStatusListEntry, statusPurpose}` (VCALM) or `[{type, status}]` (DCC)"
    )
    status: bool | None = Field(default=None, description="VCALM: true sets the purpose's status, false clears it")


class VcApiStatusResponse(BaseModel):
    credentialId: str
    status: str
    changed: bool


@blueprint.post("/credentials/status")
@blueprint.auth_required(bearer_auth)
@documented_body(VcApiStatusRequest)
@blueprint.output(VcApiStatusResponse)
@blueprint.doc(
    summary="Update a credential's status (VC API)",
    description=(
        "A compatibility route onto the admin API's revoke, suspend and reinstate (same authorization, same "
        "history). Revocation cannot be cleared: `status: false` on a revoked credential is 409."
    ),
    responses={
        **_problems(400, 401, 403),
        404: {"description": "No such credential"},
        409: {"description": "Conflict"},
    },
)
def update_status() -> Response:
    container = services()
    update = parse_status_update(require_object(read_json_body(), "", "the request body"))
    outcome = container.lifecycle.change(caller(), normalize_credential_id(update.credential_id), update.action)
    now = container.clock.now()
    return json_response(
        {
            "credentialId": outcome.credential.id,
            "status": outcome.credential.effective_status(now).value,
            "changed": outcome.changed,
        }
    )
