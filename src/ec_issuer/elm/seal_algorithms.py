"""The JOSE signature algorithms of ELM seals (RFC 7518 §3), for sealing and for verifying.

Signers hand out JOSE-form signatures (raw r||s for ECDSA), so both directions meet here in one form.
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509 import Certificate

# What we seal with: RS256 is what the EDC issuer (EU DSS) produces; PS256 and ES256 are JAdES-legal too.
SEAL_ALGORITHMS: Final = frozenset({"RS256", "PS256", "ES256"})
# Seals made elsewhere may use a P-384 key as well.
VERIFIABLE_ALGORITHMS: Final = SEAL_ALGORITHMS | {"ES384"}

# Below this an RSA key is considered broken (SOG-IS, BSI TR-02102); a seal must outlive its issuing.
MIN_RSA_BITS: Final = 2048

_EC_CURVES: Final = {"ES256": ("secp256r1", 32), "ES384": ("secp384r1", 48)}
_EC_HASHES: Final[dict[str, hashes.HashAlgorithm]] = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384()}


def key_mismatch(algorithm: str, public_key: object) -> str | None:
    """Why `public_key` cannot make or check `algorithm` signatures, or None when it can."""
    if algorithm in ("RS256", "PS256"):
        if not isinstance(public_key, rsa.RSAPublicKey):
            return f"{algorithm} needs an RSA key"
        if public_key.key_size < MIN_RSA_BITS:
            return f"the RSA key has {public_key.key_size} bits, fewer than {MIN_RSA_BITS}"
        return None
    if algorithm in _EC_CURVES:
        curve, _ = _EC_CURVES[algorithm]
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != curve:
            return f"{algorithm} needs an EC key on {curve}"
        return None
    return f"algorithm {algorithm!r} is not supported"


def verify_signature(certificate: Certificate, algorithm: str, data: bytes, signature: bytes) -> bool:
    """Check a JOSE-form signature with the certificate's key; False for any mismatch or failure."""
    public_key = certificate.public_key()
    if key_mismatch(algorithm, public_key) is not None:
        return False
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, rsa_padding(algorithm), hashes.SHA256())
            return True
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            _, size = _EC_CURVES[algorithm]
            if len(signature) != 2 * size:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
            public_key.verify(der, data, ec.ECDSA(_EC_HASHES[algorithm]))
            return True
    except InvalidSignature:
        return False
    return False


def rsa_padding(algorithm: str) -> padding.AsymmetricPadding:
    """PKCS#1 v1.5 for RS256; PSS with MGF1 and a salt as long as the hash for PS256 (RFC 7518 §3.5)."""
    if algorithm == "PS256":
        return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    return padding.PKCS1v15()
