"""The key lifecycle in the domain: one active key per issuer and algorithm, rotation keeps old keys
published, revocation unpublishes for good, did:key issuers are their one key."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from ec_issuer.core.encoding import b64url_encode
from ec_issuer.core.errors import Conflict, InvalidInput, NotFound
from ec_issuer.issuers.commands import CreateIssuer, DidKeyOptions
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.did_key import did_key_for, jwk_from_did_key, verification_method_id
from ec_issuer.keys.model import Algorithm, KeyState
from ec_issuer.keys.publishing import did_document, jwk_set
from ec_issuer.keys.service import NewKey
from tests.fakes import FakeServices, fake_services

EDDSA_VECTORS = Path(__file__).parents[1] / "fixtures" / "vc-di-eddsa"


@pytest.fixture
def services() -> FakeServices:
    return fake_services()


@pytest.fixture
def issuer(services: FakeServices) -> Issuer:
    return services.issuers.create(CreateIssuer(slug="acme", name="ACME University"))


def later(services: FakeServices, days: int = 1) -> None:
    services.clock.set(services.clock.now() + timedelta(days=days))


def states(services: FakeServices) -> dict[str, KeyState]:
    return {key.kid: key.state for key in services.keys.for_issuer("acme")}


def test_the_first_key_of_an_algorithm_signs_and_later_ones_wait(services: FakeServices, issuer: Issuer) -> None:
    first = services.keys.generate(issuer, Algorithm.ES256)
    other_algorithm = services.keys.generate(issuer, Algorithm.EDDSA)
    second = services.keys.generate(issuer, Algorithm.ES256)

    assert (first.state, other_algorithm.state, second.state) == (KeyState.ACTIVE, KeyState.ACTIVE, KeyState.PENDING)
    assert first.activated_at == services.clock.now()
    assert second.activated_at is None
    # Pending keys are published ahead of use, so verifiers caching the key set already know them.
    published = [k["kid"] for k in jwk_set(services.keys.for_issuer("acme"))["keys"]]
    assert second.kid in published


def test_rotation_retires_the_signer_and_keeps_it_published(services: FakeServices, issuer: Issuer) -> None:
    old = services.keys.generate(issuer, Algorithm.ES256)
    later(services)
    new = services.keys.rotate(issuer, Algorithm.ES256)

    assert states(services) == {old.kid: KeyState.RETIRED, new.kid: KeyState.ACTIVE}
    [retired] = [k for k in services.keys.for_issuer("acme") if k.kid == old.kid]
    assert retired.retired_at == services.clock.now()
    assert retired.created_at == services.clock.now() - timedelta(days=1)
    document = did_document(issuer, services.keys.for_issuer("acme"))
    assert document["assertionMethod"] == [old.kid, new.kid]


def test_activating_a_pending_key_retires_the_current_one(services: FakeServices, issuer: Issuer) -> None:
    current = services.keys.generate(issuer, Algorithm.ES256)
    waiting = services.keys.generate(issuer, Algorithm.ES256)

    activated = services.keys.activate(issuer, waiting.fragment)

    assert activated.state is KeyState.ACTIVE
    assert states(services) == {current.kid: KeyState.RETIRED, waiting.kid: KeyState.ACTIVE}
    assert services.keys.activate(issuer, waiting.kid) == activated  # by full kid too; a no-op when active


def test_a_retired_key_can_sign_again_when_activated(services: FakeServices, issuer: Issuer) -> None:
    old = services.keys.generate(issuer, Algorithm.ES256)
    new = services.keys.rotate(issuer, Algorithm.ES256)

    services.keys.activate(issuer, old.fragment)

    assert states(services) == {old.kid: KeyState.ACTIVE, new.kid: KeyState.RETIRED}


def test_retiring_the_signer_leaves_the_algorithm_without_one(services: FakeServices, issuer: Issuer) -> None:
    key = services.keys.generate(issuer, Algorithm.EDDSA)
    retired = services.keys.retire(issuer, key.fragment)

    assert retired.state is KeyState.RETIRED
    assert services.keys.retire(issuer, key.fragment) == retired  # retiring twice changes nothing
    nothing = services.keys.generate(issuer, Algorithm.EDDSA)
    assert nothing.state is KeyState.ACTIVE  # with no active EdDSA key, the next one signs at once


def test_revocation_unpublishes_for_good(services: FakeServices, issuer: Issuer) -> None:
    key = services.keys.generate(issuer, Algorithm.ES256)
    revoked = services.keys.revoke(issuer, key.fragment, "key file leaked")

    assert (revoked.state, revoked.revocation_reason, revoked.revoked_at) == (
        KeyState.REVOKED,
        "key file leaked",
        services.clock.now(),
    )
    assert jwk_set(services.keys.for_issuer("acme")) == {"keys": []}
    assert did_document(issuer, services.keys.for_issuer("acme"))["verificationMethod"] == []
    for change in (services.keys.activate, services.keys.retire):
        with pytest.raises(Conflict, match="revoked"):
            change(issuer, key.fragment)
    assert services.keys.revoke(issuer, key.fragment, "again") == revoked  # the first record stands


def test_keys_are_found_only_within_their_issuer(services: FakeServices, issuer: Issuer) -> None:
    other = services.issuers.create(CreateIssuer(slug="other", name="Other"))
    theirs = services.keys.generate(other, Algorithm.ES256)

    for key_id in ("no-such-fragment", theirs.kid, theirs.fragment):
        with pytest.raises(NotFound):
            services.keys.retire(issuer, key_id)
    assert states(services) == {}


def test_an_unconfigured_backend_is_named(services: FakeServices, issuer: Issuer) -> None:
    with pytest.raises(InvalidInput) as raised:
        services.keys.add(issuer, NewKey(Algorithm.ES256, custody="pkcs11"))
    assert [e.pointer for e in raised.value.errors] == ["/backend"]
    assert "memory" in raised.value.errors[0].detail


# ------------------------------------------------------------------------------------------ did:key


def test_a_did_key_issuer_is_its_key(services: FakeServices) -> None:
    issuer = services.issuers.create(
        CreateIssuer(slug="solo", name="Solo Tutor", didKey=DidKeyOptions(algorithm="EdDSA"))
    )
    [key] = services.keys.for_issuer("solo")

    assert issuer.did.startswith("did:key:z6Mk")
    assert not issuer.uses_did_web
    assert key.kid == verification_method_id(issuer.did) == f"{issuer.did}#{issuer.did.removeprefix('did:key:')}"
    assert key.state is KeyState.ACTIVE
    assert jwk_from_did_key(key.kid) == key.public_jwk
    with pytest.raises(Conflict, match="did:key"):
        services.keys.rotate(issuer, Algorithm.EDDSA)
    with pytest.raises(Conflict, match="did:key"):
        services.keys.generate(issuer, Algorithm.ES256)


def test_a_p256_did_key_starts_zdn_and_round_trips(services: FakeServices) -> None:
    issuer = services.issuers.create(CreateIssuer(slug="p256", name="P-256", didKey=DidKeyOptions(algorithm="ES256")))
    [key] = services.keys.for_issuer("p256")

    assert issuer.did.startswith("did:key:zDn")
    assert did_key_for(jwk_from_did_key(issuer.did)) == issuer.did
    assert jwk_from_did_key(issuer.did) == key.public_jwk


def test_did_key_matches_the_w3c_eddsa_test_vector_key() -> None:
    """The vc-di-eddsa vectors publish one key pair as multibase: derive its did:key independently."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pair = json.loads((EDDSA_VECTORS / "keyPair.json").read_text())
    secret = _base58_decode(pair["privateKeyMultibase"].removeprefix("z"))
    assert secret[:2] == bytes([0x80, 0x26])  # multicodec ed25519-priv
    public = ed25519.Ed25519PrivateKey.from_private_bytes(secret[2:]).public_key()
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw))}

    assert did_key_for(jwk) == "did:key:" + pair["publicKeyMultibase"]
    assert jwk_from_did_key("did:key:" + pair["publicKeyMultibase"]) == jwk


@pytest.mark.parametrize("text", ["did:key:z6Mk0OIl", "did:key:f1234", "did:web:example.com", "did:key:z3u2en7t5LR"])
def test_malformed_did_keys_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        jwk_from_did_key(text)


def _base58_decode(text: str) -> bytes:
    # Written independently of ec_issuer.keys.did_key so that the vector test checks it.
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number = 0
    for char in text:
        number = number * 58 + alphabet.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body
