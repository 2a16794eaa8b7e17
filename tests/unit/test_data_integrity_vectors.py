"""The W3C vc-di-eddsa test vectors, reproduced byte for byte (tests/fixtures/vc-di-eddsa/, see
PROVENANCE-vectors.md): canonical document and proof configuration, their hashes, the hash data, the
signature and `proofValue`, signing through a `KeyCustody` that holds the vectors' published test key.

The vectors' issuer (`https://vc.example/issuers/5678`) is not the controller of their did:key, so they
are verified with a resolver that knows the key but claims no controller: the controller rule of our
verifier is tested elsewhere (test_data_integrity_roundtrip.py).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from ec_issuer.jsonld.canonical import canonical_nquads
from ec_issuer.keys.did_key import jwk_from_did_key
from ec_issuer.keys.jwk import public_jwk
from ec_issuer.keys.model import Algorithm, GeneratedKey, SigningKey
from ec_issuer.keys.resolution import StaticKeyResolver
from ec_issuer.signing.data_integrity.hashing import hash_data, proof_configuration
from ec_issuer.signing.data_integrity.multibase import decode_base58btc, encode_base58btc
from ec_issuer.signing.data_integrity.signer import create_proof
from ec_issuer.signing.data_integrity.verifier import DataIntegrityVerifier

VECTORS = Path(__file__).resolve().parent.parent / "fixtures" / "vc-di-eddsa"
RDFC = VECTORS / "eddsa-rdfc-2022"
LEGACY = VECTORS / "Ed25519Signature2020"
_ED25519_PRIVATE_MULTICODEC = bytes([0x80, 0x26])


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load(path: Path) -> dict[str, Any]:
    return json.loads(text(path))


class VectorKeyCustody:
    """Holds the vectors' published Ed25519 test key; signs as the custody port does (raw 64 bytes)."""

    name = "vector"

    def __init__(self) -> None:
        private = decode_base58btc(load(VECTORS / "keyPair.json")["privateKeyMultibase"])
        assert private[:2] == _ED25519_PRIVATE_MULTICODEC
        self.private_key = ed25519.Ed25519PrivateKey.from_private_bytes(private[2:])
        self.signed: list[bytes] = []

    def generate(self, algorithm: Algorithm) -> GeneratedKey:
        raise NotImplementedError

    def import_key(self, algorithm: Algorithm, material: str) -> GeneratedKey:
        raise NotImplementedError

    def sign(self, key_ref: str, algorithm: Algorithm, data: bytes) -> bytes:
        assert (key_ref, algorithm) == ("vector-key", Algorithm.EDDSA)
        self.signed.append(data)
        return self.private_key.sign(data)

    def sign_many(self, key_ref: str, algorithm: Algorithm, items: Sequence[bytes]) -> list[bytes]:
        return [self.sign(key_ref, algorithm, item) for item in items]

    def check(self) -> None:
        return None


@pytest.fixture
def custody() -> VectorKeyCustody:
    return VectorKeyCustody()


def vector_key(custody: VectorKeyCustody) -> SigningKey:
    method = load(RDFC / "proofConfigDataInt.json")["verificationMethod"]
    return SigningKey(
        kid=method,
        issuer_slug="vectors",
        algorithm=Algorithm.EDDSA,
        public_jwk=public_jwk(custody.private_key.public_key()),
        custody="vector",
        key_ref="vector-key",
    )


def resolver_without_controller() -> StaticKeyResolver:
    resolver = StaticKeyResolver()
    method = load(RDFC / "proofConfigDataInt.json")["verificationMethod"]
    resolver.add_jwk(method, jwk_from_did_key(method), controller=None)
    return resolver


def test_the_key_pair_is_the_did_key_of_the_verification_method(custody: VectorKeyCustody) -> None:
    assert jwk_from_did_key(vector_key(custody).kid) == vector_key(custody).public_jwk


