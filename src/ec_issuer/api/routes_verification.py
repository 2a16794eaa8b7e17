"""The public face of each credential: its verification page (HTML for people, JSON for programs), the check of
a file against the content hash it names, its printable certificate and badge, and the account-free shapes of
`POST /credentials/verify` (the VC API shape of that path stays in routes_vc_api.py, which hands the others here).

Anyone may call these; nothing here reveals more than the credential's holder could publish anyway. Open Badges
and European Digital Credentials are about a person, so for them an anonymous caller learns only status, issuer,
type and dates; validation credentials carry no personal data by design and are shown whole. See
docs/verification.md.
"""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any, Final, Protocol, cast

from apiflask import APIBlueprint
from flask import Response, render_template, request
from werkzeug.exceptions import NotFound as HttpNotFound

from ec_issuer.access.model import ApiClient
from ec_issuer.api.context import services
from ec_issuer.api.http import JSON_MEDIA_TYPE, json_response
from ec_issuer.api.openapi import BINARY, HTML_PAGE, media_response
from ec_issuer.api.presenters import credential_summary, verification_out
from ec_issuer.api.rate_limits import spend_public_allowance
from ec_issuer.api.uploads import (
    MULTIPART_MEDIA_TYPE,
    HashedFile,
    accept_files_up_to,
    hash_base64,
    hash_raw_body,
    inline_body_limit,
    read_form,
)
from ec_issuer.core.encoding import format_datetime, loads
from ec_issuer.core.errors import FieldError, Forbidden, InvalidInput, NotFound, Unauthenticated, Unavailable
from ec_issuer.credentials.verifying import Verification
from ec_issuer.elm.page import format_date
from ec_issuer.public_verification.artefacts import artefact_tag, badge_png, certificate_pdf
from ec_issuer.public_verification.facts import PublicFacts
from ec_issuer.public_verification.service import (
    CredentialView,
    FileComparison,
    PublicVerification,
    Verdict,
    page_key,
    verdict_of,
    with_content_check,
)
from ec_issuer.signing.jose import VC_JWT_MEDIA_TYPE

blueprint = APIBlueprint("verification", __name__, tag="Verification pages", template_folder="templates")

ASSET_PATH: Final = "/verification/assets"
_ASSETS: Final = {"verify.js": "text/javascript", "verify.css": "text/css", "icon.svg": "image/svg+xml"}
# Nothing inline and nothing from elsewhere: the page's script, style sheet and icon are files served from here.
_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # The answer carries the credential's status as of now: a cached "valid" could outlive a revocation.
    "Cache-Control": "no-store",
    "Vary": "Accept, Authorization",
}
# Checks whose detail may quote the credential's content; for credentials about a person it stays hidden.
_CONTENT_QUOTING_CHECKS: Final = frozenset({"schema", "payload"})
_ANONYMOUS_VERIFY_MEMBERS: Final = ("credentialId", "jws", "file")

_RATE_LIMITED = "Too many requests from this address for now (PUBLIC_RATE_PER_MINUTE); see Retry-After"
_PAGE_RESPONSES: dict[int | str, Any] = {
    200: media_response(
        "The page, or with `Accept: application/json` the verdict and verification result",
        {"text/html": HTML_PAGE, "application/json": {"type": "object"}},
    ),
    404: media_response("No such credential: the page says Unknown", {"text/html": HTML_PAGE}),
    429: _RATE_LIMITED,
    503: media_response("The database is away: the page says Unavailable (see Retry-After)", {"text/html": HTML_PAGE}),
}
_FILE_RESPONSES: dict[int | str, Any] = {
    200: media_response(
        "The comparison; the page with it for a form a browser sent without JavaScript",
        {"application/json": {"type": "object"}, "text/html": HTML_PAGE},
    ),
    400: "Malformed URL or form",
    404: "No such credential",
    413: "The file is larger than VERIFY_FILE_MAX_BYTES",
    422: "The credential names no content hash, or the form has no file",
    429: _RATE_LIMITED,
}


def _artefact_responses(media_type: str) -> dict[int | str, Any]:
    return {
        200: media_response("The drawing", {media_type: BINARY}),
        304: {"description": "Not modified (If-None-Match)"},
        404: "No such validation credential",
        429: _RATE_LIMITED,
    }


class AttestationRecords(Protocol):
    """The validation platform's links of a validation credential (organization, project, submission, run, step
    run), for authenticated callers only; present when the composition root wires the attestations capability."""

    def record_for(self, credential_id: str) -> object | None: ...


