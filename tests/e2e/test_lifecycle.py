"""Credential lifecycle over HTTP: revoke, suspend, reinstate, history, and the published status lists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from ec_issuer.bootstrap import Container
from ec_issuer.core.encoding import loads
from ec_issuer.credentials.schema import Ob3SchemaValidator
from ec_issuer.credentials.verifying import CredentialVerifier
from ec_issuer.issuers.model import Issuer
from ec_issuer.signing.jose import parse_compact
from ec_issuer.status.bitstring import MIN_ENTRIES, BitstringStatusList
from ec_issuer.status.lists import StatusListUrls
from ec_issuer.status.ports import FetchedList, StatusListUnavailable
from ec_issuer.status.sources import LocalFirstStatusLists
from ec_issuer.status.token_status_list import TokenStatusList
from tests.conftest import json_of
from tests.support import SettableClock, award_body


def issue(http: FlaskClient, auth: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = http.post("/api/v1/credentials", json=award_body(**overrides), headers=auth)
    assert response.status_code == 201, json_of(response)
    return json_of(response)


def status_entry(issued: dict[str, Any]) -> dict[str, Any]:
    status = issued["credential"]["credentialStatus"]
    assert isinstance(status, dict), "an OB3 credential carries one credentialStatus object"
    return status


def fetch_list(http: FlaskClient, url: str, accept: str = "application/json") -> Any:
    response = http.get(urlsplit(url).path, headers={"Accept": accept})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def published_bit(http: FlaskClient, entry: dict[str, Any]) -> bool:
    document = json_of(fetch_list(http, entry["statusListCredential"]))
    subject = document["credentialSubject"]
    assert subject["statusPurpose"] == entry["statusPurpose"]
    bits = BitstringStatusList.decode(subject["encodedList"])
    assert len(bits) >= MIN_ENTRIES
    return bits.get(int(entry["statusListIndex"]))


def token_value(http: FlaskClient, jws: str) -> int:
    reference = parse_compact(jws).payload_json()["status"]["status_list"]
    response = fetch_list(http, reference["uri"], accept="application/statuslist+jwt")
    assert response.mimetype == "application/statuslist+jwt"
    token = parse_compact(response.get_data(as_text=True))
    assert token.header["typ"] == "statuslist+jwt"
    claims = token.payload_json()
    assert claims["sub"] == reference["uri"]
    return TokenStatusList.from_claim(claims["status_list"]).get(reference["idx"])


def change(http: FlaskClient, auth: dict[str, str], credential_id: str, action: str, **body: Any) -> Any:
    return http.post(f"/api/v1/credentials/{credential_id}/{action}", json=body, headers=auth)


def test_revocation_is_published_and_reported(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    issued = issue(http, auth)
    entry = status_entry(issued)
    assert entry["type"] == "BitstringStatusListEntry"
    assert entry["statusPurpose"] == "revocation"
    assert entry["statusListIndex"].isdigit()
    assert entry["statusListCredential"].startswith("https://issuer.test/issuers/acme/status/revocation/")
    assert published_bit(http, entry) is False
    assert token_value(http, issued["jws"]) == 0

    revoked = change(http, auth, issued["id"], "revoke", reasonCode="issued_in_error", reason="wrong learner")
    assert revoked.status_code == 200, json_of(revoked)
    assert json_of(revoked)["status"] == "revoked"
    assert json_of(revoked)["changed"] is True
    assert published_bit(http, entry) is True
    assert token_value(http, issued["jws"]) == 1  # INVALID

    verified = json_of(http.post("/api/v1/credentials/verify", json={"jws": issued["jws"]}, headers=auth))
    assert verified["verified"] is False
    assert verified["status"] == "revoked"


def test_revoking_twice_is_idempotent(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    issued = issue(http, auth)
    first = change(http, auth, issued["id"], "revoke", reasonCode="fraud")
    second = change(http, auth, issued["id"], "revoke", reasonCode="fraud")
    assert (first.status_code, second.status_code) == (200, 200)
    assert (json_of(first)["changed"], json_of(second)["changed"]) == (True, False)
    events = json_of(http.get(f"/api/v1/credentials/{issued['id']}/history", headers=auth))["events"]
    assert [e["event"] for e in events] == ["issued", "revoked"]


def test_suspend_and_reinstate_round_trip(
    http: FlaskClient, container: Container, issuer: Issuer, auth: dict[str, str]
) -> None:
    issued = issue(http, auth)
    suspended = change(http, auth, issued["id"], "suspend", reason="under review")
    assert json_of(suspended)["status"] == "suspended", json_of(suspended)
    assert token_value(http, issued["jws"]) == 2  # SUSPENDED
    verified = json_of(http.post("/api/v1/credentials/verify", json={"jws": issued["jws"]}, headers=auth))
    assert (verified["verified"], verified["status"]) == (False, "suspended")
    again = change(http, auth, issued["id"], "suspend")
    assert json_of(again)["changed"] is False

    reinstated = change(http, auth, issued["id"], "reinstate", reason="review closed")
    assert json_of(reinstated)["status"] == "active"
    assert token_value(http, issued["jws"]) == 0
    verified = json_of(http.post("/api/v1/credentials/verify", json={"jws": issued["jws"]}, headers=auth))
    assert verified["verified"] is True, verified["errors"]

    events = json_of(http.get(f"/api/v1/credentials/{issued['id']}/history", headers=auth))["events"]
    assert [(e["event"], e["reason"]) for e in events] == [
        ("issued", None),
        ("suspended", "under review"),
        ("reinstated", "review closed"),
    ]
    assert all(e["actor"] for e in events)


def test_reinstating_a_revoked_credential_is_refused(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    issued = issue(http, auth)
    change(http, auth, issued["id"], "revoke")
    refused = change(http, auth, issued["id"], "reinstate")
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert "revoked" in json_of(refused)["detail"]
    refused = change(http, auth, issued["id"], "suspend")
    assert refused.status_code == 409


def test_history_records_actor_time_and_reason(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    issued = issue(http, auth)
    change(http, auth, issued["id"], "suspend", reason="complaint received")
    change(http, auth, issued["id"], "revoke", reasonCode="privilege_withdrawn", reason="upheld")
    history = json_of(http.get(f"/api/v1/credentials/{issued['id']}/history", headers=auth))
    assert history["id"] == issued["id"]
    events = history["events"]
    assert [(e["event"], e["fromStatus"], e["toStatus"]) for e in events] == [
        ("issued", None, "active"),
        ("suspended", "active", "suspended"),
        ("revoked", "suspended", "revoked"),
    ]
    assert events[2]["reasonCode"] == "privilege_withdrawn"
    assert events[2]["reason"] == "upheld"
    assert len({e["actor"] for e in events}) == 1


def test_the_list_is_cacheable_and_answers_conditional_requests(
    http: FlaskClient, container: Container, issuer: Issuer, auth: dict[str, str]
) -> None:
    entry = status_entry(issue(http, auth))
    first = fetch_list(http, entry["statusListCredential"])
    ttl = container.settings.status_list_ttl_seconds
    assert first.headers["Cache-Control"] == f"public, max-age={ttl}"
    assert json_of(first)["credentialSubject"]["ttl"] == ttl * 1000
    etag = first.headers["ETag"]
    path = urlsplit(entry["statusListCredential"]).path
    unchanged = http.get(path, headers={"If-None-Match": etag, "Accept": "application/json"})
    assert unchanged.status_code == 304
    assert unchanged.get_data() == b""
    for validator in ("W/" + etag, "*", f'"other", {etag}'):  # weak comparison, RFC 9110 §13.1.2
        assert http.get(path, headers={"If-None-Match": validator, "Accept": "application/json"}).status_code == 304

    other = issue(http, auth)
    change(http, auth, other["id"], "revoke")
    changed = http.get(path, headers={"If-None-Match": etag, "Accept": "application/json"})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_the_list_is_signed_as_vc_jwt_and_with_a_proof(
    http: FlaskClient, container: Container, issuer: Issuer, auth: dict[str, str]
) -> None:
    entry = status_entry(issue(http, auth))
    document = json_of(fetch_list(http, entry["statusListCredential"]))
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["id"] == entry["statusListCredential"]
    assert document["issuer"] == issuer.did
    assert container.verifier.verify_document(document).verified
    jwt = fetch_list(http, entry["statusListCredential"], accept="application/vc+jwt")
    assert jwt.mimetype == "application/vc+jwt"
    checked = container.verifier.verify(jwt.get_data(as_text=True))
    assert checked.verified, checked.errors
    assert (
        loads(parse_compact(jwt.get_data(as_text=True)).payload)["credentialSubject"] == document["credentialSubject"]
    )


def test_expiry_is_reported_before_and_written_by_the_sweep(
    http: FlaskClient, container: Container, clock: SettableClock, issuer: Issuer, auth: dict[str, str]
) -> None:
    valid_until = (clock.now() + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    issued = issue(http, auth, validUntil=valid_until)
    clock.advance(timedelta(days=2))
    shown = json_of(http.get(f"/api/v1/credentials/{issued['id']}", headers=auth))
    assert shown["status"] == "expired"  # before any sweep
    assert change(http, auth, issued["id"], "revoke").status_code == 409

    assert container.expiry.run() == 1
    assert container.expiry.run() == 0  # nothing left, nothing logged twice
    events = json_of(http.get(f"/api/v1/credentials/{issued['id']}/history", headers=auth))["events"]
    assert [(e["event"], e["actor"]) for e in events][-1] == ("expired", None)
    listed = json_of(http.get("/api/v1/credentials?status=expired", headers=auth))
    assert [item["id"] for item in listed["items"]] == [issued["id"]]


def verifier_of_published_lists(container: Container, clock: SettableClock) -> CredentialVerifier:
    """A verifier without the stored status: only the published lists can tell, as for a verifier elsewhere."""
    return CredentialVerifier(
        container.key_resolver,
        Ob3SchemaValidator(),
        clock,
        statuses=None,
        status_lists=LocalFirstStatusLists(StatusListUrls("https://issuer.test"), container.status_lists, None),
    )


class _Unreachable:
    def fetch(self, url: str, accept: str) -> FetchedList:
        raise StatusListUnavailable(f"{url}: connection refused")


def test_the_verifier_reads_the_published_lists(
    http: FlaskClient, container: Container, clock: SettableClock, issuer: Issuer, auth: dict[str, str]
) -> None:
    issued = issue(http, auth, format="both")
    lists_only = verifier_of_published_lists(container, clock)
    before = lists_only.verify(issued["jws"])
    assert before.verified, before.errors
    assert {c.name: c.passed for c in before.checks if c.name.startswith("status:")} == {
        "status:revocation": True,
        "status:token": True,
    }
    assert before.status == "active"

    change(http, auth, issued["id"], "revoke", reasonCode="fraud")
    after = lists_only.verify(issued["jws"])
    assert (after.verified, after.status) == (False, "revoked")
    assert {c.name: c.passed for c in after.checks if c.name.startswith("status:")} == {
        "status:revocation": False,
        "status:token": False,
    }
    document = lists_only.verify_document(issued["credential"])
    assert (document.verified, document.status) == (False, "revoked")


def test_an_unreachable_list_is_unknown_never_valid(
    http: FlaskClient, container: Container, clock: SettableClock, issuer: Issuer, auth: dict[str, str]
) -> None:
    issued = issue(http, auth)
    verifier = CredentialVerifier(
        container.key_resolver, Ob3SchemaValidator(), clock, statuses=None, status_lists=_Unreachable()
    )
    verification = verifier.verify(issued["jws"])
    assert verification.verified is False
    assert verification.status == "unknown"
    failed = [c for c in verification.checks if c.passed is False]
    assert {c.name for c in failed} == {"status:revocation", "status:token"}
    assert all("connection refused" in c.detail for c in failed)


def test_a_list_checked_before_is_distrusted_once_its_key_is_revoked(
    http: FlaskClient, container: Container, clock: SettableClock, issuer: Issuer, auth: dict[str, str]
) -> None:
    """The verifier remembers list signatures it checked; revoking the key that signed a list must still
    make that list untrusted at the next verification. The credential is signed with the issuer's EdDSA key,
    the lists with its ES256 key, so that only the lists lose their key."""
    issued = issue(http, auth, algorithm="EdDSA")
    lists_only = verifier_of_published_lists(container, clock)
    for _ in range(2):  # the second verification is answered from the remembered list signatures
        before = lists_only.verify(issued["jws"])
        assert before.verified, before.errors
    reference = parse_compact(issued["jws"]).payload_json()["status"]["status_list"]
    served = fetch_list(http, reference["uri"], accept="application/statuslist+jwt").get_data(as_text=True)
    list_kid = parse_compact(served).header["kid"]
    assert list_kid != parse_compact(issued["jws"]).header["kid"]

    fragment = list_kid.rsplit("#", 1)[1]
    revoked = http.post(f"/api/v1/issuers/acme/keys/{fragment}/revoke", json={"reason": "test"}, headers=auth)
    assert json_of(revoked)["state"] == "revoked", json_of(revoked)

    after = lists_only.verify(issued["jws"])
    status_checks = {c.name: c for c in after.checks if c.name.startswith("status:")}
    assert set(status_checks) == {"status:revocation", "status:token"}
    for check in status_checks.values():
        assert check.passed is False
        assert "revoked key" in check.detail, check.detail
    assert (after.verified, after.status) == (False, "unknown")