def test_canonical_document_and_proof_configuration() -> None:
    unsigned = load(VECTORS / "unsigned.json")
    config = load(RDFC / "proofConfigDataInt.json")
    assert canonical_nquads(unsigned, reject_control_characters=True) == text(RDFC / "canonDocDataInt.txt")
    assert canonical_nquads(config, reject_control_characters=True) == text(RDFC / "proofCanonDataInt.txt")
    # Our proof configuration from the proof options is the vector's, @context included.
    options = {k: v for k, v in config.items() if k != "@context"}
    assert proof_configuration(options, unsigned["@context"]) == config


def test_hashes_and_hash_data() -> None:
    unsigned = load(VECTORS / "unsigned.json")
    config = load(RDFC / "proofConfigDataInt.json")
    data = hash_data(unsigned, config, signing=True)
    assert data[:32].hex() == text(RDFC / "proofHashDataInt.txt")
    assert data[32:].hex() == text(RDFC / "docHashDataInt.txt")
    assert data.hex() == text(RDFC / "combinedHashDataInt.txt")


def test_proof_is_reproduced_byte_for_byte(custody: VectorKeyCustody) -> None:
    unsigned = load(VECTORS / "unsigned.json")
    options = {k: v for k, v in load(RDFC / "proofConfigDataInt.json").items() if k != "@context"}
    proof = create_proof(unsigned, options, vector_key(custody), custody)
    assert custody.signed == [bytes.fromhex(text(RDFC / "combinedHashDataInt.txt"))]
    assert decode_base58btc(proof["proofValue"]).hex() == text(RDFC / "sigHexDataInt.txt")
    assert proof["proofValue"] == text(RDFC / "sigBTC58DataInt.txt")
    assert {**unsigned, "proof": proof} == load(RDFC / "signedDataInt.json")


def test_employment_vector_from_its_canonical_forms(custody: VectorKeyCustody) -> None:
    # Its context (citizenship/v4rc1) is not vendored: start from the published canonical N-Quads.
    employ = RDFC / "employ"
    proof_hash = hashlib.sha256(text(employ / "proofCanonDataInt.txt").encode()).digest()
    document_hash = hashlib.sha256(text(employ / "canonDocDataInt.txt").encode()).digest()
    assert proof_hash.hex() == text(employ / "proofHashDataInt.txt")
    assert document_hash.hex() == text(employ / "docHashDataInt.txt")
    assert (proof_hash + document_hash).hex() == text(employ / "combinedHashDataInt.txt")
    signature = custody.sign("vector-key", Algorithm.EDDSA, proof_hash + document_hash)
    assert signature.hex() == text(employ / "sigHexDataInt.txt")
    assert encode_base58btc(signature) == text(employ / "sigBTC58DataInt.txt")


def test_signed_vector_verifies() -> None:
    result = DataIntegrityVerifier(resolver_without_controller()).verify(load(RDFC / "signedDataInt.json"))
    assert result.verified, result.errors


def test_tampered_signed_vector_fails() -> None:
    signed = load(RDFC / "signedDataInt.json")
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["alumniOf"] = "The School of Counterfeits"
    result = DataIntegrityVerifier(resolver_without_controller()).verify(tampered)
    assert not result.verified
    assert "signature does not match" in result.errors[0]


def test_legacy_ed25519_signature_2020_vector_verifies() -> None:
    signed = load(LEGACY / "signedEdSig.json")
    result = DataIntegrityVerifier(resolver_without_controller()).verify(signed)
    assert result.verified, result.errors
    assert result.proofs[0].cryptosuite == "Ed25519Signature2020"


def test_legacy_vector_hashes_are_ours() -> None:
    signed = load(LEGACY / "signedEdSig.json")
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    config = load(LEGACY / "proofConfigEdSig.json")
    assert canonical_nquads(config, reject_control_characters=True) == text(LEGACY / "proofCanonEdSig.txt")
    assert hash_data(unsigned, config, signing=False).hex() == text(LEGACY / "combinedHashEdSig.txt")


def test_tampered_legacy_proof_fails() -> None:
    signed = load(LEGACY / "signedEdSig.json")
    signed["proof"]["created"] = "2024-02-24T23:36:38Z"
    assert not DataIntegrityVerifier(resolver_without_controller()).verify(signed).verified