def _public() -> PublicVerification:
    container = services()
    return PublicVerification(container.reading, container.verifier)


def page_url(key: str) -> str:
    return f"{services().settings.public_url.rstrip('/')}/credentials/{key}/"


# --- the page ------------------------------------------------------------------------------------------------------


@blueprint.get("/credentials/<credential_id>/")
@blueprint.doc(
    summary="A credential's public verification page",
    description=(
        "HTML for browsers: the status in one word (Valid, Revoked, Suspended, Expired, Invalid, Unknown), issuer, "
        "type and dates, and for validation credentials the workflow, run, content hash and validators, with a "
        "file check. With `Accept: application/json`: the verdict, the verification result and, for validation "
        "credentials, the credential and its JWS. With a bearer token of a client that may use the issuer, the "
        "JSON also holds the stored record (and the validation platform's links). `credential_id` is the UUID, "
        "or the `urn:uuid:` / `urn:credential:` id."
    ),
    responses=_PAGE_RESPONSES,
)
def page(credential_id: str) -> Response:
    spend_public_allowance()
    wants_json = _prefers_json()
    client = _optional_client() if wants_json else None
    try:
        view = _public().view(credential_id)
    except Unavailable:
        if wants_json:
            raise
        # A browser gets a page it can show, with the problem's 503 and Retry-After, instead of problem JSON.
        unavailable = _html(None, credential_id, status=503, outage=True)
        unavailable.headers["Retry-After"] = "1"
        return unavailable
    if wants_json:
        if view is None:
            raise NotFound(f"no credential '{credential_id}' was issued here")
        return _with_headers(json_response(_page_json(view, client)))
    return _html(view, credential_id, status=200 if view else 404)


def _page_json(view: CredentialView, client: ApiClient | None) -> dict[str, Any]:
    if client is not None and not client.may_use_issuer(view.record.issuer_slug):
        raise Forbidden("this client may not read the records of this credential's issuer")
    shown = client is not None or view.is_validation
    body: dict[str, Any] = {
        "id": view.record.id,
        "verdict": view.verdict.value,
        "verdictLabel": view.verdict.label,
        "explanation": view.verdict.explanation,
        "facts": facts_out(view.facts),
        "credential": view.document if shown else None,
        "jws": view.record.jws if shown else None,
        "verification": public_verification_out(view.verification, shown),
        "links": _links(view),
    }
    if client is not None:
        body["record"] = credential_summary(view.record, services().clock.now())
        body["attestation"] = _attestation_links(view.record.id)
    return body


@dataclasses.dataclass(frozen=True)
class _Outage:
    """The page's headline when nothing could be checked: shaped like a Verdict for the template."""

    value: str = "unavailable"
    label: str = "Unavailable"
    explanation: str = "This service cannot check the credential right now. Try again in a moment."


def _html(
    view: CredentialView | None,
    requested: str,
    *,
    status: int,
    file_result: dict[str, Any] | None = None,
    outage: bool = False,
) -> Response:
    """The page: for `view`, or Unknown without one, or Unavailable when `outage` (nothing could be looked up)."""
    settings = services().settings
    context: dict[str, Any] = {
        "requested": requested,
        "assets": ASSET_PATH,
        "max_file": _size_text(settings.verify_file_max_bytes),
        "file_result": file_result,
        "checked_at": format_datetime(services().clock.now()),
    }
    if view is None:
        context.update(verdict=_Outage() if outage else Verdict.UNKNOWN, view=None, outage=outage)
    else:
        validation = view.facts.validation
        context.update(
            view=view,
            verdict=view.verdict,
            facts=view.facts,
            validation=validation,
            dates=_dates(view.facts),
            checks=public_verification_out(view.verification, view.is_validation)["checks"],
            links=_links(view, absolute=False),
        )
    html = render_template("verification/page.html", **context)
    response = Response(html, status=status, mimetype="text/html")
    return _with_headers(response)


def _links(view: CredentialView, *, absolute: bool = True) -> dict[str, str | None]:
    """Absolute URLs for programs; paths for the page itself, which may be reached under another host name
    than ISSUER_BASE_URL (its form and script may only talk to the origin that served them)."""
    key = page_key(view.record.id) or ""
    base = page_url(key) if absolute else f"/credentials/{key}/"
    artefacts = view.is_validation
    return {
        "page": base,
        "file": base + "file" if view.expected_hash is not None else None,
        "certificate": base + "certificate.pdf" if artefacts else None,
        "badge": base + "badge.png" if artefacts else None,
    }


