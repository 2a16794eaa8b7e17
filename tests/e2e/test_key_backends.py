"""The same issuing story on every key backend, verified independently from what the service publishes.

Each backend is real where it can run here: the local keystore, SoftHSM2 over PKCS#11, an OpenBao server
for Vault transit. AWS KMS cannot run here: moto stands in (see tests/backends/kms.py for its gaps), and
because moto rejects Ed25519 key specs, KMS is exercised with ES256 only.

For each backend: issue with key A, rotate to key B, issue with B; both credentials verify with PyJWT from
the JWK Set served over HTTP and with `cryptography` from the did:web document; retiring A keeps its
credential verifiable; revoking A unpublishes it and our verifier reports the revocation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.keys.jwk import public_key_from_jwk
from ec_issuer.signing.jose import parse_compact, verify_signature
from tests.conftest import json_of
from tests.support import LiveServer, award_body, make_settings, serve_in_thread

KEYS = "/api/v1/issuers/acme/keys"
CASES = [
    pytest.param(("local", "ES256"), id="local-ES256"),
    pytest.param(("local", "EdDSA"), id="local-EdDSA"),
    pytest.param(("pkcs11", "ES256"), id="pkcs11-ES256"),
    pytest.param(("pkcs11", "EdDSA"), id="pkcs11-EdDSA"),
    pytest.param(("vault", "ES256"), id="vault-ES256"),
    pytest.param(("vault", "EdDSA"), id="vault-EdDSA"),
    pytest.param(("kms", "ES256"), id="kms-ES256"),
]


@dataclass
class Deployment:
    container: Container
    http: FlaskClient
    server: LiveServer
    auth: dict[str, str]
    backend: str
    algorithm: str

    def add_key(self, path: str = KEYS) -> dict[str, Any]:
        response = self.http.post(path, json={"algorithm": self.algorithm, "backend": self.backend}, headers=self.auth)
        assert response.status_code == 201, response.get_data(as_text=True)
        return json_of(response)

    def issue(self) -> dict[str, Any]:
        response = self.http.post("/api/v1/credentials", json=award_body(algorithm=self.algorithm), headers=self.auth)
        assert response.status_code == 201, response.get_data(as_text=True)
        return json_of(response)

    def verify(self, jws: str) -> dict[str, Any]:
        response = self.http.post("/api/v1/credentials/verify", json={"jws": jws}, headers=self.auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        return json_of(response)

    def jwks_url(self) -> str:
        return self.server.url + "/issuers/acme/jwks.json"

    def did_document(self) -> dict[str, Any]:
        response = self.http.get("/issuers/acme/did.json")
        assert response.status_code == 200
        return json_of(response)


def _backend_settings(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if backend == "pkcs11":
        return {"pkcs11": request.getfixturevalue("pkcs11_settings")}
    if backend == "vault":
        return {"vault": request.getfixturevalue("openbao")}
    if backend == "kms":
        return {"kms": request.getfixturevalue("moto_kms").settings}
    return {}


@pytest.fixture(params=CASES)
def deployment(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Deployment]:
    backend, algorithm = request.param
    container = build(make_settings(database_url, tmp_path, **_backend_settings(backend, request)))
    container.issuers.create(CreateIssuer(slug="acme", name="ACME University", url="https://acme.example"))
    token = "backend-test-admin-token-0123456789"
    container.access.ensure_bootstrap_client(token)
    app = create_app(container)
    try:
        with serve_in_thread(app) as server:
            yield Deployment(
                container, app.test_client(), server, {"Authorization": f"Bearer {token}"}, backend, algorithm
            )
    finally:
        container.engine.dispose()


def verified_by_pyjwt(deployment: Deployment, jws: str) -> dict[str, Any]:
    """PyJWT, given only the JWK Set URL: finds the key by kid and checks the signature."""
    signing_key = jwt.PyJWKClient(deployment.jwks_url(), cache_jwk_set=False).get_signing_key_from_jwt(jws)
    return jwt.decode(jws, signing_key.key, algorithms=["ES256", "EdDSA"], options={"verify_aud": False})


def verified_by_did_document(deployment: Deployment, jws: str) -> bool:
    """The did:web document alone: the verification method named by the header's kid, in assertionMethod."""
    token = parse_compact(jws)
    kid = token.header["kid"]
    document = deployment.did_document()
    if kid not in document["assertionMethod"]:
        return False
    [method] = [m for m in document["verificationMethod"] if m["id"] == kid]
    public_key_from_jwk(method["publicKeyJwk"])  # loads with cryptography, or raises
    return verify_signature(token, method["publicKeyJwk"])


def key_check(report: dict[str, Any]) -> dict[str, Any]:
    return next(check for check in report["checks"] if check["check"] == "key")


def test_issue_rotate_retire_revoke(deployment: Deployment) -> None:
    key_a = deployment.add_key()
    assert (key_a["state"], key_a["backend"], key_a["algorithm"]) == (
        "active",
        deployment.backend,
        deployment.algorithm,
    )
    first = deployment.issue()
    assert parse_compact(first["jws"]).header["kid"] == key_a["kid"]

    rotated = deployment.http.post(
        f"{KEYS}/rotate",
        json={"algorithm": deployment.algorithm, "backend": deployment.backend},
        headers=deployment.auth,
    )
    assert rotated.status_code == 201, rotated.get_data(as_text=True)
    key_b = json_of(rotated)
    second = deployment.issue()
    assert parse_compact(second["jws"]).header["kid"] == key_b["kid"] != key_a["kid"]

    for issued in (first, second):
        assert verified_by_pyjwt(deployment, issued["jws"]) == issued["credential"]
        assert verified_by_did_document(deployment, issued["jws"])
        assert deployment.verify(issued["jws"])["verified"] is True

    retired = deployment.http.post(f"{KEYS}/{key_a['fragment']}/retire", headers=deployment.auth)
    assert json_of(retired)["state"] == "retired"
    assert verified_by_pyjwt(deployment, first["jws"]) == first["credential"]
    assert deployment.verify(first["jws"])["verified"] is True

    revoked = deployment.http.post(
        f"{KEYS}/{key_a['fragment']}/revoke",
        json={"reason": "test: key considered compromised"},
        headers=deployment.auth,
    )
    assert json_of(revoked)["state"] == "revoked"
    published = json_of(deployment.http.get("/issuers/acme/jwks.json"))
    assert [k["kid"] for k in published["keys"]] == [key_b["kid"]]
    with pytest.raises(jwt.PyJWKClientError):
        verified_by_pyjwt(deployment, first["jws"])
    assert not verified_by_did_document(deployment, first["jws"])
    report = deployment.verify(first["jws"])
    assert report["verified"] is False
    assert "revoked" in key_check(report)["detail"]
    # The credential signed by B is untouched by A's revocation.
    assert deployment.verify(second["jws"])["verified"] is True
