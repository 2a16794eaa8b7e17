"""DPoP (RFC 9449) at the OID4VCI token and resource endpoints, driven by a plain HTTP client whose proofs can
be broken one way at a time: binding, the server nonce, replay, and each claim the RFC's §4.3 checks."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.core.encoding import b64url_encode, dumps
from tests.conftest import json_of
from tests.oid4vci_support import ISSUER_ID, Holder
from tests.support import SettableClock, award_body, make_settings

PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
CONFIGURATION = "OpenBadgeCredential_jwt_vc_json"
TOKEN_URL = f"{ISSUER_ID}/oid4vci/token"
CREDENTIAL_URL = f"{ISSUER_ID}/oid4vci/credential"


class DpopKey(Holder):
    """A wallet's DPoP key; `proof()` of the parent signs key proofs, `dpop()` signs DPoP proofs."""

    def dpop(
        self,
        method: str,
        url: str,
        *,
        nonce: str | None = None,
        access_token: str | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        protected: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk, **(header or {})}
        body: dict[str, Any] = {"htm": method, "htu": url, "iat": int(time.time()), "jti": uuid.uuid4().hex}
        if nonce is not None:
            body["nonce"] = nonce
        if access_token is not None:
            body["ath"] = b64url_encode(hashlib.sha256(access_token.encode()).digest())
        body.update(claims)
        signing_input = f"{b64url_encode(dumps(protected))}.{b64url_encode(dumps(body))}"
        return f"{signing_input}.{b64url_encode(self.sign(signing_input.encode()))}"


class Client:
    def __init__(self, http: FlaskClient, auth: dict[str, str]) -> None:
        self.http = http
        self.auth = auth

    def pre_authorized_code(self) -> str:
        award = award_body()
        del award["issuer"], award["recipient"]
        response = self.http.post(
            "/api/v1/offers", json={"issuer": "acme", "awards": [{"credential": award}]}, headers=self.auth
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return json_of(response)["offer"]["grants"][PRE_AUTH]["pre-authorized_code"]

    def token(self, code: str, *dpop: str) -> Any:
        form = {"grant_type": PRE_AUTH, "pre-authorized_code": code}
        return self.http.post("/issuers/acme/oid4vci/token", data=form, headers=[("DPoP", proof) for proof in dpop])

    def dpop_nonce(self) -> str:
        response = self.http.post("/issuers/acme/oid4vci/nonce")
        return response.headers["DPoP-Nonce"]

    def c_nonce(self) -> str:
        return json_of(self.http.post("/issuers/acme/oid4vci/nonce"))["c_nonce"]

    def bound_token(self, key: DpopKey) -> str:
        response = self.token(self.pre_authorized_code(), key.dpop("POST", TOKEN_URL, nonce=self.dpop_nonce()))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = json_of(response)
        assert body["token_type"] == "DPoP"
        return body["access_token"]

    def credential(self, token: str, holder: Holder, *dpop: str, scheme: str = "DPoP") -> Any:
        body = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [holder.proof(self.c_nonce())]}}
        headers = [("Authorization", f"{scheme} {token}"), *(("DPoP", proof) for proof in dpop)]
        return self.http.post("/issuers/acme/oid4vci/credential", json=body, headers=headers)


@pytest.fixture
def client(http: FlaskClient, issuer: object, auth: dict[str, str]) -> Client:
    return Client(http, auth)


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    return json_of(response)["error"]


