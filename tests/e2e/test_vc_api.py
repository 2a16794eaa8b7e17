"""The W3C VC API (VCALM) endpoints over HTTP, on SQLite and PostgreSQL: issuing with a Data Integrity proof,
verifying credentials and presentations, authentication and scopes, and the malformed-input table of
docs/vc-api.md (each case a 4xx RFC 9457 problem that stores nothing).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from ec_issuer.access.commands import CreateClient
from ec_issuer.bootstrap import Container
from ec_issuer.core.encoding import loads
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.did_key import did_key_for, verification_method_id
from ec_issuer.keys.model import Algorithm, SigningKey
from ec_issuer.signing.data_integrity.signer import create_proof
from ec_issuer.storage.tables import issued_credentials
from tests.conftest import json_of
from tests.e2e.status_documents import status_list_documents
from tests.e2e.test_di_independent_verifier import node_verify_di, tamper_proof_value, tamper_subject
from tests.support import SettableClock
from tests.unit.test_data_integrity_roundtrip import MemoryKeyCustody

ISSUE = "/credentials/issue"
VERIFY = "/credentials/verify"
VERIFY_VP = "/presentations/verify"
PROBLEM = "application/problem+json"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
VC_V1 = "https://www.w3.org/2018/credentials/v1"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
SUITES = ["eddsa-rdfc-2022", "ecdsa-rdfc-2019"]


def unsigned(owner: Issuer, /, **changes: Any) -> dict[str, Any]:
    credential: dict[str, Any] = {
        "@context": [VC_V2, EXAMPLES_V2],
        "type": ["VerifiableCredential", "ExampleDegreeCredential"],
        "issuer": owner.did,
        "credentialSubject": {"id": "did:example:learner-1", "name": "Ada Lovelace"},
    }
    credential.update(changes)
    return credential


def stored(container: Container) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(issued_credentials)).scalar_one())


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    problem: dict[str, Any] = loads(response.get_data())
    assert problem["status"] == status and problem["detail"]
    return problem


def issue(http: FlaskClient, auth: dict[str, str], credential: dict[str, Any], **options: Any) -> dict[str, Any]:
    response = http.post(ISSUE, json={"credential": credential, "options": options}, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    body: dict[str, Any] = loads(response.get_data())
    return body["verifiableCredential"]


def verify(http: FlaskClient, auth: dict[str, str], credential: dict[str, Any]) -> dict[str, Any]:
    response = http.post(VERIFY, json={"verifiableCredential": credential}, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return loads(response.get_data())


# ---------------------------------------------------------------------------------------------------------------
# Issuing


@pytest.mark.parametrize("suite", SUITES)
def test_issue_with_each_cryptosuite_and_verify(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, container: Container, suite: str
) -> None:
    vc = issue(http, auth, unsigned(issuer), cryptosuite=suite)
    [proof] = vc["proof"] if isinstance(vc["proof"], list) else [vc["proof"]]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == suite
    assert proof["proofPurpose"] == "assertionMethod" and proof["verificationMethod"].startswith(issuer.did + "#")
    assert vc["issuer"] == issuer.did and vc["id"].startswith("urn:uuid:") and "validFrom" in vc
    assert stored(container) == 1

    result = verify(http, auth, vc)
    assert result["verified"] is True, result
    assert result["problemDetails"] == []
    assert result["results"]["proof"][0]["cryptosuite"] == suite


def test_issue_accepts_an_issuer_object_and_vc_1_1(http: FlaskClient, auth: dict[str, str], issuer: Issuer) -> None:
    vc2 = issue(http, auth, unsigned(issuer, issuer={"id": issuer.did, "name": "ACME"}))
    assert vc2["issuer"]["id"] == issuer.did
    assert verify(http, auth, vc2)["verified"] is True

    v1 = unsigned(issuer, **{"@context": [VC_V1, "https://w3id.org/security/data-integrity/v1"]})
    v1["type"], v1["credentialSubject"] = ["VerifiableCredential"], {"id": "did:example:learner-1"}
    vc1 = issue(http, auth, v1, cryptosuite="ecdsa-rdfc-2019")
    assert "issuanceDate" in vc1 and "validFrom" not in vc1
    assert verify(http, auth, vc1)["verified"] is True


@pytest.mark.node
@pytest.mark.parametrize("suite", SUITES)
def test_issued_credentials_verify_with_the_independent_node_verifier(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, clock: SettableClock, suite: str
) -> None:
    vc = issue(http, auth, unsigned(issuer), cryptosuite=suite)
    did_document = loads(http.get("/issuers/acme/did.json").get_data())
    now = (clock.now() + timedelta(seconds=1)).isoformat()
    documents = {issuer.did: did_document, **status_list_documents(http, vc)}
    genuine, forged = node_verify_di([vc, tamper_subject(vc)], documents, now=now)
    assert genuine == {"ok": True, "errors": []}
    assert forged["ok"] is False


def test_an_issuer_this_service_does_not_hold_is_400(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, container: Container
) -> None:
    for named in ("did:web:elsewhere.example", "https://acme.example", {"id": "did:key:z6MkUnknown"}):
        problem = problem_of(http.post(ISSUE, json={"credential": unsigned(issuer, issuer=named)}, headers=auth), 400)
        assert problem["errors"][0]["pointer"].startswith("/credential/issuer")
    assert stored(container) == 0


def test_a_cryptosuite_without_an_active_key_is_422(
    http: FlaskClient, auth: dict[str, str], container: Container
) -> None:
    only_ed = container.issuers.create(CreateIssuer(slug="ed", name="Ed College", url="https://ed.example"))
    container.keys.generate(only_ed, Algorithm.EDDSA)
    body = {"credential": unsigned(only_ed), "options": {"cryptosuite": "ecdsa-rdfc-2019"}}
    problem = problem_of(http.post(ISSUE, json=body, headers=auth), 422)
    assert problem["errors"][0]["pointer"] == "/options/cryptosuite"
    assert stored(container) == 0


def test_a_client_scoped_to_another_issuer_gets_403(http: FlaskClient, container: Container, issuer: Issuer) -> None:
    other = container.issuers.create(CreateIssuer(slug="other", name="Other College", url="https://other.example"))
    token = container.access.create(CreateClient(name="other-only", issuers=[other.slug])).token
    headers = {"Authorization": f"Bearer {token}"}
    problem_of(http.post(ISSUE, json={"credential": unsigned(issuer)}, headers=headers), 403)
    # The same 403 for an issuer that does not exist: a scoped client learns nothing about other issuers.
    absent = unsigned(issuer, issuer="did:web:issuer.test:issuers:nobody")
    problem_of(http.post(ISSUE, json={"credential": absent}, headers=headers), 403)
    assert stored(container) == 0


@pytest.mark.parametrize("path", [ISSUE, VERIFY, VERIFY_VP])
def test_every_endpoint_needs_a_bearer_token(http: FlaskClient, issuer: Issuer, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer eci_never-issued"}):
        response = http.post(path, json={"credential": unsigned(issuer)}, headers=headers)
        problem_of(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


# ---------------------------------------------------------------------------------------------------------------
# Malformed input: 4xx problem+json, nothing stored


def _issue_cases(issuer: Issuer) -> list[tuple[str, Any, int]]:
    good = unsigned(issuer)

    def without(name: str) -> dict[str, Any]:
        return {key: value for key, value in good.items() if key != name}

    return [
        ("body-not-an-object", [good], 400),
        ("no-credential", {"options": {}}, 400),
        ("credential-not-an-object", {"credential": "a credential"}, 400),
        ("no-context", {"credential": without("@context")}, 400),
        ("context-not-an-array", {"credential": {**good, "@context": VC_V2}}, 400),
        ("context-wrong-base", {"credential": {**good, "@context": [EXAMPLES_V2]}}, 400),
        ("no-type", {"credential": without("type")}, 400),
        ("type-without-vc", {"credential": {**good, "type": ["ExampleDegreeCredential"]}}, 400),
        ("no-issuer", {"credential": without("issuer")}, 400),
        ("issuer-a-number", {"credential": {**good, "issuer": 7}}, 400),
        ("issuer-object-without-id", {"credential": {**good, "issuer": {"name": "ACME"}}}, 400),
        ("no-subject", {"credential": without("credentialSubject")}, 400),
        ("subject-a-string", {"credential": {**good, "credentialSubject": "did:example:x"}}, 400),
        ("valid-from-not-a-date", {"credential": {**good, "validFrom": "yesterday"}}, 400),
        ("schema-without-type", {"credential": {**good, "credentialSchema": {"id": "https://x.example/s"}}}, 400),
        ("already-secured", {"credential": {**good, "proof": {"type": "DataIntegrityProof"}}}, 400),
        ("options-not-an-object", {"credential": good, "options": "fast"}, 400),
        ("unknown-cryptosuite", {"credential": good, "options": {"cryptosuite": "bbs-2023"}}, 400),
    ]


ISSUE_CASE_IDS = [case[0] for case in _issue_cases(Issuer(slug="x", did="did:x:y", name="x", url="https://x"))]


@pytest.mark.parametrize("case", ISSUE_CASE_IDS)
def test_malformed_issue_requests(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, container: Container, case: str
) -> None:
    _, body, status = next(c for c in _issue_cases(issuer) if c[0] == case)
    problem_of(http.post(ISSUE, json=body, headers=auth), status)
    assert stored(container) == 0


def test_issue_bodies_that_are_not_json(http: FlaskClient, auth: dict[str, str], container: Container) -> None:
    problem_of(http.post(ISSUE, data=b"{not json", headers={**auth, "Content-Type": "application/json"}), 400)
    problem_of(http.post(ISSUE, data=b"{}", headers={**auth, "Content-Type": "text/plain"}), 415)
    problem_of(http.post(ISSUE, data=b"[" * 300_000, headers={**auth, "Content-Type": "application/json"}), 413)
    assert stored(container) == 0


def _verify_cases(vc: dict[str, Any]) -> list[tuple[str, Any]]:
    def changed(**members: Any) -> dict[str, Any]:
        return {"verifiableCredential": {**vc, **members}}

    def without(name: str) -> dict[str, Any]:
        return {"verifiableCredential": {key: value for key, value in vc.items() if key != name}}

    proof = vc["proof"][0]

    def proof_without(name: str) -> dict[str, Any]:
        return changed(proof=[{key: value for key, value in proof.items() if key != name}])

    return [
        ("no-verifiable-credential", {"credential": vc}),
        ("not-an-object", {"verifiableCredential": [vc]}),
        ("no-proof", without("proof")),
        ("proof-a-string", changed(proof="signed")),
        ("proof-without-type", proof_without("type")),
        ("proof-without-verification-method", proof_without("verificationMethod")),
        ("proof-without-proof-value", proof_without("proofValue")),
        ("proof-without-purpose", proof_without("proofPurpose")),
        ("proof-created-not-a-date", changed(proof=[{**proof, "created": "today"}])),
        ("no-context", without("@context")),
        ("no-type", without("type")),
        ("no-issuer", without("issuer")),
        ("subject-not-an-object", changed(credentialSubject="did:example:learner-1")),
        ("credential-schema-without-type", changed(credentialSchema={"id": "https://x.example/schema"})),
        ("refresh-service-without-type", changed(refreshService={"id": "https://x.example/refresh"})),
        ("related-resource-without-digest", changed(relatedResource=[{"id": "https://x.example/r"}])),
        ("related-resource-without-id", changed(relatedResource=[{"digestSRI": "sha384-abc"}])),
        ("status-without-type", changed(credentialStatus={"id": "https://x.example/status#1"})),
        ("options-not-an-object", {"verifiableCredential": vc, "options": []}),
    ]


VERIFY_CASE_IDS = [case[0] for case in _verify_cases({"proof": [{}]})]


@pytest.mark.parametrize("case", VERIFY_CASE_IDS)
def test_malformed_verify_requests_are_400(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, container: Container, case: str
) -> None:
    vc = issue(http, auth, unsigned(issuer))
    body = dict(_verify_cases(vc))[case]
    problem = problem_of(http.post(VERIFY, json=body, headers=auth), 400)
    assert problem["errors"] and all(
        e["pointer"].startswith(("/verifiableCredential", "/options")) for e in problem["errors"]
    )
    assert stored(container) == 1


@pytest.mark.parametrize("tampering", ["subject", "proof-value", "issuer-date"])
def test_a_tampered_credential_is_not_verified(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, tampering: str
) -> None:
    vc = issue(http, auth, unsigned(issuer))
    if tampering == "subject":
        forged = tamper_subject(vc)
    elif tampering == "proof-value":
        single = {**vc, "proof": vc["proof"][0]}
        forged = tamper_proof_value(single)
    else:
        forged = {**copy.deepcopy(vc), "validFrom": "2020-01-01T00:00:00Z"}
    result = verify(http, auth, forged)
    assert result["verified"] is False
    [problem] = result["problemDetails"]
    assert problem["type"] == "https://w3id.org/security#PROOF_VERIFICATION_ERROR"
    assert problem["title"] and problem["detail"]


def test_an_expired_credential_is_not_verified(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, clock: SettableClock
) -> None:
    until = (clock.now() + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    vc = issue(http, auth, unsigned(issuer, validUntil=until))
    assert verify(http, auth, vc)["verified"] is True
    clock.advance(timedelta(days=2))
    result = verify(http, auth, vc)
    assert result["verified"] is False
    assert [p["type"] for p in result["problemDetails"]] == ["https://www.w3.org/TR/vc-data-model#RANGE_ERROR"]


def test_a_revoked_key_no_longer_verifies(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, container: Container
) -> None:
    vc = issue(http, auth, unsigned(issuer), cryptosuite="ecdsa-rdfc-2019")
    key = next(k for k in container.keys.for_issuer("acme") if k.kid == vc["proof"][0]["verificationMethod"])
    container.keys.revoke(issuer, key.kid, "compromised")
    result = verify(http, auth, vc)
    assert result["verified"] is False
    assert result["problemDetails"][0]["type"] == "https://w3id.org/security#INVALID_VERIFICATION_METHOD"


# ---------------------------------------------------------------------------------------------------------------
# Presentations


class Holder:
    """A did:key holder that signs presentations with an eddsa-rdfc-2022 `authentication` proof."""

    def __init__(self) -> None:
        self.custody = MemoryKeyCustody()
        generated = self.custody.generate(Algorithm.EDDSA)
        self.did = did_key_for(generated.public_jwk)
        kid = verification_method_id(self.did)
        self.key = SigningKey(kid, "holder", Algorithm.EDDSA, generated.public_jwk, "memory", generated.key_ref)

    def present(self, credentials: list[dict[str, Any]], challenge: str, domain: str, **proof: Any) -> dict[str, Any]:
        presentation: dict[str, Any] = {
            "@context": [VC_V2],
            "type": ["VerifiablePresentation"],
            "holder": self.did,
            "verifiableCredential": credentials,
        }
        options = {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": "2026-01-01T00:00:00Z",
            "verificationMethod": self.key.kid,
            "proofPurpose": "authentication",
            "challenge": challenge,
            "domain": domain,
            **proof,
        }
        return {**presentation, "proof": create_proof(presentation, options, self.key, self.custody)}


def verify_vp(http: FlaskClient, auth: dict[str, str], vp: dict[str, Any], **options: Any) -> dict[str, Any]:
    response = http.post(VERIFY_VP, json={"verifiablePresentation": vp, "options": options}, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return loads(response.get_data())


def test_a_presentation_verifies_with_its_challenge_and_domain(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer
) -> None:
    vcs = [issue(http, auth, unsigned(issuer), cryptosuite=suite) for suite in SUITES]
    vp = Holder().present(vcs, "c-123", "verifier.example")
    result = verify_vp(http, auth, vp, challenge="c-123", domain="verifier.example")
    assert result["verified"] is True, result
    assert [r["verified"] for r in result["results"]["credentialResults"]] == [True, True]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"challenge": "c-other", "domain": "verifier.example"}, "INVALID_CHALLENGE_ERROR"),
        ({"challenge": "c-123", "domain": "evil.example"}, "INVALID_DOMAIN_ERROR"),
    ],
)
def test_a_wrong_challenge_or_domain_is_not_verified(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, options: dict[str, str], problem: str
) -> None:
    vp = Holder().present([issue(http, auth, unsigned(issuer))], "c-123", "verifier.example")
    result = verify_vp(http, auth, vp, **options)
    assert result["verified"] is False
    assert [p["type"] for p in result["problemDetails"]] == [f"https://w3id.org/security#{problem}"]


def test_presentation_failures(http: FlaskClient, auth: dict[str, str], issuer: Issuer) -> None:
    vc = issue(http, auth, unsigned(issuer))
    holder = Holder()

    forged_vc = verify_vp(http, auth, holder.present([tamper_subject(vc)], "c", "d"), challenge="c", domain="d")
    assert forged_vc["verified"] is False
    assert forged_vc["problemDetails"][0]["detail"].startswith("verifiableCredential/0: ")

    wrong_purpose = holder.present([vc], "c", "d", proofPurpose="assertionMethod")
    result = verify_vp(http, auth, wrong_purpose, challenge="c", domain="d")
    assert result["problemDetails"][0]["type"] == "https://w3id.org/security#MISMATCHED_PROOF_PURPOSE_ERROR"

    someone_else = {**holder.present([vc], "c", "d"), "holder": Holder().did}
    result = verify_vp(http, auth, someone_else, challenge="c", domain="d")
    assert result["verified"] is False

    altered = holder.present([vc], "c", "d")
    altered["verifiableCredential"] = []
    assert verify_vp(http, auth, altered, challenge="c", domain="d")["verified"] is False


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"presentation": {}}, id="no-verifiable-presentation"),
        pytest.param({"verifiablePresentation": "vp"}, id="not-an-object"),
        pytest.param(
            {"verifiablePresentation": {"@context": [VC_V2], "type": ["VerifiablePresentation"]}}, id="no-proof"
        ),
        pytest.param({"verifiablePresentation": {"type": "VerifiablePresentation", "proof": {}}}, id="no-context"),
        pytest.param({"verifiablePresentation": {}, "options": {"challenge": 5}}, id="challenge-not-a-string"),
    ],
)
def test_malformed_presentations_are_400(http: FlaskClient, auth: dict[str, str], body: dict[str, Any]) -> None:
    problem_of(http.post(VERIFY_VP, json=body, headers=auth), 400)


def test_an_embedded_malformed_credential_is_400(http: FlaskClient, auth: dict[str, str], issuer: Issuer) -> None:
    vc = issue(http, auth, unsigned(issuer))
    del vc["proof"]
    vp = Holder().present([vc], "c", "d")
    problem = problem_of(http.post(VERIFY_VP, json={"verifiablePresentation": vp}, headers=auth), 400)
    assert problem["errors"][0]["pointer"] == "/verifiablePresentation/verifiableCredential/0/proof"


def test_openapi_documents_the_vc_api(http: FlaskClient) -> None:
    paths = loads(http.get("/openapi.json").get_data())["paths"]
    assert {ISSUE, VERIFY, VERIFY_VP} <= set(paths)


def test_status_updates_in_the_vcalm_and_dcc_shapes(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, container: Container
) -> None:
    vc = issue(http, auth, unsigned(issuer))
    entry = {"type": "BitstringStatusListEntry", "statusPurpose": "suspension"}

    def update(body: dict[str, Any]) -> Any:
        return http.post("/credentials/status", json=body, headers=auth)

    suspended = update({"credentialId": vc["id"], "credentialStatus": entry, "status": True})
    assert suspended.status_code == 200, json_of(suspended)
    assert json_of(suspended) == {"credentialId": vc["id"], "status": "suspended", "changed": True}
    reinstated = update({"credentialId": vc["id"], "credentialStatus": [{**entry, "status": "unsuspended"}]})
    assert json_of(reinstated)["status"] == "active"
    verified = json_of(http.post("/credentials/verify", json={"verifiableCredential": vc}, headers=auth))
    assert verified["verified"] is True, verified["problemDetails"]
    statuses = {r["statusPurpose"]: r["status"] for r in verified["results"]["statusResults"]}
    assert statuses == {"revocation": "clear", "suspension": "clear"}  # not an OB3 credential: both entries
    revoked = update({"credentialId": vc["id"], "credentialStatus": [{"type": entry["type"], "status": "revoked"}]})
    assert json_of(revoked)["status"] == "revoked"
    verified = json_of(http.post("/credentials/verify", json={"verifiableCredential": vc}, headers=auth))
    assert verified["verified"] is False
    assert [p["type"] for p in verified["problemDetails"]] == ["urn:ec-issuer:problem:credential-revoked"]
    unrevoke = {"credentialId": vc["id"], "credentialStatus": {**entry, "statusPurpose": "revocation"}, "status": False}
    assert update(unrevoke).status_code == 409
    events = [
        e.event.value
        for e in container.lifecycle.history(container.access.authenticate(auth["Authorization"].split()[1]), vc["id"])
    ]
    assert events == ["issued", "suspended", "reinstated", "revoked"]


@pytest.mark.parametrize(
    ("body", "status", "pointer"),
    [
        (
            {"credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "revocation"}},
            400,
            "/credentialId",
        ),
        (
            {
                "credentialId": "urn:uuid:x",
                "credentialStatus": {"type": "Other", "statusPurpose": "revocation"},
                "status": True,
            },
            400,
            "/credentialStatus/type",
        ),
        (
            {
                "credentialId": "urn:uuid:x",
                "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "refresh"},
                "status": True,
            },
            400,
            "/credentialStatus/statusPurpose",
        ),
        (
            {
                "credentialId": "urn:uuid:x",
                "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "revocation"},
                "status": "yes",
            },
            400,
            "/status",
        ),
        (
            {
                "credentialId": "urn:uuid:x",
                "credentialStatus": [{"type": "BitstringStatusListEntry", "status": "gone"}],
            },
            400,
            "/credentialStatus/0/status",
        ),
    ],
)
def test_malformed_status_updates_are_400(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, body: dict[str, Any], status: int, pointer: str
) -> None:
    response = http.post("/credentials/status", json=body, headers=auth)
    assert response.status_code == status, json_of(response)
    assert pointer in [e["pointer"] for e in json_of(response)["errors"]]


def test_status_update_of_an_unknown_credential_is_404(http: FlaskClient, auth: dict[str, str], issuer: Issuer) -> None:
    body = {
        "credentialId": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "revocation"},
        "status": True,
    }
    assert http.post("/credentials/status", json=body, headers=auth).status_code == 404
