"""The published status lists, read by independent implementations (npm packages in Node, offline).

On SQLite and PostgreSQL, two issuers issue a handful of credentials and some change status:

- acme (statusPurposes revocation, suspension; its Open Badges carry the first, a revocation entry):
  `revoked` (vc+jwt and Data Integrity, "both", then revoked), `suspended` (vc+jwt, suspended),
  `plain_jwt` (vc+jwt, untouched) and `plain_di` (data-integrity, untouched);
- paused (statusPurposes suspension only): `paused` (data-integrity, suspended, later reinstated) and
  `paused_plain` (data-integrity, untouched).

Then @digitalbazaar/vc-bitstring-status-list decodes the bitstring lists, @sd-jwt/jwt-status-list the
Status List Token, and the Digital Bazaar VC verifier checks the Data Integrity credentials together with
their status list credentials (tests/e2e/js/verify-di.mjs): none of that shares code with ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from ec_issuer.bootstrap import Container
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.signing.jose import parse_compact
from tests.conftest import json_of
from tests.e2e.node_status_decoder import node_decode_bitstring, node_decode_token_jwt
from tests.e2e.status_documents import status_list_documents
from tests.e2e.test_di_independent_verifier import node_verify_di
from tests.support import award_body

pytestmark = pytest.mark.node

CREDENTIALS = "/api/v1/credentials"
MIN_BITSTRING_ENTRIES = 131_072  # Bitstring Status List v1.0: at least 16 KB of bits, for herd privacy
TOKEN_VALID, TOKEN_INVALID, TOKEN_SUSPENDED = 0, 1, 2  # draft-ietf-oauth-status-list, two-bit entries


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def issue(http: FlaskClient, auth: dict[str, str], issuer: str, fmt: str | None = None) -> dict[str, Any]:
    body = award_body(issuer)
    if fmt is not None:
        body["format"] = fmt
    response = http.post(CREDENTIALS, json=body, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    issued: dict[str, Any] = json_of(response)
    return issued


def change(http: FlaskClient, auth: dict[str, str], issued: dict[str, Any], action: str, **body: Any) -> None:
    response = http.post(f"{CREDENTIALS}/{issued['id']}/{action}", json=body, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert json_of(response)["changed"] is True


def entry_of(issued: dict[str, Any]) -> dict[str, Any]:
    """The one BitstringStatusListEntry of an Open Badges credential."""
    entry = issued["credential"]["credentialStatus"]
    assert isinstance(entry, dict), "an OB3 credential carries one credentialStatus object"
    assert entry["type"] == "BitstringStatusListEntry"
    return entry


def bit_index(issued: dict[str, Any]) -> int:
    return int(entry_of(issued)["statusListIndex"])


def token_reference(issued: dict[str, Any]) -> dict[str, Any]:
    """The Token Status List reference (`status.status_list`) of the credential's vc+jwt."""
    reference: dict[str, Any] = parse_compact(issued["jws"]).payload_json()["status"]["status_list"]
    return reference


def get_list(http: FlaskClient, url: str, accept: str) -> Any:
    response = http.get(urlsplit(url).path, headers={"Accept": accept})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def encoded_list(http: FlaskClient, url: str) -> str:
    subject = json_of(get_list(http, url, "application/json"))["credentialSubject"]
    encoded: str = subject["encodedList"]
    return encoded


# ---------------------------------------------------------------------------------------------------------------
# The scene


@dataclass(frozen=True)
class Scene:
    http: FlaskClient
    auth: dict[str, str]
    acme: Issuer
    paused_issuer: Issuer
    revoked: dict[str, Any]
    suspended: dict[str, Any]
    plain_jwt: dict[str, Any]
    plain_di: dict[str, Any]
    paused: dict[str, Any]
    paused_plain: dict[str, Any]

    def did_documents(self) -> dict[str, dict[str, Any]]:
        return {
            issuer.did: json_of(self.http.get(f"/issuers/{issuer.slug}/did.json"))
            for issuer in (self.acme, self.paused_issuer)
        }

    def verify_di(self, *credentials: dict[str, Any]) -> list[dict[str, Any]]:
        """The Digital Bazaar verdicts, given the DID documents and the status lists as published now."""
        documents = {**self.did_documents(), **status_list_documents(self.http, *credentials)}
        return node_verify_di(list(credentials), documents)


