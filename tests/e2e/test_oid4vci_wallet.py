"""OID4VCI 1.0 end to end: a real wallet library (@openid4vc/openid4vci 0.4.6, inside Credo and Paradym)
picks credentials up from the running service over HTTP, and what it receives verifies.

The service runs on a loopback port with ISSUER_BASE_URL pointing at it, so the credential issuer identifier,
the metadata and the offer links are the ones a wallet would see in production, only over http.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.storage.tables import outbox_events
from tests.e2e.node_wallet import run_wallet
from tests.e2e.test_di_independent_verifier import node_verify_di
from tests.e2e.test_independent_verification import node_verify
from tests.support import award_body, make_settings

ALL_BINDINGS = [(binding, alg) for binding in ("jwk", "did:jwk", "did:key") for alg in ("ES256", "EdDSA")]


@dataclass
class Deployment:
    url: str
    container: Container
    client: httpx.Client
    auth: dict[str, str]

    def offer(self, **overrides: Any) -> dict[str, Any]:
        award = award_body()
        del award["issuer"], award["recipient"]
        body: dict[str, Any] = {"issuer": "acme", "awards": [{"credential": award}], **overrides}
        response = self.client.post("/api/v1/offers", json=body, headers=self.auth)
        assert response.status_code == 201, response.text
        return response.json()

    def state(self, offer_id: str) -> str:
        response = self.client.get(f"/api/v1/offers/{offer_id}", headers=self.auth)
        assert response.status_code == 200, response.text
        return response.json()["state"]

    def verify(self, credential: str | dict[str, Any]) -> dict[str, Any]:
        body = {"jws": credential} if isinstance(credential, str) else {"credential": credential}
        response = self.client.post("/api/v1/credentials/verify", json=body, headers=self.auth)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def deployment(database_url: str, tmp_path: Path) -> Iterator[Deployment]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    # oid4vc-ts 0.4.6 refuses a deferred response carrying a notification_id (its check is inverted,
    # openwallet-foundation-labs/oid4vc-ts#245): the documented compatibility setting leaves it out.
    settings = make_settings(database_url, tmp_path, issuer_base_url=url, oid4vci_deferred_notification_id=False)
    container = build(settings)
    issuer = container.issuers.create(CreateIssuer(slug="acme", name="ACME University", url="https://acme.example"))
    container.keys.generate(issuer, Algorithm.ES256)
    container.keys.generate(issuer, Algorithm.EDDSA)
    token = "wallet-test-admin-token-" + "x" * 32
    container.access.ensure_bootstrap_client(token)
    server = make_server("127.0.0.1", port, create_app(container), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield Deployment(url, container, client, {"Authorization": f"Bearer {token}"})
    finally:
        server.shutdown()
        thread.join(timeout=5)
        container.engine.dispose()


def test_pre_authorized_offer_by_reference_delivers_a_bound_credential_that_verifies(deployment: Deployment) -> None:
    offer = deployment.offer()
    assert deployment.state(offer["id"]) == "created"

    answer = run_wallet(
        {"offer": offer["offerLink"], "binding": "did:jwk", "alg": "ES256", "notify": "credential_accepted"}
    )

    assert answer["metadataVersion"] == "V1"
    assert answer["credentialIssuer"] == f"{deployment.url}/issuers/acme"
    assert answer["format"] == "jwt_vc_json"
    [credential] = answer["credentials"]
    verified = deployment.verify(credential)
    assert verified["verified"] is True, verified
    subject = verified["credential"]["credentialSubject"]
    assert subject["id"] == answer["holders"][0]["did"]
    assert answer["notificationSent"] is True
    assert deployment.state(offer["id"]) == "notified"
    with deployment.container.engine.connect() as connection:
        steps = connection.execute(
            select(outbox_events.c.type).where(outbox_events.c.subject == offer["id"]).order_by(outbox_events.c.seq)
        ).scalars()
        assert [step.removeprefix("org.ec-issuer.") for step in steps] == [
            "offer.created",
            "offer.redeemed",
            "offer.delivered",
            "offer.notified",
        ]


@pytest.mark.parametrize(("binding", "alg"), ALL_BINDINGS)
def test_every_holder_binding_and_proof_algorithm(deployment: Deployment, binding: str, alg: str) -> None:
    offer = deployment.offer()
    answer = run_wallet({"offer": offer["offerLink"], "binding": binding, "alg": alg})
    [credential] = answer["credentials"]
    verified = deployment.verify(credential)
    assert verified["verified"] is True, verified
    assert verified["credential"]["credentialSubject"]["id"] == answer["holders"][0]["did"]
    # An independent verifier (npm jose), given only the issuer's published JWK Set, agrees.
    [independent] = node_verify(f"{deployment.url}/issuers/acme/jwks.json", [credential])
    assert independent["ok"] is True, independent


def test_offer_by_value_with_a_transaction_code(deployment: Deployment) -> None:
    offer = deployment.offer(tx_code={"length": 6, "description": "The code in the e-mail we sent you"})
    assert offer["txCode"].isdigit() and len(offer["txCode"]) == 6
    assert offer["offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["tx_code"] == {
        "input_mode": "numeric",
        "length": 6,
        "description": "The code in the e-mail we sent you",
    }
    answer = run_wallet({"offer": offer["offerLinkByValue"], "txCode": offer["txCode"], "binding": "did:key"})
    [credential] = answer["credentials"]
    assert deployment.verify(credential)["verified"] is True


def test_batch_of_three_keys_gets_three_credentials_each_bound_to_its_key(deployment: Deployment) -> None:
    offer = deployment.offer()
    answer = run_wallet({"offer": offer["offerLink"], "batch": 3, "binding": "did:jwk", "alg": "EdDSA"})
    assert len(answer["credentials"]) == 3
    subjects = [deployment.verify(c)["credential"]["credentialSubject"]["id"] for c in answer["credentials"]]
    assert subjects == [holder["did"] for holder in answer["holders"]]
    assert len(set(subjects)) == 3
    offer_now = deployment.client.get(f"/api/v1/offers/{offer['id']}", headers=deployment.auth).json()
    assert offer_now["credentialsIssued"] == 3


def test_data_integrity_credentials_as_ldp_vc(deployment: Deployment) -> None:
    offer = deployment.offer(awards=[{"configuration": "OpenBadgeCredential_ldp_vc", "credential": _award()}])
    answer = run_wallet({"offer": offer["offerLink"], "binding": "did:key", "alg": "EdDSA"})
    assert answer["format"] == "ldp_vc"
    [credential] = answer["credentials"]
    assert isinstance(credential, dict)
    proofs = credential["proof"] if isinstance(credential["proof"], list) else [credential["proof"]]
    assert [proof["type"] for proof in proofs] == ["DataIntegrityProof"]
    assert proofs[0]["cryptosuite"] == "eddsa-rdfc-2022"
    verified = deployment.verify(credential)
    assert verified["verified"] is True, verified
    # The Digital Bazaar stack, given the issuer's published DID document and status list, agrees.
    documents = {credential["issuer"]["id"]: deployment.client.get("/issuers/acme/did.json").json()}
    status_list = credential["credentialStatus"]["statusListCredential"]
    documents[status_list] = deployment.client.get(status_list, headers={"Accept": "application/json"}).json()
    [independent] = node_verify_di([credential], documents)
    assert independent["ok"] is True, independent


def test_the_access_token_serves_a_second_credential_request(deployment: Deployment) -> None:
    offer = deployment.offer()
    answer = run_wallet({"offer": offer["offerLink"], "requestTwice": True})
    assert answer["secondError"] is None
    [again] = answer["secondCredentials"]
    assert deployment.verify(again)["verified"] is True
    assert again != answer["credentials"][0]


def test_a_deferred_award_is_picked_up_after_its_release(deployment: Deployment) -> None:
    offer = deployment.offer(awards=[{"credential": _award(), "deferred": True}])
    release = {"url": f"{deployment.url}/api/v1/offers/{offer['id']}/release", **_authorization(deployment)}
    answer = run_wallet({"offer": offer["offerLink"], "binding": "did:key", "release": release})
    deferral = answer["deferral"]
    assert deferral["interval"] == 5
    assert deferral["pending"]["transaction_id"] == deferral["transactionId"]  # 202 again, same id
    assert deferral["releaseStatus"] == 200
    [credential] = answer["credentials"]
    verified = deployment.verify(credential)
    assert verified["verified"] is True, verified
    assert verified["credential"]["credentialSubject"]["id"] == answer["holders"][0]["did"]
    assert answer["notificationId"] is None


def test_authorization_code_flow_with_par_and_pkce(deployment: Deployment) -> None:
    offer = deployment.offer(grants=["authorization_code"])
    assert set(offer["offer"]["grants"]) == {"authorization_code"}
    client = {"clientId": "wallet-under-test", "redirectUri": "https://wallet.example/callback"}
    answer = run_wallet(
        {"offer": offer["offerLink"], "authorizationCode": client, "binding": "did:jwk", "alg": "EdDSA"}
    )
    flow = answer["authorization"]
    assert flow["pkce"] == "S256"
    assert "request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A" in flow["authorizationRequestUrl"]
    assert flow["redirect"].startswith("https://wallet.example/callback?code=")
    assert flow["state"] is None  # the library sends none; tests/e2e/test_oid4vci_protocol.py checks the echo
    assert flow["iss"] == f"{deployment.url}/issuers/acme"
    [credential] = answer["credentials"]
    verified = deployment.verify(credential)
    assert verified["verified"] is True, verified
    assert verified["credential"]["credentialSubject"]["id"] == answer["holders"][0]["did"]
    assert deployment.state(offer["id"]) == "credential_issued"


def test_a_credential_template_is_shown_with_its_display_and_delivered_under_its_configuration(
    deployment: Deployment,
) -> None:
    display = [
        {
            "name": "Python 101",
            "locale": "en",
            "description": "Introductory Python at ACME",
            "logo": {"uri": "https://acme.example/badges/python-101.png", "alt_text": "A blue snake"},
            "background_color": "#12107C",
            "text_color": "#FFFFFF",
        }
    ]
    achievement = award_body()["achievement"]
    put = deployment.client.put(
        "/api/v1/issuers/acme/credential-templates/python-101",
        json={"achievement": achievement, "display": display},
        headers=deployment.auth,
    )
    assert put.status_code == 201, put.text
    offer = deployment.offer(awards=[{"template": "python-101", "credential": {"narrative": "Final project: a bot"}}])
    answer = run_wallet({"offer": offer["offerLink"], "binding": "did:jwk", "notify": "credential_accepted"})
    assert answer["configurationId"] == "python-101_jwt_vc_json"
    assert answer["display"] == display  # what the wallet shows, read from the metadata by the library
    [credential] = answer["credentials"]
    verified = deployment.verify(credential)
    assert verified["verified"] is True, verified
    assert verified["credential"]["credentialSubject"]["achievement"]["id"] == achievement["id"]
    assert answer["notificationSent"] is True
    # The authorization code flow asks for the template configuration's scope.
    by_code = deployment.offer(awards=[{"template": "python-101", "format": "ldp_vc"}], grants=["authorization_code"])
    client = {"clientId": "wallet-under-test", "redirectUri": "https://wallet.example/callback"}
    answer = run_wallet({"offer": by_code["offerLink"], "authorizationCode": client, "binding": "did:key"})
    assert (answer["configurationId"], answer["format"]) == ("python-101_ldp_vc", "ldp_vc")
    [credential] = answer["credentials"]
    assert deployment.verify(credential)["verified"] is True


def _authorization(deployment: Deployment) -> dict[str, str]:
    return {"authorization": deployment.auth["Authorization"]}


def _award() -> dict[str, Any]:
    award = award_body()
    del award["issuer"], award["recipient"]
    return award