def _dates(facts: PublicFacts) -> dict[str, str | None]:
    def long(moment: datetime | None) -> str | None:
        return f"{format_date(moment.date())}, {moment:%H:%M} UTC" if moment else None

    completed = facts.validation.completed_at if facts.validation else None
    return {
        "issued": long(facts.valid_from),
        "issued_iso": format_datetime(facts.valid_from) if facts.valid_from else None,
        "until": long(facts.valid_until),
        "completed": long(completed),
    }


# --- the file check ------------------------------------------------------------------------------------------------


@blueprint.post("/credentials/<credential_id>/file")
@blueprint.doc(
    summary="Compare a file with the content hash of a validation credential",
    description=(
        "The file as the raw request body (any media type but multipart), or as the `file` part of a "
        "`multipart/form-data` form. Hashed (SHA-256) as it arrives and not kept; up to VERIFY_FILE_MAX_BYTES "
        "(50 MiB by default, 413 beyond). Answers `{match, expected, actual, size}`; a form sent by a browser "
        "without JavaScript gets the page back with the answer."
    ),
    responses=_FILE_RESPONSES,
)
def check_file(credential_id: str) -> Response:
    spend_public_allowance()
    accept_files_up_to(services().settings.verify_file_max_bytes)
    view = _public().view(credential_id)
    if view is None:
        raise NotFound(f"no credential '{credential_id}' was issued here")
    expected = view.expected_hash
    if expected is None:
        problem = view.facts.validation.hash_problem if view.facts.validation else None
        raise InvalidInput(
            "this credential names no content hash to compare a file with",
            [FieldError("file", problem or "only validation credentials name a file's hash")],
        )
    if request.mimetype == MULTIPART_MEDIA_TYPE:
        file = read_form("file", (), services().settings.max_request_bytes).file
        if file is None:
            raise InvalidInput("the form has no file", [FieldError("file", "add the file as the 'file' part")])
    else:
        file = hash_raw_body()
    comparison = FileComparison(expected, file[0], file[1])
    answer = {
        "credentialId": view.record.id,
        "match": comparison.matches,
        "expected": expected.urn,
        "actual": comparison.actual.urn,
        "size": comparison.size,
        "verdict": view.verdict.value,
    }
    if not _prefers_json() and request.mimetype == MULTIPART_MEDIA_TYPE:
        return _html(view, credential_id, status=200, file_result=answer)
    return _with_headers(json_response(answer))


# --- artefacts -----------------------------------------------------------------------------------------------------


@blueprint.get("/credentials/<credential_id>/certificate.pdf")
@blueprint.doc(
    summary="A validation credential's certificate (A4 PDF with the verification page's QR code)",
    description="Drawn on request with the status of that moment: a revoked credential's certificate says REVOKED.",
    responses=_artefact_responses("application/pdf"),
)
def certificate(credential_id: str) -> Response:
    return _artefact(credential_id, "application/pdf", "certificate.pdf")


@blueprint.get("/credentials/<credential_id>/badge.png")
@blueprint.doc(
    summary="A validation credential's badge (square PNG with the verification page's QR code)",
    description="Drawn on request with the status of that moment, like the certificate.",
    responses=_artefact_responses("image/png"),
)
def badge(credential_id: str) -> Response:
    return _artefact(credential_id, "image/png", "badge.png")


def _artefact(credential_id: str, media_type: str, name: str) -> Response:
    spend_public_allowance()
    view = _public().view(credential_id)
    if view is None or view.facts.validation is None:
        raise NotFound(f"no validation credential '{credential_id}' was issued here")
    key = page_key(view.record.id) or ""
    container = services()
    now = container.clock.now()
    tag = artefact_tag(name, view.record.id, view.verdict, now.date())
    if tag in request.if_none_match:
        response = Response(status=304)
    else:
        url = page_url(key)
        data = container.drawn_artefacts.get(
            tag,
            lambda: (
                certificate_pdf(view.facts, view.verdict, url, now)
                if name == "certificate.pdf"
                else badge_png(view.facts, view.verdict, url)
            ),
        )
        response = Response(data, mimetype=media_type)
        response.headers.set("Content-Disposition", "inline", filename=f"{key}-{name}")
    response.set_etag(tag)
    response.headers["Cache-Control"] = "no-cache"  # revalidate: the status drawn on it can change
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- assets --------------------------------------------------------------------------------------------------------


