"""Public keys as JWKs (RFC 7517), their RFC 7638 thumbprints, and back to `cryptography` objects."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ec_issuer.core.encoding import b64url_decode, b64url_encode, dumps_canonical

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

_EC_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def public_jwk(key: PublicKey) -> dict[str, Any]:
    """The minimal public JWK of a key (no kid/alg: those are added by whoever publishes it)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    for name, (curve, size) in _EC_CURVES.items():
        if isinstance(key.curve, type(curve)):
            numbers = key.public_numbers()
            return {
                "kty": "EC",
                "crv": name,
                "x": b64url_encode(numbers.x.to_bytes(size, "big")),
                "y": b64url_encode(numbers.y.to_bytes(size, "big")),
            }
    raise ValueError(f"unsupported curve {key.curve.name}")


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) over the required members only."""
    kty = jwk.get("kty")
    if kty == "EC":
        members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    elif kty == "OKP":
        members = {k: jwk[k] for k in ("crv", "kty", "x")}
    else:
        raise ValueError(f"unsupported key type {kty!r}")
    return b64url_encode(hashlib.sha256(dumps_canonical(members)).digest())


def without_private_members(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS}


def public_key_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    """Load a public key from a JWK; raises ValueError for anything we cannot verify with."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(str(jwk["x"])))
    if kty == "EC" and isinstance(crv, str) and crv in _EC_CURVES:
        curve, size = _EC_CURVES[crv]
        x, y = b64url_decode(str(jwk["x"])), b64url_decode(str(jwk["y"]))
        if len(x) != size or len(y) != size:
            raise ValueError("EC coordinates have the wrong length")
        point = b"\x04" + x + y
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    raise ValueError(f"unsupported JWK (kty={kty!r}, crv={crv!r})")
