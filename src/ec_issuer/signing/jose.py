"""VC-JOSE: credentials secured as compact JWS with `typ: vc+jwt` (W3C VC-JOSE-COSE 1.0).

Signing builds the JWS signing input here and hands only those bytes to the key custody port,
so the same code serves local keys, HSMs and cloud KMS alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ec_issuer.core.encoding import b64url_decode, b64url_encode, dumps, loads
from ec_issuer.keys.jwk import public_key_from_jwk
from ec_issuer.keys.model import SigningKey
from ec_issuer.keys.ports import KeyCustody

VC_JWT_TYP = "vc+jwt"
VC_CTY = "vc"
VC_JWT_MEDIA_TYPE = "application/vc+jwt"
MAX_TOKEN_LENGTH = 1_000_000

# alg -> (JWK kty, JWK crv, hash for ECDSA, bytes per ECDSA coordinate)
_ALGORITHMS: dict[str, tuple[str, str, hashes.HashAlgorithm | None, int]] = {
    "ES256": ("EC", "P-256", hashes.SHA256(), 32),
    "ES384": ("EC", "P-384", hashes.SHA384(), 48),
    "ES512": ("EC", "P-521", hashes.SHA512(), 66),
    "EdDSA": ("OKP", "Ed25519", None, 0),
    "Ed25519": ("OKP", "Ed25519", None, 0),  # RFC 9864 fully-specified name
}
SUPPORTED_ALGORITHMS = frozenset(_ALGORITHMS)


class MalformedJws(ValueError):
    """The token is not a compact JWS with a JSON object header and payload."""


@dataclass(frozen=True, slots=True)
class CompactJws:
    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    def payload_json(self) -> Any:
        return loads(self.payload)


def sign_vc_jwt(credential_json: bytes, key: SigningKey, custody: KeyCustody) -> str:
    """Secure the exact credential bytes as a `vc+jwt` compact JWS."""
    return sign_compact(credential_json, key, custody, typ=VC_JWT_TYP, cty=VC_CTY)


def sign_compact(payload: bytes, key: SigningKey, custody: KeyCustody, *, typ: str, cty: str | None = None) -> str:
    """A compact JWS over the exact payload bytes, with the key's alg and kid in the protected header."""
    header = {"alg": key.algorithm.value, "typ": typ}
    if cty is not None:
        header["cty"] = cty
    header["kid"] = key.kid
    signing_input = b64url_encode(dumps(header)) + "." + b64url_encode(payload)
    signature = custody.sign(key.key_ref, key.algorithm, signing_input.encode("ascii"))
    return signing_input + "." + b64url_encode(signature)


def parse_compact(token: str) -> CompactJws:
    if len(token) > MAX_TOKEN_LENGTH:
        raise MalformedJws("token is too long")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise MalformedJws("a compact JWS has exactly three dot-separated parts")
    try:
        header = loads(b64url_decode(parts[0]))
        payload = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
    except ValueError as exc:
        raise MalformedJws("a part is not valid base64url or the header is not JSON") from exc
    if not isinstance(header, dict):
        raise MalformedJws("the protected header is not a JSON object")
    signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    return CompactJws(header, payload, signing_input, signature)  # pyright: ignore[reportUnknownArgumentType]


def verify_signature(jws: CompactJws, jwk: dict[str, Any]) -> bool:
    """True when the signature is valid for `jwk` under the header's `alg` (and the two agree)."""
    alg = jws.header.get("alg")
    if not isinstance(alg, str) or alg not in _ALGORITHMS:
        return False
    kty, crv, digest, size = _ALGORITHMS[alg]
    if jwk.get("kty") != kty or jwk.get("crv") != crv:
        return False
    try:
        public_key = public_key_from_jwk(jwk)
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(jws.signature, jws.signing_input)
            return True
        if digest is None or len(jws.signature) != 2 * size:
            return False
        r = int.from_bytes(jws.signature[:size], "big")
        s = int.from_bytes(jws.signature[size:], "big")
        public_key.verify(encode_dss_signature(r, s), jws.signing_input, ec.ECDSA(digest))
        return True
    except (InvalidSignature, ValueError, KeyError):
        return False
