"""Validation attestations: the issuing API for validation platforms, each organization's privacy opt-in (admin),
and the public JSON-LD context and JSON Schema that ValidationCredentials name."""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.api.http import documented_body, json_response, read_json_body
from ec_issuer.api.openapi import ANSWERS_WITHOUT_DATABASE, answers, media_response
from ec_issuer.api.presenters import attestation_out, organization_privacy_out
from ec_issuer.api.schemas import OrganizationPrivacyOut, ValidationCredentialOut
from ec_issuer.attestations.commands import IssueValidationCredential, PutOrganizationPrivacy
from ec_issuer.attestations.document import CONTEXT_PATH, SCHEMA_PATH, published_context, published_schema
from ec_issuer.core.encoding import dumps
from ec_issuer.core.validation import parse_command

admin = APIBlueprint("attestations", __name__, url_prefix="/api/v1", tag="Validation attestations")
public = APIBlueprint("attestation_documents", __name__, tag="Public documents")

_PUBLIC = {"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"}
_ERRORS = {
    400: "Malformed",
    401: "Unauthenticated",
    403: "Forbidden",
    409: "The run and step run were attested for another request or client",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input, or a value the organization has not allowed to be published",
}


@admin.post("/validation-credentials")
@admin.auth_required(bearer_auth)
@documented_body(IssueValidationCredential)
@admin.output(ValidationCredentialOut, status_code=201)
@admin.doc(
    summary="Issue a ValidationCredential for a validation run, once per run and step run",
    description=(
        "Issued when the run PASSED, or PASSED_WITH_WARNINGS and the action says `issueOnWarnings`; otherwise "
        "200 with `outcome: skipped` and nothing signed or stored. A retry for the same `run.id` and "
        "`stepRun.id` answers 200 with the same credential (`replayed: true`); with another body, 409. "
        "Values that look like personal data, and file names, are refused (422) unless the organization opted "
        "in (PUT /api/v1/validation-organizations/{id}). See docs/validation-credentials.md."
    ),
    responses=answers(
        {
            200: media_response(
                "Skipped, or an earlier request answered again",
                {"application/json": {"$ref": "#/components/schemas/ValidationCredentialOut"}},
            ),
            **_ERRORS,
        }
    ),
)
def issue_validation_credential() -> Response:
    container = services()
    command = parse_command(IssueValidationCredential, read_json_body())
    outcome = container.attestations.issue(caller(), command)
    credential = outcome.credential
    if credential is None:
        return json_response(attestation_out(outcome, None, container.clock.now()))
    url = container.attestations.urls.verification_page(credential.id)
    body = attestation_out(outcome, url, container.clock.now())
    headers = {"Location": f"/api/v1/credentials/{credential.id}"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(body, 200 if outcome.replayed else 201, headers)


@admin.get("/validation-organizations/<organization_id>")
@admin.auth_required(bearer_auth)
@admin.output(OrganizationPrivacyOut)
@admin.doc(
    summary="What an organization allows its ValidationCredentials to publish (admin clients only)",
    responses=answers({403: "Not an admin client", 422: "Not an organization id"}),
)
def get_organization_privacy(organization_id: str) -> Response:
    privacy = services().attestations.privacy(caller(), organization_id)
    return json_response(organization_privacy_out(privacy))


@admin.put("/validation-organizations/<organization_id>")
@admin.auth_required(bearer_auth)
@documented_body(PutOrganizationPrivacy)
@admin.output(OrganizationPrivacyOut)
@admin.doc(
    summary="Set an organization's privacy opt-in (admin clients only)",
    description="`allowPersonalData`: values that look like e-mail addresses or personal names; "
    "`allowFilenames`: the submitted file's name. Both default to false; credentials issued before keep what they say.",
    responses=answers({403: "Not an admin client", 422: "Invalid input, or not an organization id"}),
)
def put_organization_privacy(organization_id: str) -> Response:
    command = parse_command(PutOrganizationPrivacy, read_json_body())
    privacy = services().attestations.set_privacy(caller(), organization_id, command)
    return json_response(organization_privacy_out(privacy))


@public.get(CONTEXT_PATH)
@public.doc(
    summary="The JSON-LD context of ValidationCredentials (https://w3id.org/ec-issuer/validation/v1)",
    responses=answers({200: media_response("The context document", {"application/ld+json": {"type": "object"}})}),
    extensions=ANSWERS_WITHOUT_DATABASE,
)
def validation_context() -> Response:
    return Response(dumps(published_context()), mimetype="application/ld+json", headers=_PUBLIC)


@public.get(SCHEMA_PATH)
@public.doc(
    summary="The JSON Schema (2020-12) every ValidationCredential satisfies",
    responses=answers({200: media_response("The schema", {"application/schema+json": {"type": "object"}})}),
    extensions=ANSWERS_WITHOUT_DATABASE,
)
def validation_credential_schema() -> Response:
    body = dumps(published_schema(services().attestations.urls))
    return Response(body, mimetype="application/schema+json", headers=_PUBLIC)
