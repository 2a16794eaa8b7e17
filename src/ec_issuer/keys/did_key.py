"""did:key identifiers (W3C CCG did:key method): a public key is its own DID, resolved without a network.

Ed25519 keys start `z6Mk`, P-256 keys `zDn`: multibase base58btc of the multicodec varint (0xed, 0x1200)
followed by the raw public key (32 bytes; for P-256 the 33-byte compressed point).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ec_issuer.core.encoding import b64url_decode, b64url_encode
from ec_issuer.keys.jwk import public_jwk, public_key_from_jwk

PREFIX = "did:key:"
_ED25519 = bytes([0xED, 0x01])
_P256 = bytes([0x80, 0x24])
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def did_key_for(jwk: dict[str, Any]) -> str:
    """The did:key of an Ed25519 or P-256 public JWK."""
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        payload = _ED25519 + b64url_decode(str(jwk["x"]))
    elif jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        key = public_key_from_jwk(jwk)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("not a P-256 key")
        payload = _P256 + key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    else:
        raise ValueError("did:key is supported for Ed25519 and P-256 keys")
    return PREFIX + "z" + _base58_encode(payload)


def verification_method_id(did: str) -> str:
    """The key's DID URL: the DID, then the multibase value again as the fragment."""
    return f"{did}#{did.removeprefix(PREFIX)}"


def jwk_from_did_key(did_or_url: str) -> dict[str, Any]:
    """Resolve a did:key (or one of its DID URLs) to its public JWK; ValueError when it is not one we read."""
    did = did_or_url.split("#", 1)[0]
    if not did.startswith(PREFIX + "z"):
        raise ValueError("not a base58btc did:key")
    decoded = _base58_decode(did.removeprefix(PREFIX + "z"))
    if decoded[:2] == _ED25519 and len(decoded) == 34:
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(decoded[2:])}
    if decoded[:2] == _P256 and len(decoded) == 35:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), decoded[2:])
        return public_jwk(point)
    raise ValueError("did:key of an unsupported key type")


def _base58_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_BASE58[remainder])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(digits))


def _base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _BASE58.find(char)
        if index < 0:
            raise ValueError("not base58btc")
        number = number * 58 + index
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading_zeros + body
