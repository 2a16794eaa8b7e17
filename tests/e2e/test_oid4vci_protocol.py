"""OID4VCI 1.0 endpoints driven by a plain HTTP client: the checks of the OIDF issuer test plan's metadata
module and its negative cases, each answered with the specification's error code and never a 5xx.

The wallet here is a few lines of Python (`cryptography`), so that each proof can be broken in one way.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from flask.testing import FlaskClient
from PIL import Image

from ec_issuer.access.commands import CreateClient
from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.core.encoding import b64url_decode, loads
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.did_key import did_key_for, verification_method_id
from ec_issuer.keys.model import Algorithm
from ec_issuer.oid4vci.proofs import did_jwk_for
from tests.conftest import json_of
from tests.oid4vci_support import ISSUER_ID, Holder
from tests.support import SettableClock, award_body, make_settings

PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
CONFIGURATION = "OpenBadgeCredential_jwt_vc_json"


@dataclass
class Wallet:
    http: FlaskClient
    auth: dict[str, str]

    def offer(self, **overrides: Any) -> dict[str, Any]:
        award = award_body()
        del award["issuer"], award["recipient"]
        response = self.http.post(
            "/api/v1/offers", json={"issuer": "acme", "awards": [{"credential": award}], **overrides}, headers=self.auth
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return json_of(response)

    def token(self, offer: dict[str, Any], **form: str) -> Any:
        grant = offer["offer"]["grants"].get(PRE_AUTH)
        # For an offer without that grant, send its id in place of a code: the server must refuse it.
        code = grant["pre-authorized_code"] if grant else offer["id"]
        return self.http.post(
            "/issuers/acme/oid4vci/token", data={"grant_type": PRE_AUTH, "pre-authorized_code": code, **form}
        )

    def access_token(self, offer: dict[str, Any], **form: str) -> str:
        response = self.token(offer, **form)
        assert response.status_code == 200, response.get_data(as_text=True)
        return json_of(response)["access_token"]

    def nonce(self) -> str:
        response = self.http.post("/issuers/acme/oid4vci/nonce")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        return json_of(response)["c_nonce"]

    def credential(self, token: str | None, body: dict[str, Any], **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post("/issuers/acme/oid4vci/credential", json=body, headers=headers, **kwargs)


@pytest.fixture
def wallet(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> Wallet:
    return Wallet(http, auth)


def error_of(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = json_of(response)
    assert set(body) == {"error", "error_description"}
    return body["error"]


# --- metadata -------------------------------------------------------------------------------------------


def test_metadata_at_both_well_known_paths_passes_the_oidf_metadata_checks(wallet: Wallet) -> None:
    inserted = wallet.http.get("/.well-known/openid-credential-issuer/issuers/acme")
    appended = wallet.http.get("/issuers/acme/.well-known/openid-credential-issuer")
    assert inserted.status_code == appended.status_code == 200
    assert inserted.get_data() == appended.get_data()
    metadata = json_of(inserted)
    assert metadata["credential_issuer"] == ISSUER_ID  # byte-identical, no trailing slash
    for endpoint in ("credential_endpoint", "nonce_endpoint", "deferred_credential_endpoint", "notification_endpoint"):
        assert metadata[endpoint].startswith(ISSUER_ID + "/")
    assert metadata["batch_credential_issuance"]["batch_size"] >= 2
    for configuration in metadata["credential_configurations_supported"].values():
        assert configuration["format"] in ("jwt_vc_json", "ldp_vc")
        assert configuration["credential_definition"]["type"]
        assert "credential_metadata" in configuration and configuration["credential_metadata"]["display"]
        # Binding methods and proof types come together, or not at all.
        assert ("cryptographic_binding_methods_supported" in configuration) == (
            "proof_types_supported" in configuration
        )
        assert set(configuration["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"]) == {
            "ES256",
            "EdDSA",
        }
        if configuration["format"] == "ldp_vc":
            assert "@context" in configuration["credential_definition"]
    for path in (
        "/.well-known/oauth-authorization-server/issuers/acme",
        "/issuers/acme/.well-known/oauth-authorization-server",
    ):
        server = json_of(wallet.http.get(path))
        assert server["issuer"] == ISSUER_ID
        assert PRE_AUTH in server["grant_types_supported"]
        assert server["pre-authorized_grant_anonymous_access_supported"] is True
        assert server["token_endpoint"] == ISSUER_ID + "/oid4vci/token"
        assert server["authorization_endpoint"] == ISSUER_ID + "/oid4vci/authorize"
        assert server["pushed_authorization_request_endpoint"] == ISSUER_ID + "/oid4vci/par"
        assert server["require_pushed_authorization_requests"] is True
        assert server["code_challenge_methods_supported"] == ["S256"]
        assert server["authorization_response_iss_parameter_supported"] is True
    assert wallet.http.get("/.well-known/openid-credential-issuer/issuers/nobody").status_code == 404


# --- offers ---------------------------------------------------------------------------------------------


def test_offer_by_reference_is_the_same_on_every_get_until_it_expires(wallet: Wallet, clock: SettableClock) -> None:
    offer = wallet.offer(expires_in=600)
    path = urlsplit(offer["offerUri"]).path
    first, second = wallet.http.get(path), wallet.http.get(path)
    assert first.status_code == second.status_code == 200
    assert first.mimetype == "application/json"
    assert first.get_data() == second.get_data()
    assert json_of(first) == offer["offer"]
    assert json_of(first)["credential_issuer"] == ISSUER_ID
    link = urlsplit(offer["offerLink"])
    assert link.scheme == "openid-credential-offer"
    assert parse_qs(link.query)["credential_offer_uri"] == [offer["offerUri"]]
    clock.advance(timedelta(seconds=601))
    assert wallet.http.get(path).status_code == 404
    assert json_of(wallet.http.get(f"/api/v1/offers/{offer['id']}", headers=wallet.auth))["state"] == "expired"


def test_qr_codes_decode_to_the_offer_link(wallet: Wallet) -> None:
    offer = wallet.offer()
    png = wallet.http.get(urlsplit(offer["qrCode"]["png"]).path)
    assert png.status_code == 200 and png.mimetype == "image/png"
    [decoded] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.get_data())))
    assert decoded.text == offer["offerLink"]
    svg = wallet.http.get(urlsplit(offer["qrCode"]["svg"]).path)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.get_data().startswith(b"<svg")


def test_invalid_offers_are_422_naming_the_field(wallet: Wallet) -> None:
    award = award_body()
    del award["issuer"]
    award["achievement"].pop("name")
    response = wallet.http.post(
        "/api/v1/offers",
        json={"issuer": "acme", "awards": [{"configuration": "nope", "credential": award}]},
        headers=wallet.auth,
    )
    assert response.status_code == 422
    pointers = {error["pointer"] for error in json_of(response)["errors"]}
    assert pointers == {
        "/awards/0/configuration",
        "/awards/0/credential/recipient",
        "/awards/0/credential/achievement/name",
    }
    assert wallet.http.post("/api/v1/offers", json={"issuer": "acme", "awards": []}).status_code == 401


def test_an_offer_cannot_carry_a_european_digital_credential(wallet: Wallet) -> None:
    award = award_body(produce=["open-badges-3.0", "elm-3.2"], europass={"learner": {"fullName": "Ana"}})
    del award["issuer"], award["recipient"]
    response = wallet.http.post(
        "/api/v1/offers", json={"issuer": "acme", "awards": [{"credential": award}]}, headers=wallet.auth
    )
    assert response.status_code == 422
    pointers = {error["pointer"] for error in json_of(response)["errors"]}
    assert pointers == {"/awards/0/credential/produce", "/awards/0/credential/europass"}


def test_a_client_scoped_to_another_issuer_cannot_make_or_read_offers(wallet: Wallet, container: Container) -> None:
    offer = wallet.offer()
    other = container.access.create(CreateClient(name="other", issuers=["elsewhere"]))
    headers = {"Authorization": f"Bearer {other.token}"}
    award = award_body()
    del award["issuer"], award["recipient"]
    made = wallet.http.post(
        "/api/v1/offers", json={"issuer": "acme", "awards": [{"credential": award}]}, headers=headers
    )
    assert made.status_code == 403
    assert wallet.http.get(f"/api/v1/offers/{offer['id']}", headers=headers).status_code == 404


# --- token endpoint -------------------------------------------------------------------------------------


def test_the_pre_authorized_code_is_single_use(wallet: Wallet) -> None:
    offer = wallet.offer()
    response = wallet.token(offer)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = json_of(response)
    assert body["token_type"] == "Bearer" and body["expires_in"] <= 300
    assert error_of(wallet.token(offer)) == "invalid_grant"


def test_token_requests_that_are_malformed(wallet: Wallet) -> None:
    offer = wallet.offer()
    assert error_of(wallet.token(offer, grant_type="client_credentials")) == "unsupported_grant_type"
    no_code = wallet.http.post("/issuers/acme/oid4vci/token", data={"grant_type": PRE_AUTH})
    assert error_of(no_code) == "invalid_request"
    unknown = wallet.http.post(
        "/issuers/acme/oid4vci/token", data={"grant_type": PRE_AUTH, "pre-authorized_code": "guess"}
    )
    assert error_of(unknown) == "invalid_grant"
    as_json = wallet.http.post("/issuers/acme/oid4vci/token", json={"grant_type": PRE_AUTH})
    assert error_of(as_json) == "invalid_request"
    assert error_of(wallet.token(offer, tx_code="123456")) == "invalid_request"  # this offer has none
    assert wallet.token(offer).status_code == 200  # none of the above used the code up


def test_a_wrong_tx_code_does_not_burn_the_code_and_repeated_guesses_are_slowed(
    wallet: Wallet, clock: SettableClock
) -> None:
    offer = wallet.offer(tx_code={"length": 6})
    right = offer["txCode"]
    wrong = "000000" if right != "000000" else "111111"
    assert error_of(wallet.token(offer)) == "invalid_request"  # tx_code missing
    for _ in range(5):
        assert error_of(wallet.token(offer, tx_code=wrong)) == "invalid_grant"
    locked = wallet.token(offer, tx_code=right)
    assert error_of(locked) == "invalid_grant"
    assert "try again" in json_of(locked)["error_description"]
    clock.advance(timedelta(seconds=31))
    # The legacy user_pin some wallets add (AltMe, oid4vc-ts) is ignored, like any unknown parameter.
    assert wallet.token(offer, tx_code=right, user_pin=right).status_code == 200


# --- credential endpoint --------------------------------------------------------------------------------


def test_credential_request_needs_a_bearer_token_in_the_header(wallet: Wallet) -> None:
    offer = wallet.offer()
    token = wallet.access_token(offer)
    body = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [Holder().proof(wallet.nonce())]}}
    missing = wallet.credential(None, body)
    assert error_of(missing, 401) == "invalid_token"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_of(wallet.credential("not-a-token", body), 401) == "invalid_token"
    in_query = wallet.http.post(f"/issuers/acme/oid4vci/credential?access_token={token}", json=body)
    assert error_of(in_query) == "invalid_request"


def test_an_expired_access_token_is_refused(wallet: Wallet, clock: SettableClock) -> None:
    token = wallet.access_token(wallet.offer())
    clock.advance(timedelta(seconds=301))
    body = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [Holder().proof(wallet.nonce())]}}
    assert error_of(wallet.credential(token, body), 401) == "invalid_token"


def test_credential_requests_naming_the_wrong_thing(wallet: Wallet) -> None:
    token = wallet.access_token(wallet.offer())
    proofs = {"jwt": [Holder().proof(wallet.nonce())]}
    cases = {
        "unknown_credential_configuration": {"credential_configuration_id": "Diploma_mso_mdoc", "proofs": proofs},
        "unknown_credential_identifier": {"credential_identifier": "someone-elses", "proofs": proofs},
        "invalid_credential_request": {
            "credential_configuration_id": CONFIGURATION,
            "credential_identifier": "x",
            "proofs": proofs,
        },
    }
    for expected, body in cases.items():
        assert error_of(wallet.credential(token, body)) == expected, body
    assert error_of(wallet.credential(token, {"credential_configuration_id": CONFIGURATION})) == "invalid_proof"
    not_json = wallet.http.post(
        "/issuers/acme/oid4vci/credential",
        data="{",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert error_of(not_json) == "invalid_credential_request"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad signature", "invalid_proof"),
        ("wrong aud", "invalid_proof"),
        ("stale iat", "invalid_proof"),
        ("iat in the future", "invalid_proof"),
        ("typ JWT", "invalid_proof"),
        ("private key in header", "invalid_proof"),
        ("alg none", "invalid_proof"),
        ("two keys named", "invalid_proof"),
        ("no nonce", "invalid_proof"),
        ("unknown nonce", "invalid_nonce"),
    ],
)
def test_bad_proofs_get_the_specifications_error_codes(wallet: Wallet, case: str, expected: str) -> None:
    token = wallet.access_token(wallet.offer())
    holder = Holder()
    nonce = wallet.nonce()
    proofs = {
        "bad signature": lambda: holder.proof(nonce)[:-8] + "AAAAAAAA",
        "wrong aud": lambda: holder.proof(nonce, aud="https://issuer.test/issuers/other"),
        "stale iat": lambda: holder.proof(nonce, iat=int(time.time()) - 3600),
        "iat in the future": lambda: holder.proof(nonce, iat=int(time.time()) + 3600),
        "typ JWT": lambda: holder.proof(nonce, header={"typ": "JWT"}),
        "private key in header": lambda: holder.proof(nonce, header={"jwk": {**holder.jwk, "d": "AAAA"}}),
        "alg none": lambda: holder.proof(nonce, header={"alg": "none"}),
        "two keys named": lambda: holder.proof(nonce, header={"kid": did_jwk_for(holder.jwk) + "#0"}),
        "no nonce": lambda: holder.proof(None),
        "unknown nonce": lambda: holder.proof("never-issued"),
    }
    response = wallet.credential(
        token, {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [proofs[case]()]}}
    )
    assert error_of(response) == expected


def test_a_nonce_is_used_up_by_one_credential_request(wallet: Wallet) -> None:
    token = wallet.access_token(wallet.offer())
    nonce = wallet.nonce()
    holder = Holder("EdDSA")
    body = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [holder.proof(nonce)]}}
    first = wallet.credential(token, body)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "no-store"
    stored = json_of(wallet.http.get("/api/v1/credentials", headers=wallet.auth))["items"]
    assert error_of(wallet.credential(token, body)) == "invalid_nonce"
    # The replay was refused in the transaction that would have stored its credential: none was kept.
    assert json_of(wallet.http.get("/api/v1/credentials", headers=wallet.auth))["items"] == stored


def test_a_nonce_that_is_not_ours_or_has_expired_is_refused(wallet: Wallet, clock: SettableClock) -> None:
    token = wallet.access_token(wallet.offer())
    nonce = wallet.nonce()
    payload, _, mac = nonce.partition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac  # another expiry or randomness
    for bad in (forged, payload, nonce + "x"):
        body = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [Holder().proof(bad)]}}
        assert error_of(wallet.credential(token, body)) == "invalid_nonce", bad
    stale = wallet.nonce()
    clock.advance(timedelta(seconds=301))
    fresh_token = wallet.access_token(wallet.offer())
    proof = Holder().proof(stale, iat=int(time.time()) + 301)  # the wallet's clock agrees with ours
    body = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [proof]}}
    assert error_of(wallet.credential(fresh_token, body)) == "invalid_nonce"


def test_purge_forgets_used_nonces_and_tokens_once_expired(
    wallet: Wallet, container: Container, clock: SettableClock
) -> None:
    token = wallet.access_token(wallet.offer())
    nonce = wallet.nonce()
    body = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [Holder().proof(nonce)]}}
    assert wallet.credential(token, body).status_code == 200
    assert container.oid4vci.purge() == 0  # the used nonce is remembered while it could still be replayed
    assert error_of(wallet.credential(token, body)) == "invalid_nonce"
    clock.advance(timedelta(seconds=301))
    assert container.oid4vci.purge() == 1  # the nonce; the token stays for deferred pickups
    clock.advance(timedelta(days=31))
    assert container.oid4vci.purge() == 1  # the token


def test_did_key_and_did_jwk_holders_are_the_credential_subject(wallet: Wallet) -> None:
    token = wallet.access_token(wallet.offer())
    for alg in ("ES256", "EdDSA"):
        for naming in ("did:key", "did:jwk"):
            holder = Holder(alg)
            did = did_key_for(holder.jwk) if naming == "did:key" else did_jwk_for(holder.jwk)
            kid = verification_method_id(did) if naming == "did:key" else did + "#0"
            proof = holder.proof(wallet.nonce(), header={"kid": kid}, without_jwk=True)
            response = wallet.credential(
                token, {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [proof]}}
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            [entry] = json_of(response)["credentials"]
            assert _subject_of(entry["credential"]) == did, (alg, naming)


# --- notification endpoint ------------------------------------------------------------------------------


def test_notifications_are_idempotent_and_checked(wallet: Wallet) -> None:
    offer = wallet.offer()
    token = wallet.access_token(offer)
    body = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [Holder().proof(wallet.nonce())]}}
    notification_id = json_of(wallet.credential(token, body))["notification_id"]
    headers = {"Authorization": f"Bearer {token}"}
    url = "/issuers/acme/oid4vci/notification"
    for _ in range(2):
        sent = wallet.http.post(
            url, json={"notification_id": notification_id, "event": "credential_accepted"}, headers=headers
        )
        assert sent.status_code == 204
    unknown = wallet.http.post(url, json={"notification_id": "nope", "event": "credential_accepted"}, headers=headers)
    assert error_of(unknown) == "invalid_notification_id"
    bad_event = wallet.http.post(url, json={"notification_id": notification_id, "event": "liked"}, headers=headers)
    assert error_of(bad_event) == "invalid_notification_request"
    assert json_of(wallet.http.get(f"/api/v1/offers/{offer['id']}", headers=wallet.auth))["state"] == "notified"


def test_a_deferred_award_waits_for_its_release_and_is_delivered_once(wallet: Wallet, clock: SettableClock) -> None:
    award = award_body()
    del award["issuer"], award["recipient"]
    offer = wallet.offer(awards=[{"credential": award, "deferred": True}])
    token = wallet.access_token(offer)
    holder = Holder("EdDSA")
    body = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [holder.proof(wallet.nonce())]}}
    accepted = wallet.credential(token, body)
    assert accepted.status_code == 202, accepted.get_data(as_text=True)
    assert accepted.headers["Cache-Control"] == "no-store"
    transaction = json_of(accepted)
    assert set(transaction) == {"transaction_id", "interval"}

    def ask(access: str = token, transaction_id: str = transaction["transaction_id"]) -> Any:
        return wallet.http.post(
            "/issuers/acme/oid4vci/deferred",
            json={"transaction_id": transaction_id},
            headers={"Authorization": f"Bearer {access}"},
        )

    waiting = ask()
    assert waiting.status_code == 202
    assert json_of(waiting) == transaction  # the same transaction_id while it waits
    other_token = wallet.access_token(wallet.offer())
    assert error_of(ask(access=other_token)) == "invalid_transaction_id"  # not this token's transaction
    released = wallet.http.post(f"/api/v1/offers/{offer['id']}/release", headers=wallet.auth)
    assert released.status_code == 200 and json_of(released)["releasedAt"]
    clock.advance(timedelta(hours=2))  # long after the access token's 5 minutes: a pickup is still honoured
    ready = ask()
    assert ready.status_code == 200, ready.get_data(as_text=True)
    [entry] = json_of(ready)["credentials"]
    assert _subject_of(entry["credential"]) == did_jwk_for(holder.jwk)
    assert json_of(ready)["notification_id"]  # OID4VCI 1.0 §9.2, unless OID4VCI_DEFERRED_NOTIFICATION_ID=false
    assert error_of(ask()) == "invalid_transaction_id"  # delivered once
    # Only the deferred endpoint honours an expired token; the credential endpoint does not.
    assert error_of(wallet.credential(token, body), 401) == "invalid_token"


def test_deferred_endpoint_knows_no_transaction(wallet: Wallet) -> None:
    token = wallet.access_token(wallet.offer())
    response = wallet.http.post(
        "/issuers/acme/oid4vci/deferred", json={"transaction_id": "t-1"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert error_of(response) == "invalid_transaction_id"


def _subject_of(jws: str) -> str:
    return loads(b64url_decode(jws.split(".")[1]))["credentialSubject"]["id"]


# --- draft-13 compatibility -----------------------------------------------------------------------------


@pytest.fixture
def draft13_wallet(database_url: str, tmp_path: Path) -> Iterator[Wallet]:
    """A deployment with OID4VCI_TOKEN_C_NONCE=true, as for wallets on draft 13."""
    container = build(make_settings(database_url, tmp_path, oid4vci_token_c_nonce=True))
    acme = container.issuers.create(CreateIssuer(slug="acme", name="ACME University", url="https://acme.example"))
    container.keys.generate(acme, Algorithm.ES256)
    token = "draft13-admin-token-" + "x" * 32
    container.access.ensure_bootstrap_client(token)
    app = create_app(container)
    app.testing = False
    yield Wallet(app.test_client(), {"Authorization": f"Bearer {token}"})
    container.engine.dispose()


def test_a_draft13_wallet_gets_its_c_nonce_from_the_token_and_its_credential_in_the_old_shape(
    draft13_wallet: Wallet,
) -> None:
    wallet = draft13_wallet
    response = wallet.token(wallet.offer())
    assert response.status_code == 200
    answer = json_of(response)
    assert answer["c_nonce"] and answer["c_nonce_expires_in"] == 300
    holder = Holder()
    request = {
        "format": "jwt_vc_json",
        "credential_definition": {"type": ["VerifiableCredential", "OpenBadgeCredential"]},
        "proof": {"proof_type": "jwt", "jwt": holder.proof(answer["c_nonce"])},
    }
    first = wallet.credential(answer["access_token"], request)
    assert first.status_code == 200, first.get_data(as_text=True)
    body = json_of(first)
    assert set(body) == {"credential", "c_nonce", "c_nonce_expires_in", "notification_id"}
    assert _subject_of(body["credential"]) == did_jwk_for(holder.jwk)
    # The c_nonce of the answer serves the next request, as draft 13 has it.
    again = {**request, "proof": {"proof_type": "jwt", "jwt": holder.proof(body["c_nonce"])}}
    assert wallet.credential(answer["access_token"], again).status_code == 200


def test_draft13_requests_for_what_we_do_not_issue(wallet: Wallet) -> None:
    token = wallet.access_token(wallet.offer())
    assert "c_nonce" not in json_of(wallet.token(wallet.offer()))  # 1.0 by default: the nonce endpoint
    proof = {"proof_type": "jwt", "jwt": Holder().proof(wallet.nonce())}
    cases = {
        "unsupported_credential_format": {"format": "mso_mdoc", "proof": proof},
        "unsupported_credential_type": {
            "format": "jwt_vc_json",
            "credential_definition": {"type": ["VerifiableCredential", "UniversityDegree"]},
            "proof": proof,
        },
        "invalid_proof": {"format": "jwt_vc_json", "proof": {"proof_type": "cwt", "cwt": "x"}},
    }
    for expected, request in cases.items():
        assert error_of(wallet.credential(token, request)) == expected, request


# --- authorization code flow ----------------------------------------------------------------------------

VERIFIER = "a-code-verifier-of-forty-three-characters-or-more-0123456789"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
REDIRECT = "https://wallet.example/callback"


def par(wallet: Wallet, issuer_state: str | None, **changes: str) -> Any:
    form = {
        "response_type": "code",
        "client_id": "wallet-1",
        "redirect_uri": REDIRECT,
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "state": "s-42",
        "scope": CONFIGURATION,
    }
    if issuer_state is not None:
        form["issuer_state"] = issuer_state
    form.update(changes)
    return wallet.http.post("/issuers/acme/oid4vci/par", data={k: v for k, v in form.items() if v != "<drop>"})


def authorized_code(wallet: Wallet, offer: dict[str, Any]) -> str:
    pushed = par(wallet, offer["offer"]["grants"]["authorization_code"]["issuer_state"])
    assert pushed.status_code == 201, pushed.get_data(as_text=True)
    request_uri = json_of(pushed)["request_uri"]
    answer = wallet.http.get(
        "/issuers/acme/oid4vci/authorize", query_string={"client_id": "wallet-1", "request_uri": request_uri}
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s-42"] and query["iss"] == [ISSUER_ID]
    return query["code"][0]


def code_token(wallet: Wallet, code: str, **changes: str) -> Any:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER}
    form.update(changes)
    return wallet.http.post("/issuers/acme/oid4vci/token", data=form)


def test_pushed_authorization_requests_must_be_well_formed(wallet: Wallet) -> None:
    offer = wallet.offer(grants=["authorization_code"])
    state = offer["offer"]["grants"]["authorization_code"]["issuer_state"]
    assert error_of(par(wallet, state, code_challenge_method="plain")) == "invalid_request"
    assert error_of(par(wallet, state, code_challenge="<drop>")) == "invalid_request"
    assert error_of(par(wallet, state, response_type="token")) == "unsupported_response_type"
    assert error_of(par(wallet, state, redirect_uri="not a url")) == "invalid_request"
    assert error_of(par(wallet, None)) == "access_denied"
    assert error_of(par(wallet, state[:-4] + "AAAA")) == "access_denied"
    pre_authorized_only = wallet.offer()
    assert error_of(par(wallet, pre_authorized_only["id"] + ".x")) == "access_denied"


def test_the_authorization_endpoint_takes_pushed_requests_once(wallet: Wallet) -> None:
    offer = wallet.offer(grants=["authorization_code"])
    pushed = json_of(par(wallet, offer["offer"]["grants"]["authorization_code"]["issuer_state"]))
    url = "/issuers/acme/oid4vci/authorize"
    assert error_of(wallet.http.get(url, query_string={"client_id": "wallet-1"})) == "invalid_request"
    other_client = {"client_id": "someone-else", "request_uri": pushed["request_uri"]}
    assert error_of(wallet.http.get(url, query_string=other_client)) == "invalid_request"
    mine = {"client_id": "wallet-1", "request_uri": pushed["request_uri"]}
    assert wallet.http.get(url, query_string=mine).status_code == 302
    assert error_of(wallet.http.get(url, query_string=mine)) == "invalid_request"  # used


def test_the_code_needs_the_pkce_verifier_and_the_same_redirect_and_works_once(
    wallet: Wallet, clock: SettableClock
) -> None:
    offer = wallet.offer(grants=["authorization_code"])
    code = authorized_code(wallet, offer)
    assert error_of(code_token(wallet, code, code_verifier="x" * 43)) == "invalid_grant"
    assert error_of(code_token(wallet, code, code_verifier="short")) == "invalid_grant"
    assert error_of(code_token(wallet, code, redirect_uri="https://evil.example/cb")) == "invalid_grant"
    assert error_of(code_token(wallet, code, client_id="someone-else")) == "invalid_grant"
    assert code_token(wallet, code).status_code == 200
    assert error_of(code_token(wallet, code)) == "invalid_grant"  # the offer is redeemed
    late = wallet.offer(grants=["authorization_code"])
    late_code = authorized_code(wallet, late)
    clock.advance(timedelta(seconds=61))
    assert error_of(code_token(wallet, late_code)) == "invalid_grant"  # codes live a minute


def test_an_offer_with_both_grants_is_redeemed_once_either_way(wallet: Wallet) -> None:
    offer = wallet.offer(grants=["pre-authorized_code", "authorization_code"])
    assert set(offer["offer"]["grants"]) == {PRE_AUTH, "authorization_code"}
    code = authorized_code(wallet, offer)
    assert wallet.token(offer).status_code == 200
    assert error_of(code_token(wallet, code)) == "invalid_grant"
    only_code = wallet.offer(grants=["authorization_code"])
    assert error_of(wallet.token(only_code)) == "invalid_grant"  # it has no pre-authorized code to redeem
