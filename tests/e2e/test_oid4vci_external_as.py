"""An external authorization server (OID4VCI_AUTHORIZATION_SERVER): a real one, panva's oidc-provider, issues
the access tokens, and the credential issuer accepts them at its credential, deferred and notification
endpoints, as RFC 9068 JWT access tokens checked against the server's JWKS or as opaque tokens it introspects
(RFC 7662). The token names the offer by the `issuer_state` the server copied into it.

Every token refused here is refused with 401 `invalid_token` and a `WWW-Authenticate` challenge; a server that
cannot be reached makes a 503, never a 500.
"""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.core.encoding import b64url_decode, b64url_encode, dumps, loads
from ec_issuer.fetching.authorization_server import HttpIntrospection, HttpJwks
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.oid4vci.errors import InvalidToken
from ec_issuer.oid4vci.external_tokens import ExternalTokenVerifier
from ec_issuer.storage.tables import outbox_events
from tests.conftest import json_of
from tests.e2e.authorization_server import AuthorizationServer, running_authorization_server
from tests.oid4vci_support import ISSUER_ID, Holder
from tests.support import SettableClock, award_body, make_settings

PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
CODE = "authorization_code"
CONFIGURATION = "OpenBadgeCredential_jwt_vc_json"


@pytest.fixture(scope="module")
def authorization_server() -> Iterator[AuthorizationServer]:
    with running_authorization_server() as server:
        yield server


@pytest.fixture
def container(
    database_url: str, tmp_path: Path, clock: SettableClock, authorization_server: AuthorizationServer
) -> Iterator[Container]:
    """A deployment whose authorization code flow runs at the external server (JWKS and introspection)."""
    settings = make_settings(
        database_url,
        tmp_path,
        oid4vci_authorization_server=authorization_server.settings(),
        oid4vci_deferred_notification_id=True,
    )
    built = build(settings, clock=clock)
    yield built
    built.engine.dispose()


class Wallet:
    def __init__(self, http: FlaskClient, auth: dict[str, str], server: AuthorizationServer) -> None:
        self.http = http
        self.auth = auth
        self.server = server

    def offer(self, grants: list[str] | None = None, **award_changes: Any) -> dict[str, Any]:
        award = award_body()
        del award["issuer"], award["recipient"]
        body = {"issuer": "acme", "awards": [{"credential": award, **award_changes}], "grants": grants or [CODE]}
        response = self.http.post("/api/v1/offers", json=body, headers=self.auth)
        assert response.status_code == 201, response.get_data(as_text=True)
        return json_of(response)

    def token_for(self, offer: dict[str, Any], client: str = "rs256", **changes: Any) -> str:
        """The external server's access token for the offer: its issuer_state, our issuer as the audience."""
        options: dict[str, Any] = {"issuer_state": issuer_state(offer), "resource": ISSUER_ID}
        options.update(changes)
        return self.server.token(client, **options)

    def nonce(self) -> str:
        return json_of(self.http.post("/issuers/acme/oid4vci/nonce"))["c_nonce"]

    def credential(self, token: str, body: dict[str, Any] | None = None) -> Any:
        body = body or {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [Holder().proof(self.nonce())]}}
        return self.http.post(
            "/issuers/acme/oid4vci/credential", json=body, headers={"Authorization": f"Bearer {token}"}
        )

    def state(self, offer: dict[str, Any]) -> str:
        return json_of(self.http.get(f"/api/v1/offers/{offer['id']}", headers=self.auth))["state"]


@pytest.fixture
def wallet(
    http: FlaskClient, issuer: Issuer, auth: dict[str, str], authorization_server: AuthorizationServer
) -> Wallet:
    return Wallet(http, auth, authorization_server)


def issuer_state(offer: dict[str, Any]) -> str:
    return offer["offer"]["grants"][CODE]["issuer_state"]


