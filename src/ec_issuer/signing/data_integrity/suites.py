"""The cryptosuites we know: which proofs they describe, which keys they take, how they check a signature.

All three hash the same way (SHA-256 of the canonical proof configuration, then of the canonical document,
concatenated: 64 bytes) and differ in the signature over those bytes. ECDSA signs them with SHA-256 inside
the algorithm (ES256), Ed25519 signs them as they are; both signatures are the raw bytes the JOSE custody
port returns (`r || s` for ECDSA, not DER).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ec_issuer.keys.jwk import public_key_from_jwk
from ec_issuer.keys.model import Algorithm

DATA_INTEGRITY_PROOF = "DataIntegrityProof"
ED25519_SIGNATURE_2020 = "Ed25519Signature2020"
ED25519_2020_CONTEXT = "https://w3id.org/security/suites/ed25519-2020/v1"


@dataclass(frozen=True, slots=True)
class Cryptosuite:
    name: str  # the `cryptosuite` value; for legacy suites, the proof type
    proof_type: str
    algorithm: Algorithm  # what the custody port signs with
    kty: str
    crv: str
    signature_length: int
    can_sign: bool = True
    required_context: str | None = None  # a context the document must name (legacy suites)

    @property
    def has_cryptosuite_member(self) -> bool:
        return self.proof_type == DATA_INTEGRITY_PROOF

    def accepts_key(self, jwk: dict[str, Any]) -> bool:
        return jwk.get("kty") == self.kty and jwk.get("crv") == self.crv

    def signature_matches(self, jwk: dict[str, Any], signature: bytes, data: bytes) -> bool:
        if not self.accepts_key(jwk) or len(signature) != self.signature_length:
            return False
        try:
            key = public_key_from_jwk(jwk)
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, data)
                return True
            half = self.signature_length // 2
            der = encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
            return True
        except (InvalidSignature, ValueError, KeyError):
            return False


EDDSA_RDFC_2022 = Cryptosuite("eddsa-rdfc-2022", DATA_INTEGRITY_PROOF, Algorithm.EDDSA, "OKP", "Ed25519", 64)
ECDSA_RDFC_2019 = Cryptosuite("ecdsa-rdfc-2019", DATA_INTEGRITY_PROOF, Algorithm.ES256, "EC", "P-256", 64)
# Superseded by eddsa-rdfc-2022; still produced by some issuers (DCC), so verified but never created.
LEGACY_ED25519_2020 = Cryptosuite(
    ED25519_SIGNATURE_2020,
    ED25519_SIGNATURE_2020,
    Algorithm.EDDSA,
    "OKP",
    "Ed25519",
    64,
    can_sign=False,
    required_context=ED25519_2020_CONTEXT,
)

_BY_ALGORITHM = {EDDSA_RDFC_2022.algorithm: EDDSA_RDFC_2022, ECDSA_RDFC_2019.algorithm: ECDSA_RDFC_2019}
_DATA_INTEGRITY = {suite.name: suite for suite in (EDDSA_RDFC_2022, ECDSA_RDFC_2019)}


def suite_for_algorithm(algorithm: Algorithm) -> Cryptosuite:
    """The suite a key of this algorithm signs with: Ed25519 -> eddsa-rdfc-2022, P-256 -> ecdsa-rdfc-2019."""
    return _BY_ALGORITHM[algorithm]


def suite_for_proof(proof: dict[str, Any]) -> Cryptosuite | None:
    """The suite a proof declares, or None when we do not support it."""
    proof_type = proof.get("type")
    if proof_type == DATA_INTEGRITY_PROOF:
        cryptosuite = proof.get("cryptosuite")
        return _DATA_INTEGRITY.get(cryptosuite) if isinstance(cryptosuite, str) else None
    if proof_type == ED25519_SIGNATURE_2020:
        return LEGACY_ED25519_2020
    return None
