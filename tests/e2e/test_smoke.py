"""The walking skeleton: register, issue, fetch, list and verify over HTTP."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from ec_issuer.issuers.model import Issuer
from tests.support import award_body


def test_issue_fetch_list_and_verify(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    issued = http.post("/api/v1/credentials", json=award_body(), headers=auth)
    assert issued.status_code == 201, issued.get_json()
    body: dict[str, Any] = issued.get_json()
    credential = body["credential"]
    assert credential["@context"][:2] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert credential["issuer"]["id"] == issuer.did
    assert credential["id"].startswith("urn:uuid:")
    assert issued.headers["Location"] == f"/api/v1/credentials/{body['id']}"

    fetched = http.get(f"/api/v1/credentials/{body['id']}", headers=auth)
    assert fetched.status_code == 200
    assert fetched.get_json()["jws"] == body["jws"]

    bare = http.get(f"/api/v1/credentials/{body['id']}", headers={**auth, "Accept": "application/vc+jwt"})
    assert bare.mimetype == "application/vc+jwt"
    assert bare.get_data(as_text=True) == body["jws"]

    listed = http.get("/api/v1/credentials", headers=auth).get_json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]

    verified = http.post("/api/v1/credentials/verify", json={"jws": body["jws"]}, headers=auth).get_json()
    assert verified["verified"] is True, verified["errors"]
    assert {c["check"]: c["result"] for c in verified["checks"]}["status"] == "passed"