@pytest.fixture
def scene(http: FlaskClient, container: Container, issuer: Issuer, auth: dict[str, str]) -> Scene:
    paused_issuer = container.issuers.create(
        CreateIssuer(slug="paused", name="Paused Academy", url="https://paused.example", statusPurposes=["suspension"])
    )
    container.keys.generate(paused_issuer, Algorithm.ES256)
    container.keys.generate(paused_issuer, Algorithm.EDDSA)

    revoked = issue(http, auth, "acme", "both")
    suspended = issue(http, auth, "acme")
    plain_jwt = issue(http, auth, "acme")
    plain_di = issue(http, auth, "acme", "data-integrity")
    paused = issue(http, auth, "paused", "data-integrity")
    paused_plain = issue(http, auth, "paused", "data-integrity")
    assert (revoked["format"], suspended["format"], plain_di["format"]) == ("both", "vc+jwt", "data-integrity")

    change(http, auth, revoked, "revoke", reasonCode="issued_in_error")
    change(http, auth, suspended, "suspend", reason="under review")
    change(http, auth, paused, "suspend", reason="under review")
    return Scene(http, auth, issuer, paused_issuer, revoked, suspended, plain_jwt, plain_di, paused, paused_plain)


# ---------------------------------------------------------------------------------------------------------------
# (a) the bitstring lists


def test_the_revocation_list_decodes_to_exactly_the_revoked_index(scene: Scene) -> None:
    acme_credentials = [scene.revoked, scene.suspended, scene.plain_jwt, scene.plain_di]
    urls = {entry_of(c)["statusListCredential"] for c in acme_credentials}
    assert urls == {"https://issuer.test/issuers/acme/status/revocation/1"}
    assert {entry_of(c)["statusPurpose"] for c in acme_credentials} == {"revocation"}
    indices = [bit_index(c) for c in acme_credentials]
    assert len(set(indices)) == len(indices), indices
    [url] = urls

    decoded = node_decode_bitstring(encoded_list(scene.http, url), indices)

    assert decoded["length"] >= MIN_BITSTRING_ENTRIES, decoded["length"]
    assert decoded["bits"] == {bit_index(scene.revoked): True} | dict.fromkeys(indices[1:], False)
    assert decoded["setCount"] == 1  # nothing else set, the suspension included


def test_the_vc_jwt_form_of_the_list_carries_the_same_bits(scene: Scene) -> None:
    url = entry_of(scene.revoked)["statusListCredential"]
    jwt = get_list(scene.http, url, "application/vc+jwt")
    assert jwt.mimetype == "application/vc+jwt"
    subject = parse_compact(jwt.get_data(as_text=True)).payload_json()["credentialSubject"]
    assert subject["statusPurpose"] == "revocation"

    decoded = node_decode_bitstring(subject["encodedList"], [bit_index(scene.revoked), bit_index(scene.plain_jwt)])

    assert decoded["bits"] == {bit_index(scene.revoked): True, bit_index(scene.plain_jwt): False}
    assert decoded["setCount"] == 1


def test_the_suspension_list_decodes_to_exactly_the_suspended_index(scene: Scene) -> None:
    entry = entry_of(scene.paused)
    assert entry["statusPurpose"] == "suspension"
    assert entry["statusListCredential"] == "https://issuer.test/issuers/paused/status/suspension/1"
    assert entry_of(scene.paused_plain)["statusListCredential"] == entry["statusListCredential"]
    indices = [bit_index(scene.paused), bit_index(scene.paused_plain)]

    decoded = node_decode_bitstring(encoded_list(scene.http, entry["statusListCredential"]), indices)

    assert decoded["length"] >= MIN_BITSTRING_ENTRIES
    assert decoded["bits"] == {indices[0]: True, indices[1]: False}
    assert decoded["setCount"] == 1


