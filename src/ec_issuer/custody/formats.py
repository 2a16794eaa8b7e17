"""Conversions between what key backends hand out and what JOSE needs."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from ec_issuer.keys.jwk import public_jwk
from ec_issuer.keys.model import Algorithm

P256_COORDINATE_BYTES = 32


def raw_ecdsa_signature(der: bytes, coordinate_bytes: int = P256_COORDINATE_BYTES) -> bytes:
    """An ASN.1 DER ECDSA signature (KMS, OpenSSL) as the fixed-size r||s that JWS requires (RFC 7518 3.4)."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(coordinate_bytes, "big") + s.to_bytes(coordinate_bytes, "big")


def jwk_from_spki(spki: bytes, algorithm: Algorithm) -> dict[str, Any]:
    """The public JWK of a DER SubjectPublicKeyInfo (or PEM), checked against the expected algorithm."""
    key = load_pem_public_key(spki) if spki.lstrip().startswith(b"-----") else load_der_public_key(spki)
    return jwk_of(key, algorithm)


def jwk_from_ed25519_raw(raw: bytes) -> dict[str, Any]:
    return public_jwk(ed25519.Ed25519PublicKey.from_public_bytes(raw))


def jwk_of(key: object, algorithm: Algorithm) -> dict[str, Any]:
    if algorithm is Algorithm.ES256 and isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return public_jwk(key)
    if algorithm is Algorithm.EDDSA and isinstance(key, ed25519.Ed25519PublicKey):
        return public_jwk(key)
    raise ValueError(f"the key is not a {algorithm.value} key")


PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def sign_with(private: PrivateKey, algorithm: Algorithm, data: bytes) -> bytes:
    """A JOSE signature made in this process (the local keystore; tests' in-memory custody)."""
    if algorithm is Algorithm.ES256:
        if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
            raise ValueError("key does not match algorithm ES256")
        return raw_ecdsa_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise ValueError("key does not match algorithm EdDSA")
    return private.sign(data)
