"""A validation credential signed by a key in AWS KMS, verified by the public verify API and by PyJWT from the
published JWK Set alone. KMS is moto's in-process double (tests/backends/kms.py): real AWS KMS cannot run here."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.keys.model import Algorithm
from tests.attestation_support import MODEL_BYTES, validation_body
from tests.backends.kms import MotoKms
from tests.support import make_settings, serve_in_thread

TOKEN = "kms-validation-admin-token-0123456789"


@pytest.fixture
def kms_container(database_url: str, tmp_path: Path, moto_kms: MotoKms) -> Iterator[Container]:
    container = build(make_settings(database_url, tmp_path, kms=moto_kms.settings, default_key_backend="kms"))
    issuer = container.issuers.create(CreateIssuer(slug="acme", name="ACME University", url="https://acme.example"))
    key = container.keys.generate(issuer, Algorithm.ES256, "kms")
    assert key.custody == "kms"
    container.access.ensure_bootstrap_client(TOKEN)
    yield container
    container.engine.dispose()


def test_a_kms_signed_validation_credential_verifies_publicly(kms_container: Container) -> None:
    app = create_app(kms_container)
    http = app.test_client()
    issued = http.post(
        "/api/v1/validation-credentials", json=validation_body(), headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert issued.status_code == 201, issued.get_json()
    jws: str = issued.get_json()["jws"]

    # The public verify API, without a token: signature (the KMS key, found through the issuer's keys),
    # status, expiry and the content hash of the original file.
    answer: dict[str, Any] = http.post(
        "/credentials/verify", json={"jws": jws, "file": base64.b64encode(MODEL_BYTES).decode("ascii")}
    ).get_json()
    assert answer["verified"] is True, answer["errors"]
    checks = {check["check"]: check["result"] for check in answer["checks"]}
    assert checks["signature"] == "passed"
    assert checks["contentHash"] == "passed"

    wrong_file = http.post(
        "/credentials/verify", json={"jws": jws, "file": base64.b64encode(b"another file").decode("ascii")}
    ).get_json()
    assert wrong_file["verified"] is False
    assert {c["check"]: c["result"] for c in wrong_file["checks"]}["contentHash"] == "failed"

    # An independent JOSE library, given only the published JWK Set over HTTP.
    with serve_in_thread(app) as server:
        client = jwt.PyJWKClient(server.url + "/issuers/acme/jwks.json", cache_jwk_set=False)
        claims = jwt.decode(jws, client.get_signing_key_from_jwt(jws).key, algorithms=["ES256"])
    assert claims["type"] == ["VerifiableCredential", "ValidationCredential"]
