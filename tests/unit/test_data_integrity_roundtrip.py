"""Issuing and verifying Data Integrity proofs: eddsa-rdfc-2022 (EdDSA keys) and ecdsa-rdfc-2019 (ES256
keys), with did:key and did:web verification methods, proof sets and previousProof chains.

Keys live in a small in-memory `KeyCustody` that signs exactly as the port promises (raw Ed25519
signatures, raw r||s for ES256), so these tests exercise what a real backend would be handed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ec_issuer.core.errors import InvalidInput
from ec_issuer.credentials.commands import IssueCredential
from ec_issuer.credentials.ob3 import build_achievement_credential
from ec_issuer.credentials.recipient import RecipientReferencer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.did_key import did_key_for, verification_method_id
from ec_issuer.keys.jwk import public_jwk, thumbprint
from ec_issuer.keys.model import Algorithm, GeneratedKey, SigningKey
from ec_issuer.keys.resolution import ResolvedKey, StaticKeyResolver
from ec_issuer.signing.data_integrity import hashing
from ec_issuer.signing.data_integrity.multibase import decode_base58btc, encode_base58btc
from ec_issuer.signing.data_integrity.signer import add_proof
from ec_issuer.signing.data_integrity.verifier import DataIntegrityVerifier
from tests.support import award_body

CREATED = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
DID_WEB = "did:web:issuer.test:issuers:acme"
SUITES = {Algorithm.EDDSA: "eddsa-rdfc-2022", Algorithm.ES256: "ecdsa-rdfc-2019"}


class MemoryKeyCustody:
    name = "memory"

    def __init__(self) -> None:
        self._keys: dict[str, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey] = {}
        self.signed: list[bytes] = []

    def generate(self, algorithm: Algorithm) -> GeneratedKey:
        private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
        if algorithm is Algorithm.EDDSA:
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            private = ec.generate_private_key(ec.SECP256R1())
        ref = f"key-{len(self._keys)}"
        self._keys[ref] = private
        return GeneratedKey(ref, public_jwk(private.public_key()))

    def import_key(self, algorithm: Algorithm, material: str) -> GeneratedKey:
        raise NotImplementedError

    def sign(self, key_ref: str, algorithm: Algorithm, data: bytes) -> bytes:
        self.signed.append(data)
        private = self._keys[key_ref]
        if isinstance(private, ed25519.Ed25519PrivateKey):
            return private.sign(data)
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def sign_many(self, key_ref: str, algorithm: Algorithm, items: Sequence[bytes]) -> list[bytes]:
        return [self.sign(key_ref, algorithm, item) for item in items]

    def check(self) -> None:
        return None


class Setup:
    """An issuer, its key and a resolver that knows the key the way a verifier would."""

    def __init__(self, algorithm: Algorithm, method: str) -> None:
        self.custody = MemoryKeyCustody()
        generated = self.custody.generate(algorithm)
        self.resolver = StaticKeyResolver()
        if method == "did:key":
            did = did_key_for(generated.public_jwk)
            kid = verification_method_id(did)  # resolved from the identifier itself
        else:
            did = DID_WEB
            kid = f"{did}#{thumbprint(generated.public_jwk)}"
            self.resolver.add_jwk(kid, generated.public_jwk, controller=did)  # as from the did:web document
        self.key = SigningKey(kid, "acme", algorithm, generated.public_jwk, "memory", generated.key_ref)
        self.issuer = Issuer(slug="acme", did=did, name="Acme Academy", url="https://acme.example")

    def credential(self) -> dict[str, Any]:
        return build_achievement_credential(
            IssueCredential.model_validate(award_body()),
            issuer=self.issuer,
            credential_id="urn:uuid:8f0c4c1e-2f5b-4a36-9f0e-0c1b8e3c2a11",
            valid_from=datetime(2026, 1, 1, tzinfo=UTC),
            recipient=RecipientReferencer(b"k" * 32).email_identity("learner@example.org"),
        )

    def sign(self, document: dict[str, Any], **options: Any) -> dict[str, Any]:
        return add_proof(document, self.key, self.custody, created=CREATED, **options)

    def verifier(self) -> DataIntegrityVerifier:
        return DataIntegrityVerifier(self.resolver)


CASES = [
    pytest.param(algorithm, method, id=f"{SUITES[algorithm]}-{method}")
    for algorithm in (Algorithm.EDDSA, Algorithm.ES256)
    for method in ("did:key", "did:web")
]


@pytest.mark.parametrize(("algorithm", "method"), CASES)
def test_issue_and_verify(algorithm: Algorithm, method: str) -> None:
    setup = Setup(algorithm, method)
    unsigned = setup.credential()
    signed = setup.sign(unsigned)

    [proof] = signed["proof"]
    assert proof == {
        "type": "DataIntegrityProof",
        "cryptosuite": SUITES[algorithm],
        "created": "2026-03-01T12:30:15Z",
        "verificationMethod": setup.key.kid,
        "proofPurpose": "assertionMethod",
        "proofValue": proof["proofValue"],
    }
    assert len(decode_base58btc(proof["proofValue"])) == 64  # raw signature (r||s for ECDSA), not DER
    assert setup.custody.signed and all(len(data) == 64 for data in setup.custody.signed)
    assert "proof" not in unsigned  # the input is left alone
    result = setup.verifier().verify(signed)
    assert result.verified, result.errors
    assert result.proofs[0].cryptosuite == SUITES[algorithm]


@pytest.mark.parametrize(("algorithm", "method"), CASES)
def test_tampered_document_fails(algorithm: Algorithm, method: str) -> None:
    setup = Setup(algorithm, method)
    signed = setup.sign(setup.credential())
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["achievement"]["name"] = "Python 901"
    result = setup.verifier().verify(tampered)
    assert not result.verified
    assert "signature does not match" in result.errors[0]


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("created", "2026-03-02T12:30:15Z"),
        ("proofPurpose", "authentication"),
        ("cryptosuite", "eddsa-jcs-2022"),
        ("proofValue", "z" + "1" * 10),
        ("proofValue", "u" + "A" * 86),
    ],
)
def test_tampered_proof_fails(member: str, value: str) -> None:
    setup = Setup(Algorithm.EDDSA, "did:web")
    signed = setup.sign(setup.credential())
    signed["proof"][0][member] = value
    assert not setup.verifier().verify(signed).verified


def test_a_flipped_signature_bit_fails() -> None:
    setup = Setup(Algorithm.ES256, "did:web")
    signed = setup.sign(setup.credential())
    signature = bytearray(decode_base58btc(signed["proof"][0]["proofValue"]))
    signature[10] ^= 1
    signed["proof"][0]["proofValue"] = encode_base58btc(bytes(signature))
    assert not setup.verifier().verify(signed).verified


def test_a_key_of_another_issuer_fails() -> None:
    setup = Setup(Algorithm.EDDSA, "did:web")
    signed = setup.sign(setup.credential())
    signed["issuer"]["id"] = "did:web:other.test"
    result = setup.verifier().verify(signed)
    assert not result.verified
    assert "not by the issuer" in result.errors[0]


def test_a_revoked_key_fails() -> None:
    setup = Setup(Algorithm.EDDSA, "did:web")
    signed = setup.sign(setup.credential())

    class Revoked:
        def resolve(self, kid: str) -> ResolvedKey | None:
            return ResolvedKey(setup.key.public_jwk, DID_WEB, revoked=True)

    assert "revoked" in DataIntegrityVerifier(Revoked()).verify(signed).errors[0]


def test_an_expired_proof_fails_when_a_time_is_given() -> None:
    setup = Setup(Algorithm.EDDSA, "did:key")
    signed = setup.sign(setup.credential())
    signed["proof"][0]["expires"] = "2026-04-01T00:00:00Z"  # breaks the signature too; checked first
    result = setup.verifier().verify(signed, now=datetime(2026, 5, 1, tzinfo=UTC))
    assert result.errors == ["proof 0: the proof has expired"]


def test_signing_requires_the_issuer_to_control_the_key() -> None:
    setup = Setup(Algorithm.EDDSA, "did:web")
    document = setup.credential()
    document["issuer"]["id"] = "did:web:other.test"
    with pytest.raises(InvalidInput) as caught:
        setup.sign(document)
    assert caught.value.errors[0].pointer == "/issuer/id"


def test_signing_refuses_what_safe_mode_refuses() -> None:
    setup = Setup(Algorithm.ES256, "did:key")
    document = setup.credential()
    document["credentialSubject"]["nickname"] = "Py"
    with pytest.raises(InvalidInput) as caught:
        setup.sign(document)
    assert [e.pointer for e in caught.value.errors] == ["/credentialSubject/nickname"]
    assert setup.custody.signed == []  # nothing reached the key


def test_proof_set_of_both_suites_verifies() -> None:
    eddsa = Setup(Algorithm.EDDSA, "did:web")
    es256 = Setup(Algorithm.ES256, "did:web")
    resolver = eddsa.resolver
    resolver.add_jwk(es256.key.kid, es256.key.public_jwk, controller=DID_WEB)
    signed = add_proof(eddsa.sign(eddsa.credential()), es256.key, es256.custody, created=CREATED)
    assert [p["cryptosuite"] for p in signed["proof"]] == ["eddsa-rdfc-2022", "ecdsa-rdfc-2019"]
    result = DataIntegrityVerifier(resolver).verify(signed)
    assert result.verified, result.errors
    assert [p.verified for p in result.proofs] == [True, True]
    # Each proof of a set signs the document without the others: dropping one leaves the other valid.
    assert DataIntegrityVerifier(resolver).verify({**signed, "proof": [signed["proof"][1]]}).verified


def test_previous_proof_chain_verifies() -> None:
    setup = Setup(Algorithm.EDDSA, "did:web")
    first = setup.sign(setup.credential(), proof_id="urn:uuid:proof-1")
    chained = setup.sign(first, proof_id="urn:uuid:proof-2", previous_proof="urn:uuid:proof-1")
    assert chained["proof"][1]["previousProof"] == "urn:uuid:proof-1"
    result = setup.verifier().verify(chained)
    assert result.verified, result.errors


def test_broken_chains_fail() -> None:
    setup = Setup(Algorithm.EDDSA, "did:web")
    first = setup.sign(setup.credential(), proof_id="urn:uuid:proof-1")
    chained = setup.sign(first, proof_id="urn:uuid:proof-2", previous_proof="urn:uuid:proof-1")

    removed = {**chained, "proof": [chained["proof"][1]]}
    assert "not in the document" in setup.verifier().verify(removed).errors[0]

    renamed = copy.deepcopy(chained)
    renamed["proof"][1]["previousProof"] = "urn:uuid:proof-9"
    assert not setup.verifier().verify(renamed).verified

    # Swapping in another valid first proof breaks the chain: the second proof signed the original one.
    later = CREATED + timedelta(seconds=1)
    unsecured = {name: value for name, value in chained.items() if name != "proof"}
    other = add_proof(unsecured, setup.key, setup.custody, created=later, proof_id="urn:uuid:proof-1")
    swapped = {**chained, "proof": [other["proof"][0], chained["proof"][1]]}
    result = setup.verifier().verify(swapped)
    assert [p.verified for p in result.proofs] == [True, False]
    assert not result.verified


def test_chaining_to_a_missing_proof_is_refused_when_signing() -> None:
    setup = Setup(Algorithm.EDDSA, "did:web")
    with pytest.raises(InvalidInput) as caught:
        setup.sign(setup.credential(), previous_proof="urn:uuid:nope")
    assert caught.value.errors[0].pointer == "/proof"


def test_the_proof_configuration_hash_is_memoised() -> None:
    setup = Setup(Algorithm.EDDSA, "did:web")
    first = setup.credential()
    setup.sign(first)
    before = hashing._memoised_configuration_hash.cache_info().hits  # pyright: ignore[reportPrivateUsage]
    second = copy.deepcopy(first)
    second["id"] = "urn:uuid:0d6e8f36-7f0f-4d35-8d4c-7d3a1c9b2e55"
    signed = setup.sign(second)
    assert hashing._memoised_configuration_hash.cache_info().hits == before + 1  # pyright: ignore[reportPrivateUsage]
    assert setup.verifier().verify(signed).verified


def test_no_proof_and_unknown_proofs() -> None:
    setup = Setup(Algorithm.EDDSA, "did:web")
    assert setup.verifier().verify(setup.credential()).errors == ["proof 0: the document has no proof"]
    unknown = {**setup.credential(), "proof": {"type": "SomeProofType"}}
    result = setup.verifier().verify(unknown)
    assert not result.verified
    assert result.proofs[0].verified is None


def test_created_is_whole_seconds() -> None:
    setup = Setup(Algorithm.EDDSA, "did:key")
    later = setup.sign(setup.credential())["proof"][0]["created"]
    assert later == (CREATED - timedelta(microseconds=CREATED.microsecond)).strftime("%Y-%m-%dT%H:%M:%SZ")
