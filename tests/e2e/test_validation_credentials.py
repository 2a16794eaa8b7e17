"""Validation attestations over HTTP, on SQLite and PostgreSQL: POST /api/v1/validation-credentials, the
organizations' privacy opt-in, the published JSON-LD context and JSON Schema, and independent verification
of what was issued (the reference `jsonschema` library, PyJWT and jwcrypto with the published JWKS only)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from jwcrypto import jwk, jws
from sqlalchemy import func, select

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container
from ec_issuer.issuers.model import Issuer
from ec_issuer.resources import load_json
from ec_issuer.storage.tables import issued_credentials, validation_attestations
from tests.attestation_support import validation_body, with_member
from tests.conftest import json_of
from tests.e2e.status_documents import status_list_documents
from tests.e2e.test_di_independent_verifier import node_verify_di
from tests.support import serve_in_thread

ISSUE_PATH = "/api/v1/validation-credentials"
SCHEMA_URL = "https://issuer.test/schemas/validation-credential/v1.json"


def issue(http: FlaskClient, auth: dict[str, str], body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = http.post(ISSUE_PATH, json=body, headers=auth)
    assert response.status_code == status, json_of(response)
    return json_of(response)


def stored_counts(container: Container) -> tuple[int, int]:
    with container.engine.connect() as connection:
        credentials = connection.execute(select(func.count()).select_from(issued_credentials)).scalar_one()
        links = connection.execute(select(func.count()).select_from(validation_attestations)).scalar_one()
    return credentials, links


def problem(response: Any) -> tuple[int, list[str]]:
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)[:300]
    return response.status_code, [error["pointer"] for error in json_of(response).get("errors", [])]


# -------------------------------------------------------------------------------------------- issuing


def test_issue_retry_read_and_verify(
    http: FlaskClient, issuer: Issuer, auth: dict[str, str], container: Container
) -> None:
    first = http.post(ISSUE_PATH, json=validation_body(), headers=auth)
    assert first.status_code == 201, json_of(first)
    body = json_of(first)
    credential_id = body["credentialId"]
    assert body["outcome"] == "issued" and body["replayed"] is False
    assert body["credential"]["id"] == credential_id
    assert body["credential"]["credentialSubject"]["validation"]["runId"] == "run-7f3a"
    assert body["verificationUrl"] == f"https://issuer.test/credentials/{credential_id.removeprefix('urn:uuid:')}/"
    assert first.headers["Location"] == f"/api/v1/credentials/{credential_id}"

    again = http.post(ISSUE_PATH, json=validation_body(), headers=auth)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert json_of(again) == {**body, "replayed": True}
    assert stored_counts(container) == (1, 1)

    stored = json_of(http.get(f"/api/v1/credentials/{credential_id}", headers=auth))
    assert (stored["family"], stored["format"], stored["jws"]) == ("validation-attestation", "vc+jwt", body["jws"])

    verified = json_of(http.post("/api/v1/credentials/verify", json={"jws": body["jws"]}, headers=auth))
    assert verified["verified"] is True, verified["errors"]
    schema_check = next(check for check in verified["checks"] if check["check"] == "schema")
    assert schema_check == {
        "check": "schema",
        "result": "passed",
        "detail": "valid against the ValidationCredential schema",
    }

    record = container.attestations.record_for(credential_id)
    assert record is not None and (record.organization_id, record.step_run_id) == ("org-41", "step-1")


def test_a_changed_retry_conflicts(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    issue(http, auth, validation_body())
    changed = with_member(validation_body(), "run/validators", validation_body()["run"]["validators"][:1])
    assert problem(http.post(ISSUE_PATH, json=changed, headers=auth)) == (409, ["/stepRun/id"])


@pytest.mark.parametrize(
    ("status", "issue_on_warnings", "issued"),
    [
        ("PASSED_WITH_WARNINGS", True, True),
        ("PASSED_WITH_WARNINGS", False, False),
        ("FAILED", True, False),
        ("ERROR", False, False),
        ("CANCELED", False, False),
    ],
)
def test_only_passed_runs_are_issued(
    http: FlaskClient,
    issuer: Issuer,
    auth: dict[str, str],
    container: Container,
    status: str,
    issue_on_warnings: bool,
    issued: bool,
) -> None:
    body = with_member(validation_body(), "run/status", status)
    body = with_member(body, "action/issueOnWarnings", issue_on_warnings)
    answer = issue(http, auth, body, 201 if issued else 200)
    if issued:
        assert answer["credential"]["credentialSubject"]["validation"]["status"] == status
        assert stored_counts(container) == (1, 1)
    else:
        assert answer["outcome"] == "skipped" and answer["reason"]
        assert set(answer) == {"outcome", "reason"}
        assert stored_counts(container) == (0, 0)


def test_a_revoked_validation_credential_reads_as_revoked(
    http: FlaskClient, issuer: Issuer, auth: dict[str, str]
) -> None:
    body = issue(http, auth, validation_body())
    revoked = http.post(
        f"/api/v1/credentials/{body['credentialId']}/revoke", json={"reasonCode": "fraud"}, headers=auth
    )
    assert revoked.status_code == 200, json_of(revoked)
    assert json_of(http.get(f"/api/v1/credentials/{body['credentialId']}", headers=auth))["status"] == "revoked"
    verified = json_of(http.post("/api/v1/credentials/verify", json={"jws": body["jws"]}, headers=auth))
    assert (verified["verified"], verified["status"]) == (False, "revoked")
    assert issue(http, auth, validation_body(), 200)["status"] == "revoked"  # a retry says so too


def test_data_integrity_is_available(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    body = issue(http, auth, with_member(validation_body(), "format", "data-integrity"))
    assert body["jws"] is None and body["format"] == "data-integrity"
    assert [proof["cryptosuite"] for proof in body["credential"]["proof"]] == ["eddsa-rdfc-2022"]
    verified = json_of(http.post("/api/v1/credentials/verify", json={"credential": body["credential"]}, headers=auth))
    assert verified["verified"] is True, verified["errors"]


@pytest.mark.node
def test_the_digital_bazaar_stack_verifies_the_data_integrity_form(
    http: FlaskClient, issuer: Issuer, auth: dict[str, str]
) -> None:
    """JSON-LD processed by another implementation, with our context from the vendored directory."""
    credential = issue(http, auth, with_member(validation_body(), "format", "data-integrity"))["credential"]
    documents = {issuer.did: json_of(http.get("/issuers/acme/did.json")), **status_list_documents(http, credential)}
    tampered = with_member(credential, "credentialSubject/resource/hash", f"urn:sha256:{'0' * 64}")
    genuine, forged = node_verify_di([credential, tampered], documents=documents)
    assert genuine == {"ok": True, "errors": []}, genuine
    assert forged["ok"] is False


def test_the_jws_verifies_with_other_jose_libraries_from_the_published_jwks(
    http: FlaskClient, issuer: Issuer, auth: dict[str, str]
) -> None:
    body = issue(http, auth, validation_body())
    published = http.get("/issuers/acme/jwks.json")  # public: no token
    assert published.status_code == 200
    kid = jwt.get_unverified_header(body["jws"])["kid"]

    key_set = jwt.PyJWKSet.from_dict(json_of(published))
    [signing_key] = [key for key in key_set.keys if key.key_id == kid]
    claims = jwt.decode(body["jws"], signing_key.key, algorithms=["ES256"], options={"verify_aud": False})
    assert claims["credentialSubject"] == body["credential"]["credentialSubject"]

    token = jws.JWS()
    token.deserialize(body["jws"])
    token.verify(jwk.JWKSet.from_json(published.get_data(as_text=True)).get_key(kid), alg="ES256")
    assert json.loads(token.payload) == body["credential"]


# ------------------------------------------------------------------------------- the published documents


def test_the_schema_is_published_and_every_credential_satisfies_it(
    http: FlaskClient, issuer: Issuer, auth: dict[str, str]
) -> None:
    response = http.get("/schemas/validation-credential/v1.json")
    assert (response.status_code, response.mimetype) == (200, "application/schema+json")
    schema = json_of(response)
    assert schema["$id"] == SCHEMA_URL
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    for number, securing in enumerate(("vc+jwt", "data-integrity", "both")):
        body = with_member(validation_body(step_run=f"step-{number}"), "format", securing)
        body = with_member(body, "validUntil", "2099-01-01T00:00:00Z")
        credential = issue(http, auth, body)["credential"]
        assert credential["credentialSchema"] == {"id": SCHEMA_URL, "type": "JsonSchema"}
        assert [error.message for error in validator.iter_errors(credential)] == []


def test_the_context_is_published_as_json_ld(http: FlaskClient) -> None:
    response = http.get("/contexts/validation/v1")
    assert (response.status_code, response.mimetype) == (200, "application/ld+json")
    assert json_of(response) == load_json("contexts/ec-issuer-validation-v1.jsonld")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# ------------------------------------------------------------------------------------------------ privacy


def test_personal_data_needs_the_organizations_opt_in(
    http: FlaskClient, issuer: Issuer, auth: dict[str, str], container: Container
) -> None:
    with_filename = with_member(validation_body(), "submission/resource/filename", "model.idf")
    with_email = with_member(validation_body(step_run="step-2"), "submission/id", "owner@example.org")
    for body, pointer in ((with_filename, "/submission/resource/filename"), (with_email, "/submission/id")):
        assert problem(http.post(ISSUE_PATH, json=body, headers=auth)) == (422, [pointer])
    assert stored_counts(container) == (0, 0)

    assert json_of(http.get("/api/v1/validation-organizations/org-41", headers=auth)) == {
        "id": "org-41",
        "allowPersonalData": False,
        "allowFilenames": False,
        "updatedAt": None,
    }
    opt_in = http.put("/api/v1/validation-organizations/org-41", json={"allowFilenames": True}, headers=auth)
    assert opt_in.status_code == 200 and json_of(opt_in)["allowFilenames"] is True
    assert issue(http, auth, with_filename)["credential"]["credentialSubject"]["resource"]["filename"] == "model.idf"
    assert problem(http.post(ISSUE_PATH, json=with_email, headers=auth)) == (422, ["/submission/id"])


def test_only_admins_set_the_opt_in(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    created = http.post("/api/v1/clients", json={"name": "platform", "issuers": ["acme"]}, headers=auth)
    platform = {"Authorization": f"Bearer {json_of(created)['token']}"}
    refused = http.put("/api/v1/validation-organizations/org-41", json={"allowPersonalData": True}, headers=platform)
    assert refused.status_code == 403
    assert issue(http, platform, validation_body())["outcome"] == "issued"  # issuing needs no admin


# -------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        ("run/status", "DONE", "/run/status"),
        ("submission/resource/sha256", "not-hex-" * 8, "/submission/resource/sha256"),
        ("submission/resource/sha256", "ab" * 33, "/submission/resource/sha256"),
        ("run/workflow", None, "/run/workflow"),
        ("submission/resource", None, "/submission/resource"),
        ("organization", None, "/organization"),
        ("run/completedAt", None, "/run/completedAt"),
        ("issuer", "nope", "/issuer"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    http: FlaskClient, issuer: Issuer, auth: dict[str, str], path: str, value: Any, pointer: str
) -> None:
    status, pointers = problem(http.post(ISSUE_PATH, json=with_member(validation_body(), path, value), headers=auth))
    assert status == 422 and pointer in pointers


def test_duplicate_validators_are_refused(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    validators = validation_body()["run"]["validators"]
    body = with_member(validation_body(), "run/validators", [*validators, validators[1]])
    assert problem(http.post(ISSUE_PATH, json=body, headers=auth)) == (422, ["/run/validators"])


def test_a_ten_megabyte_body_is_refused_unread(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    body = with_member(validation_body(), "run/results", {"log": "x" * (10 * 1024 * 1024)})
    assert problem(http.post(ISSUE_PATH, json=body, headers=auth))[0] == 413


def test_no_token_no_credential(http: FlaskClient, issuer: Issuer) -> None:
    assert http.post(ISSUE_PATH, json=validation_body()).status_code == 401


# ------------------------------------------------------------------------------------------- concurrency


def test_concurrent_retries_resolve_to_one_credential(container: Container, issuer: Issuer, admin_token: str) -> None:
    """Simultaneous requests for one run and step run, each on its own connection and server thread."""
    with serve_in_thread(create_app(container)) as server:
        answers = _post_at_once(server.url, admin_token, validation_body(), 8)
    assert sorted(status for status, _ in answers) == [200] * 7 + [201], answers
    assert len({body["credentialId"] for _, body in answers}) == 1
    assert len({body["jws"] for _, body in answers}) == 1
    assert stored_counts(container) == (1, 1)


def _post_at_once(url: str, token: str, body: dict[str, Any], requests: int) -> list[tuple[int, dict[str, Any]]]:
    address = urlsplit(url)
    start = threading.Barrier(requests)
    payload = json.dumps(body).encode()

    def post(_: int) -> tuple[int, dict[str, Any]]:
        connection = HTTPConnection(address.hostname or "", address.port, timeout=30)
        start.wait(timeout=30)
        try:
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            connection.request("POST", ISSUE_PATH, payload, headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    with ThreadPoolExecutor(requests) as pool:
        return list(pool.map(post, range(requests)))
