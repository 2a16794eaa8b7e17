"""Validation credentials for the verification page tests, issued through the generic caller-built-document path
(`POST /api/v1/credentials` with `credential`), so that the page is tested independently of the attestation API."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from flask.testing import FlaskClient

from ec_issuer.issuers.model import Issuer

VC_V2 = "https://www.w3.org/ns/credentials/v2"
VALIDATION_CONTEXT = "https://w3id.org/ec-issuer/validation/v1"
ORIGINAL_FILE = b"<?xml version='1.0'?>\n<building name='Unit 7'><zone id='z1' area='120.5'/></building>\n"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def validation_document(signer: Issuer, data: bytes = ORIGINAL_FILE, **changes: Any) -> dict[str, Any]:
    """An unsigned ValidationCredential about `data`, in the shape of issue 10; `changes` replace top-level
    members."""
    digest = hashlib.sha256(data).digest()
    document: dict[str, Any] = {
        "@context": [VC_V2, VALIDATION_CONTEXT],
        "type": ["VerifiableCredential", "ValidationCredential"],
        "issuer": {"id": signer.did, "name": signer.name},
        "credentialSchema": {
            "id": "https://issuer.test/schemas/validation-credential/v1.json",
            "type": "JsonSchema",
        },
        "credentialSubject": {
            "id": "urn:ec-issuer:submission:sub-4f7a2c",
            "type": "ValidatedSubmission",
            "resource": {
                "hash": f"urn:sha256:{digest.hex()}",
                "digestMultibase": "u" + base64.urlsafe_b64encode(b"\x12\x20" + digest).decode().rstrip("="),
                "mediaType": "application/xml",
                "size": len(data),
            },
            "validation": {
                "workflowId": "wf-0192",
                "workflowSlug": "energy-model-check",
                "workflowVersion": "2.1.0",
                "runId": "run-7d1e9b",
                "status": "PASSED",
                "completedAt": "2026-11-20T09:30:00Z",
                "validators": [
                    {"code": "EPW_SCHEMA", "version": "1.4", "validationType": "schema"},
                    {"code": "ENERGYPLUS", "version": "24.2", "validationType": "simulation"},
                ],
            },
        },
    }
    document.update(changes)
    return document


def issue_validation(http: FlaskClient, auth: dict[str, str], signer: Issuer, **changes: Any) -> dict[str, Any]:
    """Issue a validation credential as vc+jwt; the answer of POST /api/v1/credentials."""
    body = {"issuer": signer.slug, "credential": validation_document(signer, **changes), "format": "vc+jwt"}
    response = http.post("/api/v1/credentials", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def page_path(credential_id: str) -> str:
    return f"/credentials/{credential_id.removeprefix('urn:uuid:')}/"