# ---------------------------------------------------------------------------------------------------------------
# (b) the Status List Token


def test_the_status_list_token_reports_invalid_suspended_and_valid(scene: Scene) -> None:
    jwt_credentials = [scene.revoked, scene.suspended, scene.plain_jwt]
    references = [token_reference(c) for c in jwt_credentials]
    url = "https://issuer.test/issuers/acme/status/token/1"
    assert {r["uri"] for r in references} == {url}
    idx_revoked, idx_suspended, idx_plain = (r["idx"] for r in references)
    assert len({idx_revoked, idx_suspended, idx_plain}) == 3
    assert scene.plain_di["jws"] is None  # Data Integrity only: no JWT, so no Token Status List slot

    response = get_list(scene.http, url, "application/statuslist+jwt")
    assert response.mimetype == "application/statuslist+jwt"
    decoded = node_decode_token_jwt(response.get_data(as_text=True), [idx_revoked, idx_suspended, idx_plain])

    assert decoded["header"]["typ"] == "statuslist+jwt"
    assert decoded["claims"]["sub"] == url
    assert decoded["bitsPerStatus"] == 2
    assert decoded["values"] == {
        idx_revoked: TOKEN_INVALID,
        idx_suspended: TOKEN_SUSPENDED,
        idx_plain: TOKEN_VALID,
    }
    assert decoded["nonZeroCount"] == 2


# ---------------------------------------------------------------------------------------------------------------
# (c) and (d) the Digital Bazaar verifier, status checked


def test_the_status_list_credentials_verify_on_their_own(scene: Scene) -> None:
    documents = status_list_documents(scene.http, scene.revoked["credential"], scene.paused["credential"])
    assert len(documents) == 2
    verdicts = node_verify_di(list(documents.values()), scene.did_documents())
    assert verdicts == [{"ok": True, "errors": []}] * 2, verdicts


def test_a_revoked_credential_fails_and_an_untouched_one_verifies(scene: Scene) -> None:
    revoked, untouched, paused_untouched = scene.verify_di(
        scene.revoked["credential"], scene.plain_di["credential"], scene.paused_plain["credential"]
    )

    assert revoked["ok"] is False
    assert revoked["errors"] == ["status: the revocation bit is set"], revoked
    assert untouched == {"ok": True, "errors": []}, untouched
    assert paused_untouched == {"ok": True, "errors": []}, paused_untouched


def test_a_suspended_credential_verifies_again_once_reinstated(scene: Scene) -> None:
    [suspended] = scene.verify_di(scene.paused["credential"])
    assert suspended["ok"] is False
    assert suspended["errors"] == ["status: the suspension bit is set"], suspended
    url = entry_of(scene.paused)["statusListCredential"]
    etag = get_list(scene.http, url, "application/json").headers["ETag"]

    change(scene.http, scene.auth, scene.paused, "reinstate", reason="review closed")

    republished = get_list(scene.http, url, "application/json")
    assert republished.headers["ETag"] != etag  # the list was signed again
    decoded = node_decode_bitstring(json_of(republished)["credentialSubject"]["encodedList"], [bit_index(scene.paused)])
    assert decoded["bits"] == {bit_index(scene.paused): False}
    assert decoded["setCount"] == 0
    [reinstated] = scene.verify_di(scene.paused["credential"])
    assert reinstated == {"ok": True, "errors": []}, reinstated


def test_reinstating_clears_the_suspension_in_the_status_list_token(scene: Scene) -> None:
    reference = token_reference(scene.suspended)
    change(scene.http, scene.auth, scene.suspended, "reinstate")

    response = get_list(scene.http, reference["uri"], "application/statuslist+jwt")
    decoded = node_decode_token_jwt(response.get_data(as_text=True), [reference["idx"]])

    assert decoded["values"] == {reference["idx"]: TOKEN_VALID}
    assert decoded["nonZeroCount"] == 1  # the revoked credential only