def refused(response: Any, scheme: str = "Bearer") -> str:
    """The error description of a 401 invalid_token answer with its challenge."""
    assert response.status_code == 401, response.get_data(as_text=True)
    body = json_of(response)
    assert body["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith(f'{scheme} error="invalid_token"')
    return body["error_description"]


def dpop_proof(holder: Holder, method: str, url: str, *, token: str | None = None, nonce: str | None = None) -> str:
    """A DPoP proof (RFC 9449 §4.2) by the holder's key for one request."""
    header = {"typ": "dpop+jwt", "alg": holder.alg, "jwk": holder.jwk}
    claims: dict[str, Any] = {"htm": method, "htu": url, "iat": int(time.time()), "jti": str(uuid.uuid4())}
    if token is not None:
        claims["ath"] = b64url_encode(hashlib.sha256(token.encode()).digest())
    if nonce is not None:
        claims["nonce"] = nonce
    signing_input = f"{b64url_encode(dumps(header))}.{b64url_encode(dumps(claims))}"
    return f"{signing_input}.{b64url_encode(holder.sign(signing_input.encode()))}"


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return loads(b64url_decode(header)), loads(b64url_decode(payload)), signature


def jwt_of(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    return f"{b64url_encode(dumps(header))}.{b64url_encode(dumps(payload))}.{signature}"


def event_types(container: Container, offer_id: str) -> list[str]:
    with container.engine.connect() as connection:
        types = connection.execute(
            select(outbox_events.c.type).where(outbox_events.c.subject == offer_id).order_by(outbox_events.c.seq)
        ).scalars()
        return [kind.removeprefix("org.ec-issuer.") for kind in types]


# --- metadata and offers --------------------------------------------------------------------------------


def test_metadata_names_both_servers_and_each_grant_names_its_own(
    wallet: Wallet, authorization_server: AuthorizationServer
) -> None:
    metadata = json_of(wallet.http.get("/.well-known/openid-credential-issuer/issuers/acme"))
    assert metadata["authorization_servers"] == [ISSUER_ID, authorization_server.issuer]
    assert metadata["credential_issuer"] == ISSUER_ID
    # The metadata of the built-in server stays ours: the pre-authorized code only.
    ours = json_of(wallet.http.get("/.well-known/oauth-authorization-server/issuers/acme"))
    assert ours["issuer"] == ISSUER_ID
    assert ours["grant_types_supported"] == [PRE_AUTH]
    assert "authorization_endpoint" not in ours and "pushed_authorization_request_endpoint" not in ours

    offer = wallet.offer(["pre-authorized_code", "authorization_code"])
    grants = offer["offer"]["grants"]
    assert grants[CODE]["authorization_server"] == authorization_server.issuer
    assert grants[CODE]["issuer_state"].startswith(offer["id"] + ".")
    assert grants[PRE_AUTH]["authorization_server"] == ISSUER_ID
    by_reference = json_of(wallet.http.get("/issuers/acme/oid4vci/offers/" + offer["offerUri"].rsplit("/", 1)[1]))
    assert by_reference == offer["offer"]

    # The built-in server no longer authorizes by issuer_state: that would skip the external server's login.
    pushed = wallet.http.post(
        "/issuers/acme/oid4vci/par",
        data={
            "response_type": "code",
            "client_id": "wallet",
            "redirect_uri": "https://wallet.example/cb",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "issuer_state": grants[CODE]["issuer_state"],
        },
    )
    assert pushed.status_code == 400 and json_of(pushed)["error"] == "access_denied"


# --- accepted tokens --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("client", "alg"), [("rs256", "RS256"), ("es256", "ES256"), ("eddsa", "EdDSA")])
def test_a_jwt_access_token_of_the_external_server_gets_the_credential(
    wallet: Wallet, container: Container, client: str, alg: str
) -> None:
    offer = wallet.offer()
    token = wallet.token_for(offer, client)
    header, claims, _ = jwt_parts(token)
    assert header["typ"] == "at+jwt" and header["alg"] == alg
    assert claims["aud"] == ISSUER_ID and claims["issuer_state"] == issuer_state(offer)

    response = wallet.credential(token)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = json_of(response)
    assert len(answer["credentials"]) == 1
    assert wallet.state(offer) == "credential_issued"
    # The same token serves further requests, and the notification endpoint.
    assert wallet.credential(token).status_code == 200
    notified = wallet.http.post(
        "/issuers/acme/oid4vci/notification",
        json={"notification_id": answer["notification_id"], "event": "credential_accepted"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert notified.status_code == 204, notified.get_data(as_text=True)
    assert wallet.state(offer) == "notified"
    assert event_types(container, offer["id"]) == [
        "offer.created",
        "offer.redeemed",
        "offer.delivered",
        "offer.delivered",
        "offer.notified",
    ]


def test_the_first_use_of_a_token_redeems_the_offer(wallet: Wallet, container: Container) -> None:
    offer = wallet.offer()
    assert wallet.state(offer) == "created"
    token = wallet.token_for(offer)
    no_proof = wallet.credential(token, {"credential_configuration_id": CONFIGURATION})
    assert json_of(no_proof)["error"] == "invalid_proof"  # the token was good; the request was not
    assert wallet.state(offer) == "token_issued"
    assert event_types(container, offer["id"]) == ["offer.created", "offer.redeemed"]


def test_an_opaque_access_token_is_introspected(wallet: Wallet) -> None:
    offer = wallet.offer()
    token = wallet.token_for(offer, "opaque")
    assert token.count(".") == 0  # not a JWT
    response = wallet.credential(token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert wallet.state(offer) == "credential_issued"


def test_a_deferred_award_is_picked_up_with_the_external_token(wallet: Wallet) -> None:
    offer = wallet.offer(deferred=True)
    token = wallet.token_for(offer, "es256")
    waiting = wallet.credential(token)
    assert waiting.status_code == 202, waiting.get_data(as_text=True)
    transaction = json_of(waiting)["transaction_id"]
    released = wallet.http.post(f"/api/v1/offers/{offer['id']}/release", headers=wallet.auth)
    assert released.status_code == 200
    picked_up = wallet.http.post(
        "/issuers/acme/oid4vci/deferred",
        json={"transaction_id": transaction},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert picked_up.status_code == 200, picked_up.get_data(as_text=True)
    assert len(json_of(picked_up)["credentials"]) == 1


def test_the_offer_stays_with_whoever_redeemed_it(wallet: Wallet) -> None:
    offer = wallet.offer()
    assert wallet.credential(wallet.token_for(offer, "rs256")).status_code == 200
    # A later token for the same client and subject (a refreshed one, say) still works...
    assert wallet.credential(wallet.token_for(offer, "rs256")).status_code == 200
    # ...but another login cannot take an offer that was redeemed already.
    assert "already been redeemed" in refused(wallet.credential(wallet.token_for(offer, "es256")))


def test_our_own_tokens_keep_working_beside_the_external_server(wallet: Wallet) -> None:
    offer = wallet.offer(["pre-authorized_code"])
    code = offer["offer"]["grants"][PRE_AUTH]["pre-authorized_code"]
    token = wallet.http.post("/issuers/acme/oid4vci/token", data={"grant_type": PRE_AUTH, "pre-authorized_code": code})
    assert token.status_code == 200
    response = wallet.credential(json_of(token)["access_token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    # An offer redeemed with our pre-authorized code cannot be redeemed again through the external server.
    both = wallet.offer(["pre-authorized_code", "authorization_code"])
    code = both["offer"]["grants"][PRE_AUTH]["pre-authorized_code"]
    assert (
        wallet.http.post(
            "/issuers/acme/oid4vci/token", data={"grant_type": PRE_AUTH, "pre-authorized_code": code}
        ).status_code
        == 200
    )
    assert "already been redeemed" in refused(wallet.credential(wallet.token_for(both)))


@pytest.mark.parametrize("client", ["es256", "opaque"])
def test_a_dpop_bound_token_needs_a_proof_by_its_key(
    wallet: Wallet, authorization_server: AuthorizationServer, client: str
) -> None:
    offer = wallet.offer()
    key = Holder()
    bound = wallet.token_for(offer, client, dpop=dpop_proof(key, "POST", authorization_server.token_endpoints["main"]))
    assert "DPoP-bound" in refused(wallet.credential(bound), "DPoP")  # as a bearer token: refused
    url = ISSUER_ID + "/oid4vci/credential"

    def with_proof(holder: Holder) -> Any:
        body = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [Holder().proof(wallet.nonce())]}}

        def send(nonce: str | None) -> Any:
            proof = dpop_proof(holder, "POST", url, token=bound, nonce=nonce)
            headers = {"Authorization": f"DPoP {bound}", "DPoP": proof}
            return wallet.http.post("/issuers/acme/oid4vci/credential", json=body, headers=headers)

        response = send(None)
        if response.status_code == 401 and json_of(response)["error"] == "use_dpop_nonce":
            response = send(response.headers["DPoP-Nonce"])  # the server wants its nonce in the proof
        return response

    assert "not bound to the key" in refused(with_proof(Holder()), "DPoP")
    response = with_proof(key)
    assert response.status_code == 200, response.get_data(as_text=True)


# --- refused tokens ---------------------------------------------------------------------------------------


def _altered(token: str, **claims: Any) -> str:
    header, payload, signature = jwt_parts(token)
    return jwt_of(header, {**payload, **claims}, signature)


def _with_header(token: str, **members: Any) -> str:
    header, payload, signature = jwt_parts(token)
    return jwt_of({**header, **members}, payload, signature)


def _unsigned(token: str) -> str:
    _, payload, _ = jwt_parts(token)
    return jwt_of({"alg": "none", "typ": "at+jwt"}, payload, "")


_SIGNATURE = "signature does not verify"
_ALG = "alg must be one of"
_NOT_ACTIVE = "not active"
_NO_OFFER = "names no offer"
REFUSALS: dict[str, tuple[Callable[[Wallet, dict[str, Any]], str], str]] = {
    "wrong aud": (lambda w, o: w.token_for(o, resource="https://issuer.test/issuers/other"), "aud must include"),
    "no aud (opaque, introspected)": (lambda w, o: w.token_for(o, "opaque", resource=None), "aud must include"),
    "wrong iss (signed with the server's keys)": (lambda w, o: w.token_for(o, server="mirror"), "not issued by"),
    "signed by another key, claiming the server's iss": (lambda w, o: w.token_for(o, server="impostor"), _SIGNATURE),
    "payload altered after signing": (lambda w, o: _altered(w.token_for(o), sub="someone-else"), _SIGNATURE),
    "alg none": (lambda w, o: _unsigned(w.token_for(o)), _ALG),
    "alg HS256": (lambda w, o: _with_header(w.token_for(o), alg="HS256"), _ALG),
    "typ JWT, not at+jwt (introspected)": (lambda w, o: _with_header(w.token_for(o), typ="JWT"), _NOT_ACTIVE),
    "unknown opaque token": (lambda w, o: "x" * 43, _NOT_ACTIVE),
    "no issuer_state": (lambda w, o: w.token_for(o, issuer_state=None), "carries no issuer_state"),
    "unknown issuer_state": (lambda w, o: w.token_for(o, issuer_state="no-such-offer.AAAA"), _NO_OFFER),
    "tampered issuer_state": (lambda w, o: w.token_for(o, issuer_state=_tampered(issuer_state(o))), _NO_OFFER),
    "issuer_state of a pre-authorized offer": (
        lambda w, o: w.token_for(
            o, issuer_state=w.offer(["pre-authorized_code"])["id"] + "." + issuer_state(o).split(".", 1)[1]
        ),
        _NO_OFFER,
    ),
}


def _tampered(state: str) -> str:
    return state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")


@pytest.mark.parametrize("case", list(REFUSALS))
def test_tokens_that_are_refused(wallet: Wallet, case: str) -> None:
    offer = wallet.offer()
    make, reason = REFUSALS[case]
    assert reason in refused(wallet.credential(make(wallet, offer)))
    assert wallet.state(offer) == "created"  # nothing was redeemed


def test_an_expired_token_is_refused(wallet: Wallet, clock: SettableClock) -> None:
    jwt_offer, opaque_offer = wallet.offer(), wallet.offer()
    jwt, opaque = wallet.token_for(jwt_offer), wallet.token_for(opaque_offer, "opaque")
    clock.advance(timedelta(seconds=300 + 31))  # the server's 5 minutes and our 30 s of leeway
    assert "expired" in refused(wallet.credential(jwt))
    assert "expired" in refused(wallet.credential(opaque))


def test_an_unreachable_authorization_server_is_a_503(
    database_url: str, tmp_path: Path, clock: SettableClock, authorization_server: AuthorizationServer
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    settings = authorization_server.settings(jwks_url=f"{closed}/jwks", introspection_endpoint=f"{closed}/introspect")
    container = build(make_settings(database_url, tmp_path, oid4vci_authorization_server=settings), clock=clock)
    try:
        acme = container.issuers.create(CreateIssuer(slug="acme", name="ACME", url="https://acme.example"))
        container.keys.generate(acme, Algorithm.ES256)
        admin = "external-as-admin-token-" + "x" * 32
        container.access.ensure_bootstrap_client(admin)
        app = create_app(container)
        app.testing = False
        wallet = Wallet(app.test_client(), {"Authorization": f"Bearer {admin}"}, authorization_server)
        offer = wallet.offer()
        for token in (wallet.token_for(offer), wallet.token_for(offer, "opaque")):
            response = wallet.credential(token)
            assert response.status_code == 503, response.get_data(as_text=True)
            assert json_of(response)["error"] == "temporarily_unavailable"
            assert response.headers["Cache-Control"] == "no-store"
        assert wallet.state(offer) == "created"
    finally:
        container.engine.dispose()


# --- caches -----------------------------------------------------------------------------------------------


class CountingTransport(httpx.BaseTransport):
    """Real HTTP to the authorization server, counting the requests."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        with httpx.HTTPTransport() as transport:
            response = transport.handle_request(request)
            response.read()
            return httpx.Response(response.status_code, headers=response.headers, content=response.content)


def test_keys_are_fetched_once_then_again_only_for_a_new_kid_and_not_on_every_request(
    authorization_server: AuthorizationServer, clock: SettableClock
) -> None:
    counting = CountingTransport()
    verifier = ExternalTokenVerifier(
        authorization_server.issuer,
        clock,
        jwks=HttpJwks(authorization_server.jwks_uri, clock, max_age=timedelta(minutes=2), transport=counting),
    )
    valid = authorization_server.token("es256", issuer_state="s", resource=ISSUER_ID)
    stranger = authorization_server.token("es256", issuer_state="s", resource=ISSUER_ID, server="impostor")
    for _ in range(3):
        assert verifier.grant_of(valid, ISSUER_ID).issuer_state == "s"
    assert len(counting.requests) == 1
    for _ in range(3):  # an unknown kid, but the keys were fetched a moment ago: not again
        with pytest.raises(InvalidToken):
            verifier.grant_of(stranger, ISSUER_ID)
    assert len(counting.requests) == 1
    clock.advance(timedelta(seconds=61))
    for _ in range(3):  # a minute on: fetched again once (a key the server rotated in?), then not for a minute
        with pytest.raises(InvalidToken):
            verifier.grant_of(stranger, ISSUER_ID)
    assert len(counting.requests) == 2
    clock.advance(timedelta(minutes=2))  # the key set is old (max_age): fetched again, once
    another = authorization_server.token("rs256", issuer_state="s", resource=ISSUER_ID)
    for _ in range(3):
        assert verifier.grant_of(another, ISSUER_ID).client_id == "rs256"
    assert counting.requests == ["/jwks"] * 3


def test_introspection_answers_are_kept_briefly(
    authorization_server: AuthorizationServer, clock: SettableClock
) -> None:
    counting = CountingTransport()
    introspection = HttpIntrospection(
        authorization_server.introspection_endpoint,
        "issuer",
        authorization_server.client_secret,
        clock,
        cache_seconds=30,
        transport=counting,
    )
    verifier = ExternalTokenVerifier(authorization_server.issuer, clock, introspection=introspection)
    token = authorization_server.token("opaque", issuer_state="s", resource=ISSUER_ID)
    for _ in range(3):
        assert verifier.grant_of(token, ISSUER_ID).client_id == "opaque"
    assert len(counting.requests) == 1
    clock.advance(timedelta(seconds=31))
    assert verifier.grant_of(token, ISSUER_ID).client_id == "opaque"
    assert len(counting.requests) == 2