@blueprint.get(f"{ASSET_PATH}/<name>")
@blueprint.doc(hide=True)
def asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HttpNotFound()
    data = _asset_bytes(name)
    response = Response(data, mimetype=media_type)
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.make_conditional(request)
    return response


@cache
def _asset_bytes(name: str) -> bytes:
    return resources.files("ec_issuer.api").joinpath("static", "verification", name).read_bytes()


# --- POST /credentials/verify without an account -------------------------------------------------------------------


def is_anonymous_media_type() -> bool:
    return request.mimetype in (VC_JWT_MEDIA_TYPE, MULTIPART_MEDIA_TYPE)


def prepare_json_verify_body() -> None:
    """The JSON body of /credentials/verify may carry a small file in base64: allow for it."""
    settings = services().settings
    accept_files_up_to(inline_body_limit(settings.max_request_bytes, settings.verify_file_max_bytes))


def is_anonymous_shape(body: Any) -> bool:
    """`{credentialId}` or `{jws}` (with an optional `file`): the shapes anyone may send. Anything else, including
    a body with `verifiableCredential`, is the VC API's and needs a bearer token."""
    if not isinstance(body, dict):
        return False
    members = cast(dict[str, Any], body)
    return "verifiableCredential" not in members and ("credentialId" in members or "jws" in members)


def verify_anonymously(body: dict[str, Any] | None) -> Response:
    """Verify a stored credential by id, or a compact JWS, optionally against the original file."""
    spend_public_allowance()
    client = _optional_client()
    if body is not None:
        credential_id, token, file = _json_shape(body)
    elif request.mimetype == VC_JWT_MEDIA_TYPE:
        accept_files_up_to(services().settings.max_request_bytes)
        raw = request.get_data(cache=False)
        credential_id, token, file = None, raw.decode("ascii", errors="replace").strip(), None
        if not token:
            raise InvalidInput("the request body is empty", [FieldError("", "send the compact JWS")])
    else:
        credential_id, token, file = _form_shape()
    return json_response(_verification_answer(credential_id, token, file, client))


def _json_shape(body: dict[str, Any]) -> tuple[str | None, str | None, HashedFile | None]:
    unknown = [name for name in body if name not in _ANONYMOUS_VERIFY_MEMBERS]
    if unknown:
        raise InvalidInput(
            f"unexpected member '{unknown[0]}'",
            [
                FieldError(f"/{name}", "not read here: send credentialId or jws, and optionally file")
                for name in unknown
            ],
        )
    _exactly_one(body.get("credentialId"), body.get("jws"), "/credentialId", "/jws")
    credential_id = _string(body.get("credentialId"), "/credentialId")
    token = _string(body.get("jws"), "/jws")
    file = hash_base64(body["file"], "/file") if "file" in body else None
    return credential_id, token, file


def _form_shape() -> tuple[str | None, str | None, HashedFile | None]:
    settings = services().settings
    accept_files_up_to(settings.verify_file_max_bytes)
    form = read_form("file", ("credentialId", "credential", "jws"), settings.max_request_bytes)
    token_parts = [name for name in ("credential", "jws") if name in form.fields]
    if len(token_parts) > 1:
        raise InvalidInput("send the JWS once", [FieldError("jws", "one of the parts credential or jws")])
    token = form.fields.get(token_parts[0]) if token_parts else None
    credential_id = form.fields.get("credentialId")
    _exactly_one(credential_id, token, "credentialId", token_parts[0] if token_parts else "credential")
    return credential_id or None, token or None, form.file


def _exactly_one(credential_id: object, token: object, id_pointer: str, token_pointer: str) -> None:
    if (credential_id is None) == (token is None):
        raise InvalidInput(
            "give exactly one of credentialId or jws",
            [
                FieldError(id_pointer, "the id of a credential issued here"),
                FieldError(token_pointer, "or a compact JWS"),
            ],
        )


