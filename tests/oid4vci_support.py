"""OID4VCI in tests without a wallet library: a holder key whose proofs can be broken one way at a time, and an
offer taken all the way through (for tests that need a row in every table)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ec_issuer.access.model import ApiClient
from ec_issuer.bootstrap import Container, build
from ec_issuer.core.encoding import b64url_encode, dumps
from ec_issuer.keys.jwk import public_jwk
from ec_issuer.oid4vci.commands import CreateOffer
from ec_issuer.oid4vci.dpop_binding import PresentedToken
from ec_issuer.oid4vci.model import PRE_AUTHORIZED_GRANT
from ec_issuer.oid4vci.template_commands import parse_template
from tests.agent_stub import agent_settings, running_agent
from tests.support import award_body

ISSUER_ID = "https://issuer.test/issuers/acme"  # ISSUER_BASE_URL of tests.support.make_settings, issuer acme
TEMPLATE_ID = "python-101"  # the credential template redeem_an_offer publishes


class Holder:
    """A wallet key: P-256 (ES256) or Ed25519 (EdDSA), signing openid4vci-proof+jwt proofs."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = (
            ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" else ed25519.Ed25519PrivateKey.generate()
        )
        self.jwk = public_jwk(self.key.public_key())

    def proof(self, nonce: str | None, *, without_jwk: bool = False, audience: str = ISSUER_ID, **changes: Any) -> str:
        header: dict[str, Any] = {"alg": self.alg, "typ": "openid4vci-proof+jwt", "jwk": self.jwk}
        if without_jwk:
            del header["jwk"]
        header.update(changes.pop("header", {}))
        claims: dict[str, Any] = {"aud": audience, "iat": int(time.time())}
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(changes)
        signing_input = f"{b64url_encode(dumps(header))}.{b64url_encode(dumps(claims))}"
        return f"{signing_input}.{b64url_encode(self.sign(signing_input.encode()))}"

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(data)
        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def redeem_an_offer(container: Container, client: ApiClient, issuer_slug: str = "acme") -> None:
    """An offer (with a transaction code) taken all the way: token, a credential delivered, a deferred one
    waiting, used nonces; and an offer from a credential template by authorization code, authorized."""
    award = {k: v for k, v in award_body().items() if k not in ("issuer", "recipient")}
    issuer = container.issuers.get(issuer_slug)
    assert issuer is not None
    template = parse_template({"achievement": award["achievement"], "display": [{"name": "Python 101"}]})
    container.templates.publish(client, issuer, TEMPLATE_ID, template)
    command = CreateOffer.model_validate(
        {
            "issuer": issuer_slug,
            "awards": [{"credential": award}, {"credential": award, "deferred": True}],
            "tx_code": {},
        }
    )
    made = container.oid4vci.create_offer(client, command)
    code = made.document["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code, "tx_code": made.tx_code or ""}
    access = container.oid4vci.exchange(issuer_slug, form)["access_token"]
    audience = container.oid4vci.endpoints.issuer_id(issuer_slug)
    for award_ref in made.offer.awards:
        proof = Holder().proof(container.oid4vci.new_nonce(), audience=audience)
        request = {"credential_identifier": award_ref.id, "proofs": {"jwt": [proof]}}
        container.oid4vci.request_credential(issuer_slug, PresentedToken(access, "bearer"), request)
    # A second offer through the authorization code flow, as far as the code: a pushed request row.
    by_code = CreateOffer.model_validate(
        {"issuer": issuer_slug, "awards": [{"template": TEMPLATE_ID}], "grants": ["authorization_code"]}
    )
    second = container.oid4vci.create_offer(client, by_code)
    pushed = container.oid4vci.push_authorization_request(
        issuer_slug,
        {
            "response_type": "code",
            "client_id": "wallet",
            "redirect_uri": "https://wallet.example/cb",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "issuer_state": second.document["grants"]["authorization_code"]["issuer_state"],
        },
    )
    container.oid4vci.authorize(issuer_slug, {"client_id": "wallet", "request_uri": pushed["request_uri"]})


def hand_an_offer_to_an_agent(container: Container, client: ApiClient, issuer_slug: str = "acme") -> None:
    """An offer made through the external agent adapter (against the local stub), on the container's database,
    then signed by the agent as its events report: a row in each of the agent tables."""
    with running_agent() as stub:
        agent = build(replace(container.settings, ssi_agent=agent_settings(stub.url)), clock=container.clock)
        try:
            award = {k: v for k, v in award_body().items() if k not in ("issuer", "recipient")}
            command = CreateOffer.model_validate({"issuer": issuer_slug, "awards": [{"credential": award}]})
            agent.offers.create_offer(client, command)
            assert agent.agent_events is not None
            [credential_id] = stub.credentials
            agent.agent_events.receive({"SignedCredentialCreated": {"credential_id": credential_id}})
        finally:
            agent.engine.dispose()
