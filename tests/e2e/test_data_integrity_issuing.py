"""Issuing with an embedded Data Integrity proof over the admin API, on SQLite and PostgreSQL.

Every credential issued here is also checked against both official OB 3.0 schemas by the autouse recorder
in tests/e2e/conftest.py, proof included.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from ec_issuer.bootstrap import Container
from ec_issuer.issuers.model import Issuer
from ec_issuer.signing.jose import parse_compact
from tests.conftest import json_of
from tests.e2e.status_documents import status_list_documents
from tests.e2e.test_di_independent_verifier import node_verify_di
from tests.support import award_body, caller_document

CREDENTIALS = "/api/v1/credentials"
SUITES = [
    pytest.param(None, "eddsa-rdfc-2022", id="default-EdDSA"),
    pytest.param("ES256", "ecdsa-rdfc-2019", id="ES256"),
]


def issue_di(http: FlaskClient, auth: dict[str, str], algorithm: str | None = None, **body: Any) -> dict[str, Any]:
    request = award_body(**{"format": "data-integrity", **body})
    if algorithm:
        request["algorithm"] = algorithm
    response = http.post(CREDENTIALS, json=request, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return json_of(response)


def verify(http: FlaskClient, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    response = http.post(f"{CREDENTIALS}/verify", json=body, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json_of(response)


@pytest.mark.parametrize(("algorithm", "cryptosuite"), SUITES)
def test_a_credential_with_an_embedded_proof(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, algorithm: str | None, cryptosuite: str
) -> None:
    issued = issue_di(http, auth, algorithm)
    credential = issued["credential"]

    assert (issued["format"], issued["jws"]) == ("data-integrity", None)
    [proof] = credential["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == cryptosuite
    assert proof["verificationMethod"] == issued["kid"]
    assert proof["verificationMethod"].startswith(issuer.did + "#")
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["proofValue"].startswith("z")

    assert verify(http, auth, credential=credential)["verified"] is True
    assert verify(http, auth, credentialId=issued["id"])["verified"] is True
    as_vc = http.get(f"{CREDENTIALS}/{issued['id']}", headers={**auth, "Accept": "application/vc"})
    assert (as_vc.status_code, as_vc.mimetype) == (200, "application/vc")
    assert json_of(as_vc) == credential
    as_jwt = http.get(f"{CREDENTIALS}/{issued['id']}", headers={**auth, "Accept": "application/vc+jwt"})
    assert as_jwt.status_code == 406


@pytest.mark.node
@pytest.mark.parametrize(("algorithm", "cryptosuite"), SUITES)
def test_the_digital_bazaar_stack_verifies_what_we_issue(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, algorithm: str | None, cryptosuite: str
) -> None:
    credential = issue_di(http, auth, algorithm)["credential"]
    did_document = json_of(http.get("/issuers/acme/did.json"))
    tampered = {**credential, "name": credential["name"] + " (edited)"}

    documents = {issuer.did: did_document, **status_list_documents(http, credential)}
    genuine, forged = node_verify_di([credential, tampered], documents=documents)

    assert genuine == {"ok": True, "errors": []}, genuine
    assert forged["ok"] is False


@pytest.mark.parametrize(
    "change",
    [
        lambda c: {**c, "name": "Another name"},
        lambda c: {**c, "proof": [{**c["proof"][0], "proofValue": "z" + "1" * 80}]},
        lambda c: {**c, "proof": [{**c["proof"][0], "verificationMethod": "did:web:elsewhere#k"}]},
    ],
    ids=["edited-document", "forged-signature", "foreign-key"],
)
def test_tampered_credentials_are_a_negative_answer(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, change: Any
) -> None:
    credential = issue_di(http, auth)["credential"]
    report = verify(http, auth, credential=change(credential))
    assert report["verified"] is False
    assert any(check["check"] == "proof" and check["result"] == "failed" for check in report["checks"]), report


def test_a_revoked_key_fails_verification(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, container: Container
) -> None:
    issued = issue_di(http, auth)
    fragment = issued["kid"].split("#", 1)[1]
    revoked = http.post(f"/api/v1/issuers/acme/keys/{fragment}/revoke", json={"reason": "test"}, headers=auth)
    assert revoked.status_code == 200

    report = verify(http, auth, credential=issued["credential"])
    assert report["verified"] is False
    assert container.keys.for_issuer("acme")


def test_a_caller_document_with_an_undefined_term_is_refused_before_signing(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, container: Container
) -> None:
    document = caller_document()
    document["credentialSubject"]["favouriteColour"] = "green"
    response = http.post(
        CREDENTIALS, json={"issuer": "acme", "credential": document, "format": "data-integrity"}, headers=auth
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    pointers = [e["pointer"] for e in json_of(response)["errors"]]
    assert "/credential/credentialSubject/favouriteColour" in pointers
    listed = http.get(CREDENTIALS, headers=auth)
    assert json_of(listed)["items"] == []

    # The same document secured as VC-JOSE is not processed as JSON-LD, so the term passes there.
    jose = http.post(CREDENTIALS, json={"issuer": "acme", "credential": document}, headers=auth)
    assert jose.status_code == 201


def test_an_issuer_can_default_to_data_integrity(http: FlaskClient, auth: dict[str, str], container: Container) -> None:
    created = http.post(
        "/api/v1/issuers",
        json={"slug": "linked", "name": "Linked Data U", "defaultFormat": "data-integrity"},
        headers=auth,
    )
    assert created.status_code == 201
    assert json_of(created)["defaultFormat"] == "data-integrity"
    assert http.post("/api/v1/issuers/linked/keys", json={"algorithm": "EdDSA"}, headers=auth).status_code == 201
    assert http.post("/api/v1/issuers/linked/keys", json={"algorithm": "ES256"}, headers=auth).status_code == 201

    by_default = http.post(CREDENTIALS, json=award_body("linked"), headers=auth)
    assert by_default.status_code == 201
    assert json_of(by_default)["format"] == "data-integrity"
    assert json_of(by_default)["credential"]["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    asked = http.post(CREDENTIALS, json=award_body("linked", format="vc+jwt"), headers=auth)
    assert (json_of(asked)["format"], json_of(asked)["jws"] is not None) == ("vc+jwt", True)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = [
    pytest.param(
        caller_document(**{"@context": [*caller_document()["@context"], "https://evil.example/context.json"]}),
        422,
        "/credential/@context",
        id="unknown-context",
    ),
    pytest.param(caller_document(favouriteColour="green"), 422, "/credential/favouriteColour", id="undefined-term"),
    pytest.param(
        caller_document(type=["VerifiableCredential", "OpenBadgeCredential", "LocalOnlyType"]),
        422,
        "/credential/type/2",
        id="relative-type-iri",
    ),
    pytest.param(caller_document(name="Data\x0bLiteracy"), 422, "/credential/name", id="control-character"),
    pytest.param(
        caller_document(evidence=[{"name": "n"} for _ in range(10_000)]),  # 10,000 blank nodes in 130 kB
        422,
        "/credential",
        id="10k-blank-nodes",
    ),
    pytest.param(caller_document(description=_nested(200)), 400, None, id="deeply-nested"),
]


@pytest.mark.parametrize(("document", "status", "pointer"), HOSTILE)
def test_hostile_documents_are_refused_quickly_and_store_nothing(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, document: dict[str, Any], status: int, pointer: str | None
) -> None:
    started = time.monotonic()
    response = http.post(
        CREDENTIALS, json={"issuer": "acme", "credential": document, "format": "data-integrity"}, headers=auth
    )
    elapsed = time.monotonic() - started

    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    if pointer is not None:
        assert pointer in [e["pointer"] for e in json_of(response)["errors"]], json_of(response)
    assert elapsed < 5, elapsed  # bounded work, generous for a loaded 2-core machine
    assert json_of(http.get(CREDENTIALS, headers=auth))["items"] == []


def test_both_artefacts_each_verify_on_their_own(http: FlaskClient, auth: dict[str, str], issuer: Issuer) -> None:
    issued = issue_di(http, auth, format="both")
    credential, jws = issued["credential"], issued["jws"]

    assert issued["format"] == "both"
    assert credential["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    token = parse_compact(jws)
    header, payload = token.header, token.payload_json()
    assert (header["alg"], header["kid"]) == ("EdDSA", issued["kid"])
    # The JWS envelopes the credential without the proof, with the JWT's Token Status List claim added.
    assert payload == {**{k: v for k, v in credential.items() if k != "proof"}, "status": payload["status"]}
    assert set(payload["status"]["status_list"]) == {"idx", "uri"}

    assert verify(http, auth, jws=jws)["verified"] is True
    assert verify(http, auth, credential=credential)["verified"] is True
    by_id = verify(http, auth, credentialId=issued["id"])
    assert by_id["verified"] is True
    assert {c["check"] for c in by_id["checks"]} >= {"signature", "proof"}  # both artefacts were checked
    for accept, expected in (("application/vc+jwt", jws), ("application/vc", None)):
        answer = http.get(f"{CREDENTIALS}/{issued['id']}", headers={**auth, "Accept": accept})
        assert answer.status_code == 200
        if expected is not None:
            assert answer.get_data(as_text=True) == expected
        else:
            assert json_of(answer) == credential


def test_an_issuer_can_default_to_both_artefacts(http: FlaskClient, auth: dict[str, str]) -> None:
    body = {"slug": "twofold", "name": "Twofold U", "defaultFormat": "both"}
    assert http.post("/api/v1/issuers", json=body, headers=auth).status_code == 201
    assert http.post("/api/v1/issuers/twofold/keys", json={"algorithm": "EdDSA"}, headers=auth).status_code == 201

    issued = json_of(http.post(CREDENTIALS, json=award_body("twofold"), headers=auth))
    assert issued["format"] == "both"
    assert issued["jws"] is not None
    assert issued["credential"]["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
