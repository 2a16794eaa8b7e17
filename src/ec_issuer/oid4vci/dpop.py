"""DPoP proofs (RFC 9449): a wallet shows, with each request, the key its access token is bound to.

The proof is a JWT in the `DPoP` header, typ `dpop+jwt`, signed by the key whose public part is in its
`jwk` header; its claims name the request (`htm`, `htu`), when it was made (`iat`), a unique `jti`, the
server's `nonce` when the server asks for one, and at a resource endpoint the hash of the access token
(`ath`). The key is identified by its RFC 7638 thumbprint (`jkt`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ec_issuer.core.encoding import b64url_encode
from ec_issuer.keys.jwk import thumbprint
from ec_issuer.oid4vci.proofs import InvalidProof, ProofWindow, claims_of, issued_at, public_members
from ec_issuer.signing.jose import MalformedJws, parse_compact, verify_signature

DPOP_TYP = "dpop+jwt"
DPOP_ALGORITHMS = ("ES256", "EdDSA")
_ALG_KEY_TYPES = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}
MAX_JTI_LENGTH = 256
_WHAT = "DPoP proof"


class InvalidDpopProof(InvalidProof):
    """A DPoP proof the server cannot accept (`invalid_dpop_proof`)."""


@dataclass(frozen=True, slots=True)
class DpopRequest:
    """What the HTTP layer saw: every `DPoP` header value, the method, and the endpoint's public URL."""

    proofs: tuple[str, ...]
    method: str
    url: str


@dataclass(frozen=True, slots=True)
class DpopProof:
    jkt: str  # the key's thumbprint, to which the access token is bound
    jti: str
    nonce: str | None
    issued_at: datetime


def verify_dpop_proof(
    request: DpopRequest, *, now: datetime, window: ProofWindow, access_token: str | None = None
) -> DpopProof:
    """Check the request's one DPoP proof against the request; the proven key, or InvalidDpopProof."""
    if len(request.proofs) != 1:
        raise InvalidDpopProof("send exactly one DPoP header")
    try:
        jws = parse_compact(request.proofs[0])
    except MalformedJws as exc:
        raise InvalidDpopProof(f"the DPoP proof is not a compact JWS: {exc}") from None
    header = jws.header
    if header.get("typ") != DPOP_TYP:
        raise InvalidDpopProof(f"the DPoP proof's typ must be '{DPOP_TYP}'")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in DPOP_ALGORITHMS:
        raise InvalidDpopProof(f"the DPoP proof's alg must be one of {', '.join(DPOP_ALGORITHMS)}")
    jwk = _public_key(header.get("jwk"), alg)
    if not verify_signature(jws, jwk):
        raise InvalidDpopProof("the DPoP proof's signature does not verify with its jwk")
    claims = claims_of(jws.payload, _WHAT, InvalidDpopProof)
    if claims.get("htm") != request.method:
        raise InvalidDpopProof(f"the DPoP proof's htm must be {request.method}")
    htu = claims.get("htu")
    if not isinstance(htu, str) or _normalised(htu) != _normalised(request.url):
        raise InvalidDpopProof(f"the DPoP proof's htu must be {request.url}")
    made_at = issued_at(claims, now, window, _WHAT, InvalidDpopProof)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise InvalidDpopProof("the DPoP proof needs a jti (a unique string)")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise InvalidDpopProof("the DPoP proof's ath must be the hash of the access token it is sent with")
    nonce = claims.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise InvalidDpopProof("the DPoP proof's nonce must be a string")
    return DpopProof(thumbprint(jwk), jti, nonce, made_at)


def access_token_hash(access_token: str) -> str:
    return b64url_encode(hashlib.sha256(access_token.encode("ascii", "replace")).digest())


def _public_key(value: object, alg: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidDpopProof("the DPoP proof's header must carry the public key as jwk")
    try:
        jwk = public_members(value)  # pyright: ignore[reportUnknownArgumentType]
    except InvalidProof as exc:
        raise InvalidDpopProof(str(exc).replace("the proof's", "the DPoP proof's")) from None
    kty, crv = _ALG_KEY_TYPES[alg]
    if jwk.get("kty") != kty or jwk.get("crv") != crv:
        raise InvalidDpopProof(f"an {alg} DPoP proof needs a {crv} key")
    return jwk


def _normalised(url: str) -> str:
    """RFC 9449 §4.3: compare without query and fragment, after syntax-based normalisation (RFC 3986 §6.2.2)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    default = {"https": 443, "http": 80}.get(scheme)
    try:
        port = parts.port
    except ValueError:
        return ""
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))
