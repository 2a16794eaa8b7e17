"""The ValidationCredential document (VC 2.0), before the issuer completes it with `id`, `validFrom` and
`credentialStatus` and secures it. The vocabulary is ours: the context `VALIDATION_CONTEXT` (vendored in
resources/contexts/, served at `CONTEXT_PATH`) and the JSON Schema at `SCHEMA_PATH`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ec_issuer.attestations.commands import IssueValidationCredential
from ec_issuer.core.encoding import format_datetime
from ec_issuer.core.vcdm import VC_V2_CONTEXT
from ec_issuer.credentials.families import VALIDATION_CREDENTIAL_TYPE
from ec_issuer.credentials.schema import VALIDATION_CREDENTIAL_SCHEMA
from ec_issuer.issuers.model import Issuer
from ec_issuer.jsonld.contexts import context_document
from ec_issuer.public_verification.content_hash import ContentHash
from ec_issuer.resources import load_json

VALIDATION_CONTEXT = "https://w3id.org/ec-issuer/validation/v1"
CONTEXT_PATH = "/contexts/validation/v1"
SCHEMA_PATH = "/schemas/validation-credential/v1.json"
SUBJECT_TYPE = "ValidatedSubmission"
SUBMISSION_URN_PREFIX = "urn:ec-issuer:submission:"


@dataclass(frozen=True, slots=True)
class ValidationUrls:
    """Where this deployment publishes what a ValidationCredential refers to."""

    base_url: str  # ISSUER_BASE_URL, without a trailing slash

    @property
    def schema(self) -> str:
        return self.base_url + SCHEMA_PATH

    def verification_page(self, credential_id: str) -> str:
        """The public page of a credential: /credentials/<uuid>/ for urn:uuid:<uuid>."""
        return f"{self.base_url}/credentials/{credential_id.removeprefix('urn:uuid:')}/"


def published_schema(urls: ValidationUrls) -> dict[str, Any]:
    """The vendored JSON Schema, identified by the URL this deployment serves it at (credentials name it there)."""
    return {"$id": urls.schema, **load_json(VALIDATION_CREDENTIAL_SCHEMA)}


def published_context() -> dict[str, Any]:
    return context_document(VALIDATION_CONTEXT)


def digest_multibase(sha256_hex: str) -> str:
    """The digest as VC 2.0 `digestMultibase` (public_verification/content_hash.py defines the format)."""
    return ContentHash(bytes.fromhex(sha256_hex)).digest_multibase


def validation_credential(command: IssueValidationCredential, issuer: Issuer, urls: ValidationUrls) -> dict[str, Any]:
    """The document for a run that passed; the command has been checked for completeness and privacy."""
    run, resource = command.run, command.submission.resource
    published_resource: dict[str, Any] = {
        "hash": f"urn:sha256:{resource.sha256}",
        "digestMultibase": digest_multibase(resource.sha256),
        "mediaType": resource.mediaType,
    }
    if resource.filename is not None:
        published_resource["filename"] = resource.filename
    if resource.size is not None:
        published_resource["size"] = resource.size
    document: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, VALIDATION_CONTEXT],
        "type": ["VerifiableCredential", VALIDATION_CREDENTIAL_TYPE],
        "issuer": {"id": issuer.did, "name": issuer.name},
    }
    if command.validUntil is not None:
        document["validUntil"] = format_datetime(command.validUntil)
    document["credentialSchema"] = {"id": urls.schema, "type": "JsonSchema"}
    document["credentialSubject"] = {
        "id": SUBMISSION_URN_PREFIX + command.submission.id,
        "type": SUBJECT_TYPE,
        "resource": published_resource,
        "validation": {
            "workflowId": run.workflow.id,
            "workflowSlug": run.workflow.slug,
            "workflowVersion": run.workflow.version,
            "runId": run.id,
            "status": run.status,
            "completedAt": format_datetime(run.completedAt) if run.completedAt else None,
            "validators": [validator.model_dump() for validator in run.validators],
        },
    }
    return document