def test_metadata_advertises_dpop_algorithms(client: Client) -> None:
    metadata = json_of(client.http.get("/.well-known/oauth-authorization-server/issuers/acme"))
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_a_dpop_bound_token_gets_a_credential_with_a_proof_by_its_key(client: Client, alg: str) -> None:
    key = DpopKey(alg)
    code = client.pre_authorized_code()
    # Without the server's nonce: refused with one to retry with (RFC 9449 §8), and the code is not burnt.
    first = client.token(code, key.dpop("POST", TOKEN_URL))
    assert _error(first, 400) == "use_dpop_nonce"
    response = client.token(code, key.dpop("POST", TOKEN_URL, nonce=first.headers["DPoP-Nonce"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert json_of(response)["token_type"] == "DPoP"
    assert response.headers["DPoP-Nonce"]
    token = json_of(response)["access_token"]

    proof = key.dpop("POST", CREDENTIAL_URL, nonce=client.dpop_nonce(), access_token=token)
    answer = client.credential(token, Holder(), proof)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert isinstance(json_of(answer)["credentials"][0]["credential"], str)
    assert answer.headers["DPoP-Nonce"]


def test_a_bound_token_is_refused_as_bearer_and_with_another_keys_proof(client: Client) -> None:
    key = DpopKey()
    token = client.bound_token(key)
    as_bearer = client.credential(token, Holder(), scheme="Bearer")
    assert _error(as_bearer, 401) == "invalid_token"
    other = DpopKey().dpop("POST", CREDENTIAL_URL, nonce=client.dpop_nonce(), access_token=token)
    assert _error(client.credential(token, Holder(), other), 401) == "invalid_token"
    # A bearer token stays a bearer token: presented under the DPoP scheme it is not found.
    bearer = json_of(client.token(client.pre_authorized_code()))["access_token"]
    proof = key.dpop("POST", CREDENTIAL_URL, nonce=client.dpop_nonce(), access_token=bearer)
    assert _error(client.credential(bearer, Holder(), proof), 401) == "invalid_token"


def test_a_resource_request_without_the_nonce_gets_a_dpop_challenge(client: Client) -> None:
    key = DpopKey()
    token = client.bound_token(key)
    response = client.credential(token, Holder(), key.dpop("POST", CREDENTIAL_URL, access_token=token))
    assert _error(response, 401) == "use_dpop_nonce"
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    assert 'algs="ES256 EdDSA"' in response.headers["WWW-Authenticate"]
    retry = key.dpop("POST", CREDENTIAL_URL, nonce=response.headers["DPoP-Nonce"], access_token=token)
    assert client.credential(token, Holder(), retry).status_code == 200


def test_a_dpop_proof_is_taken_once(client: Client) -> None:
    key = DpopKey()
    token = client.bound_token(key)
    proof = key.dpop("POST", CREDENTIAL_URL, nonce=client.dpop_nonce(), access_token=token)
    assert client.credential(token, Holder(), proof).status_code == 200
    replayed = client.credential(token, Holder(), proof)
    assert _error(replayed, 401) == "invalid_dpop_proof"
    assert "used before" in json_of(replayed)["error_description"]


@pytest.mark.parametrize(
    "breakage",
    [
        "typ",
        "alg none",
        "private key",
        "htm",
        "htu",
        "htu of another path",
        "stale iat",
        "no jti",
        "ath of another token",
        "no ath",
        "bad signature",
        "two proofs",
    ],
)
def test_each_broken_resource_proof_is_invalid_dpop_proof(client: Client, breakage: str) -> None:
    key = DpopKey()
    token = client.bound_token(key)
    nonce = client.dpop_nonce()

    def proof(**changes: Any) -> str:
        return key.dpop("POST", changes.pop("url", CREDENTIAL_URL), nonce=nonce, access_token=token, **changes)

    proofs = {
        "typ": lambda: [proof(header={"typ": "JWT"})],
        "alg none": lambda: [proof(header={"alg": "none"})],
        "private key": lambda: [proof(header={"jwk": {**key.jwk, "d": "AAAA"}})],
        "htm": lambda: [key.dpop("GET", CREDENTIAL_URL, nonce=nonce, access_token=token)],
        "htu": lambda: [proof(url=TOKEN_URL)],
        "htu of another path": lambda: [proof(url=CREDENTIAL_URL + "/other")],
        "stale iat": lambda: [proof(iat=int(time.time()) - 3600)],
        "no jti": lambda: [proof(jti="")],
        "ath of another token": lambda: [key.dpop("POST", CREDENTIAL_URL, nonce=nonce, access_token="other")],
        "no ath": lambda: [key.dpop("POST", CREDENTIAL_URL, nonce=nonce)],
        "bad signature": lambda: [proof()[:-6] + "AAAAAA"],
        "two proofs": lambda: [proof(), proof()],
    }[breakage]()
    assert _error(client.credential(token, Holder(), *proofs), 401) == "invalid_dpop_proof"


def test_an_equivalent_htu_is_accepted(client: Client) -> None:
    """RFC 9449 §4.3: htu is compared after normalisation, without query and fragment."""
    key = DpopKey()
    token = client.bound_token(key)
    url = CREDENTIAL_URL.replace("https://issuer.test", "HTTPS://Issuer.Test:443") + "?x=1#f"
    proof = key.dpop("POST", url, nonce=client.dpop_nonce(), access_token=token)
    assert client.credential(token, Holder(), proof).status_code == 200


def test_a_broken_proof_at_the_token_endpoint_keeps_the_code(client: Client) -> None:
    key = DpopKey()
    code = client.pre_authorized_code()
    broken = key.dpop("POST", CREDENTIAL_URL, nonce=client.dpop_nonce())  # htu of another endpoint
    assert _error(client.token(code, broken), 400) == "invalid_dpop_proof"
    assert client.token(code, key.dpop("POST", TOKEN_URL, nonce=client.dpop_nonce())).status_code == 200


@pytest.fixture
def strict(database_url: str, tmp_path: Path, clock: SettableClock) -> Iterator[Client]:
    """DPoP required (OID4VCI_DPOP=required), nonces off (OID4VCI_DPOP_NONCE=false)."""
    container: Container = build(
        make_settings(database_url, tmp_path, oid4vci_dpop="required", oid4vci_dpop_nonce=False), clock=clock
    )
    from ec_issuer.issuers.commands import CreateIssuer
    from ec_issuer.keys.model import Algorithm

    created = container.issuers.create(CreateIssuer(slug="acme", name="ACME University", url="https://acme.example"))
    container.keys.generate(created, Algorithm.ES256)
    admin = "strict-admin-" + uuid.uuid4().hex
    container.access.ensure_bootstrap_client(admin)
    app = create_app(container)
    yield Client(app.test_client(), {"Authorization": f"Bearer {admin}"})
    container.engine.dispose()


def test_required_dpop_refuses_bearer_tokens_and_proofless_token_requests(strict: Client) -> None:
    assert _error(strict.token(strict.pre_authorized_code()), 400) == "invalid_dpop_proof"
    key = DpopKey()
    response = strict.token(strict.pre_authorized_code(), key.dpop("POST", TOKEN_URL))  # no nonce needed
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "DPoP-Nonce" not in response.headers
    token = json_of(response)["access_token"]
    refused = strict.credential(token, Holder(), scheme="Bearer")
    assert _error(refused, 401) == "invalid_token"
    assert refused.headers["WWW-Authenticate"].startswith("DPoP ")
    proof = key.dpop("POST", CREDENTIAL_URL, access_token=token)
    assert strict.credential(token, Holder(), proof).status_code == 200