def _string(value: Any, pointer: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{pointer[1:] or pointer} must be a non-empty string", [FieldError(pointer, "a string")])
    return value.strip()


def _verification_answer(
    credential_id: str | None, token: str | None, file: HashedFile | None, client: ApiClient | None
) -> dict[str, Any]:
    public = _public()
    if credential_id is not None:
        if page_key(credential_id) is None:
            raise InvalidInput(
                "credentialId is not the id of a credential this service issues",
                [FieldError("/credentialId", "urn:uuid:<uuid>, urn:credential:<uuid> or the UUID alone")],
            )
        view = public.view(credential_id)
        if view is None:
            raise NotFound(f"no credential '{credential_id}' was issued here")
        if client is not None and not client.may_use_issuer(view.record.issuer_slug):
            raise Forbidden("this client may not read the records of this credential's issuer")
        verdict = view.verdict
        verification = with_content_check(view.verification, view.document, file)
        shown = client is not None or view.is_validation
    else:
        base = services().verifier.verify(token or "")
        verdict = verdict_of(base)
        verification = with_content_check(base, base.credential, file)
        shown = True  # the caller sent the credential
    return {
        **public_verification_out(verification, shown),
        "verdict": verdict.value,
        "verdictLabel": verdict.label,
    }


# --- shared pieces -------------------------------------------------------------------------------------------------


def public_verification_out(verification: Verification, shown: bool) -> dict[str, Any]:
    """`verification_out`, less what could identify a person when the credential is about one and the caller has
    not shown a right to see it: the credential itself, and check details that may quote it."""
    body = verification_out(verification)
    if shown:
        return body
    for check in body["checks"]:
        if check["check"] in _CONTENT_QUOTING_CHECKS:
            check["detail"] = ""
    body["errors"] = [e for e in body["errors"] if e.split(":", 1)[0] not in _CONTENT_QUOTING_CHECKS]
    body["credential"] = None
    return body


def facts_out(facts: PublicFacts) -> dict[str, Any]:
    validation = facts.validation
    return {
        "kind": facts.kind,
        "type": list(facts.types),
        "issuer": {"id": facts.issuer_id, "name": facts.issuer_name},
        "validFrom": format_datetime(facts.valid_from) if facts.valid_from else None,
        "validUntil": format_datetime(facts.valid_until) if facts.valid_until else None,
        "validation": None
        if validation is None
        else {
            "workflowId": validation.workflow_id,
            "workflowSlug": validation.workflow_slug,
            "workflowVersion": validation.workflow_version,
            "runId": validation.run_id,
            "result": validation.result,
            "completedAt": format_datetime(validation.completed_at) if validation.completed_at else None,
            "validators": [
                {"code": v.code, "version": v.version, "validationType": v.validation_type}
                for v in validation.validators
            ],
            "contentHash": validation.content_hash.urn if validation.content_hash else None,
            "mediaType": validation.media_type,
            "filename": validation.filename,
            "size": validation.size,
        },
    }


def _optional_client() -> ApiClient | None:
    """The caller's API client when it sends a bearer token (a wrong one is a 401, not an anonymous visit)."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <token>, or no Authorization header")
    return services().access.authenticate(token.strip())


def require_client() -> ApiClient:
    client = _optional_client()
    if client is None:
        raise Unauthenticated("a bearer token is required")
    return client


def _attestation_links(credential_id: str) -> dict[str, Any] | None:
    records = getattr(services(), "attestations", None)
    if records is None or not callable(getattr(records, "record_for", None)):
        return None
    record = cast(AttestationRecords, records).record_for(credential_id)
    return _plain(record) if record is not None else None


def _plain(record: object) -> dict[str, Any] | None:
    dump = getattr(record, "model_dump", None)  # a pydantic model
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        items = dataclasses.asdict(record)
    elif callable(dump):
        items = cast(dict[str, Any], dump())
    elif isinstance(record, dict):
        items = cast(dict[str, Any], record)
    else:
        return None
    return {_camel(str(key)): _json_value(value) for key, value in items.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return loads(value) if value[:1] in (b"{", b"[") else value.hex()
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _prefers_json() -> bool:
    accepted = request.accept_mimetypes
    best = accepted.best_match(["text/html", JSON_MEDIA_TYPE], default="text/html")
    return best == JSON_MEDIA_TYPE and accepted[JSON_MEDIA_TYPE] > accepted["text/html"]


def _with_headers(response: Response) -> Response:
    for name, value in _PAGE_HEADERS.items():
        response.headers[name] = value
    return response


def _size_text(size: int) -> str:
    mebibytes = size / (1024 * 1024)
    return f"{mebibytes:g} MB" if mebibytes >= 1 else f"{size // 1024} KB"
