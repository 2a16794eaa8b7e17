"""Key proofs of a credential request: the `jwt` proof type (OID4VCI 1.0, Appendix F.1).

A wallet proves it holds the key the credential is bound to by signing a JWT with it: header `typ`
`openid4vci-proof+jwt`, the public key as `jwk` or as a DID URL in `kid` (did:jwk, did:key), claims `aud` =
the credential issuer identifier, `iat`, and the `c_nonce` it fetched. The holder is then named in the
credential by a DID: its own did:jwk / did:key, or, for a bare `jwk`, the did:jwk of that key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from ec_issuer.core.encoding import b64url_decode, b64url_encode, dumps_canonical, loads
from ec_issuer.keys.did_key import jwk_from_did_key
from ec_issuer.keys.jwk import public_key_from_jwk
from ec_issuer.signing.jose import MalformedJws, parse_compact, verify_signature

PROOF_TYP = "openid4vci-proof+jwt"
PROOF_ALGORITHMS = ("ES256", "EdDSA")
_ALG_KEY_TYPES = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_DID_JWK = "did:jwk:"


class InvalidProof(ValueError):
    """A proof the issuer cannot accept (OID4VCI error `invalid_proof`)."""


@dataclass(frozen=True, slots=True)
class ProofWindow:
    """How old a proof's `iat` may be, and how far ahead of our clock (the wallet's clock drifts); a DPoP
    proof's jti is remembered for as long."""

    max_age: timedelta = timedelta(minutes=5)
    max_ahead: timedelta = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class ProvenHolder:
    did: str  # the DID the credential subject gets
    jwk: dict[str, Any]  # the proven public key
    nonce: str | None  # the proof's `nonce` claim, for the caller to check against its live nonces


def verify_jwt_proof(
    token: object,
    *,
    issuer_id: str,
    now: datetime,
    window: ProofWindow,
    algorithms: tuple[str, ...] = PROOF_ALGORITHMS,
    client_id: str | None = None,
) -> ProvenHolder:
    """Check one `jwt` proof; the holder it proves, or InvalidProof saying what is wrong."""
    if not isinstance(token, str) or not token:
        raise InvalidProof("a jwt proof must be a compact JWS string")
    try:
        jws = parse_compact(token)
    except MalformedJws as exc:
        raise InvalidProof(f"the proof is not a compact JWS: {exc}") from None
    header = jws.header
    if header.get("typ") != PROOF_TYP:
        raise InvalidProof(f"the proof's typ must be '{PROOF_TYP}'")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise InvalidProof(f"the proof's alg must be one of {', '.join(algorithms)}")
    did, jwk = _holder_key(header)
    kty, crv = _ALG_KEY_TYPES[alg]
    if jwk.get("kty") != kty or jwk.get("crv") != crv:
        raise InvalidProof(f"an {alg} proof needs a {crv} key")
    if not verify_signature(jws, jwk):
        raise InvalidProof("the proof's signature does not verify with its key")
    claims = claims_of(jws.payload)
    _check_claims(claims, issuer_id=issuer_id, now=now, window=window, client_id=client_id)
    nonce = claims.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise InvalidProof("the proof's nonce must be a string")
    return ProvenHolder(did, jwk, nonce)


def did_jwk_for(jwk: dict[str, Any]) -> str:
    """did:jwk of a public key: its members in canonical (sorted) JSON, base64url."""
    return _DID_JWK + b64url_encode(dumps_canonical(jwk))


def _holder_key(header: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    named = [member for member in ("kid", "jwk", "x5c") if member in header]
    if len(named) != 1:
        raise InvalidProof("the proof header must name its key by exactly one of kid, jwk or x5c")
    if "x5c" in header:
        raise InvalidProof("x5c proof keys are not supported; use jwk, did:jwk or did:key")
    if "jwk" in header:
        jwk = header["jwk"]
        if not isinstance(jwk, dict):
            raise InvalidProof("the proof header's jwk must be a JSON object")
        public = public_members(jwk)  # pyright: ignore[reportUnknownArgumentType]
        return did_jwk_for(public), public
    kid = header["kid"]
    if not isinstance(kid, str) or len(kid) > 4096:
        raise InvalidProof("the proof header's kid must be a DID URL")
    did = kid.split("#", 1)[0]
    if did.startswith(_DID_JWK):
        try:
            decoded = loads(b64url_decode(did.removeprefix(_DID_JWK)))
        except ValueError:
            raise InvalidProof("the did:jwk in kid does not decode to a JWK") from None
        if not isinstance(decoded, dict):
            raise InvalidProof("the did:jwk in kid does not decode to a JWK")
        return did, public_members(decoded)  # pyright: ignore[reportUnknownArgumentType]
    if did.startswith("did:key:"):
        try:
            return did, jwk_from_did_key(did)
        except ValueError as exc:
            raise InvalidProof(f"the did:key in kid cannot be read: {exc}") from None
    raise InvalidProof("the proof's kid must be a did:jwk or did:key URL")


def public_members(jwk: dict[str, Any]) -> dict[str, Any]:
    """The public members of a JWK that must carry no private key and be usable (else InvalidProof)."""
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        raise InvalidProof("the proof's key carries private key material; send the public key only")
    kty = jwk.get("kty")
    members = ("kty", "crv", "x", "y") if kty == "EC" else ("kty", "crv", "x")
    public = {name: jwk[name] for name in members if name in jwk}
    try:
        public_key_from_jwk(public)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidProof(f"the proof's key is not a usable public key: {exc}") from None
    return public


def claims_of(payload: bytes, what: str = "proof", error: type[InvalidProof] = InvalidProof) -> dict[str, Any]:
    """A JWT's claims, which must be a JSON object; `what` and `error` name the kind of JWT in complaints."""
    try:
        claims = loads(payload)
    except ValueError:
        raise error(f"the {what}'s payload is not JSON") from None
    if not isinstance(claims, dict):
        raise error(f"the {what}'s payload must be a JSON object")
    return claims  # pyright: ignore[reportUnknownVariableType]


def issued_at(
    claims: dict[str, Any],
    now: datetime,
    window: ProofWindow,
    what: str = "proof",
    error: type[InvalidProof] = InvalidProof,
) -> datetime:
    """When the JWT says it was made, which must lie within the window around our clock."""
    value = claims.get("iat")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"the {what} needs a numeric iat")
    age = now.timestamp() - float(value)
    if age > window.max_age.total_seconds():
        raise error(f"the {what} is too old (iat)")
    if -age > window.max_ahead.total_seconds():
        raise error(f"the {what} is dated in the future (iat)")
    return now - timedelta(seconds=age)


def _check_claims(
    claims: dict[str, Any], *, issuer_id: str, now: datetime, window: ProofWindow, client_id: str | None
) -> None:
    audience: object = claims.get("aud")
    audiences: list[object] = cast(list[object], audience) if isinstance(audience, list) else [audience]
    if issuer_id not in audiences:
        raise InvalidProof(f"the proof's aud must be the credential issuer '{issuer_id}'")
    issued_at(claims, now, window)
    issuer = claims.get("iss")
    if client_id is None and issuer is not None and not isinstance(issuer, str):
        raise InvalidProof("the proof's iss must be a string")
    if client_id is not None and issuer != client_id:
        raise InvalidProof("the proof's iss must be the client_id")
