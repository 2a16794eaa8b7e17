"""Checking the external authorization server's access tokens: RFC 9068 JWTs and RFC 7662 introspection.

A token whose header says `typ` `at+jwt` (or `application/at+jwt`) is checked locally when the server's keys
are configured: an allowed algorithm (never `none`, never a shared-secret HS*), a signature by one of the
server's keys, `iss` equal to the configured issuer byte for byte, `aud` containing our credential issuer
identifier, `exp`, `nbf` and `iat` with a small leeway, and the claims RFC 9068 requires (`sub`, `client_id`,
`jti`). Any other token, when an introspection endpoint is configured, is sent there: it must be `active`,
with the same issuer, audience and time checks. Either way the token must carry the offer's `issuer_state`.

A DPoP-bound token (`cnf.jkt`, RFC 9449 §6) comes back with its key thumbprint, for the caller to match with
the DPoP proof that came with it; a token bound otherwise (`cnf` `x5t#S256`, mutual TLS) is refused, since we
cannot check that binding and must not honour such a token as a bearer token.

Fetching the keys and asking the introspection endpoint are the adapters' business (`JwksSource`,
`Introspector`); they cache, so that no request costs a round trip to the server for keys.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ec_issuer.core.encoding import b64url_decode, loads
from ec_issuer.core.ports import Clock
from ec_issuer.oid4vci.errors import InvalidToken
from ec_issuer.oid4vci.external_as import ExternalGrant
from ec_issuer.signing.jose import CompactJws, MalformedJws, parse_compact, verify_signature

LEEWAY = timedelta(seconds=30)
MAX_GRANT_SECONDS = 86_400  # a token is never taken for longer than this, whatever its exp says
MAX_TOKEN_LENGTH = 16 * 1024
AT_JWT_TYPES = frozenset({"at+jwt", "application/at+jwt"})
ISSUER_STATE = "issuer_state"
MIN_RSA_BITS = 2048
_RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
    "PS256": hashes.SHA256,
    "PS384": hashes.SHA384,
    "PS512": hashes.SHA512,
}
# Asymmetric only: `none` and the HS* algorithms (a secret shared with every resource server) are refused.
JWT_ALGORITHMS = ("ES256", "ES384", "ES512", "EdDSA", "Ed25519", *_RSA_HASHES)


class JwksSource(Protocol):
    def keys(self, kid: str | None) -> Sequence[dict[str, Any]]:
        """The server's public JWKs that may have signed a token with this `kid` (all of them without one).
        An unknown kid may make the source fetch the key set again, but not on every request.
        AuthorizationServerUnavailable when the keys cannot be had at all."""
        ...


class Introspector(Protocol):
    def introspect(self, token: str) -> dict[str, Any]:
        """The introspection answer (RFC 7662 §2.2) for the token. AuthorizationServerUnavailable when the
        endpoint cannot be asked or answers with an error."""
        ...


class ExternalTokenVerifier:
    """The `ExternalAccessTokens` port: JWT access tokens checked locally, other tokens introspected."""

    def __init__(
        self,
        issuer: str,
        clock: Clock,
        *,
        jwks: JwksSource | None = None,
        introspection: Introspector | None = None,
        leeway: timedelta = LEEWAY,
    ) -> None:
        if jwks is None and introspection is None:
            raise ValueError("an external authorization server needs its keys or an introspection endpoint")
        self._issuer = issuer
        self._clock = clock
        self._jwks = jwks
        self._introspection = introspection
        self._leeway = leeway

    def grant_of(self, token: str, audience: str) -> ExternalGrant:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("the access token is too long")
        jws = _as_jws(token)
        if self._jwks is not None and jws is not None and _is_at_jwt(jws.header):
            return self._jwt_grant(jws, audience)
        if self._introspection is not None:
            return self._introspected_grant(token, audience)
        raise InvalidToken("the access token is not an RFC 9068 JWT access token (typ at+jwt)")

    # --- RFC 9068 ------------------------------------------------------------------------------------------

    def _jwt_grant(self, jws: CompactJws, audience: str) -> ExternalGrant:
        assert self._jwks is not None  # noqa: S101 - only called when keys are configured
        alg = jws.header.get("alg")
        if not isinstance(alg, str) or alg not in JWT_ALGORITHMS:
            raise InvalidToken(f"the access token's alg must be one of {', '.join(JWT_ALGORITHMS)}")
        kid = jws.header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the access token's kid must be a string")
        if "crit" in jws.header:
            raise InvalidToken("the access token has critical header parameters this server does not know")
        candidates = [jwk for jwk in self._jwks.keys(kid) if _usable_for(jwk, alg)]
        if not any(_verifies(jws, alg, jwk) for jwk in candidates):
            raise InvalidToken("the access token's signature does not verify with the authorization server's keys")
        try:
            claims = loads(jws.payload)
        except ValueError:
            raise InvalidToken("the access token's payload is not JSON") from None
        if not isinstance(claims, dict):
            raise InvalidToken("the access token's payload is not a JSON object")
        claims = cast(dict[str, Any], claims)
        for name in ("sub", "client_id", "jti"):  # RFC 9068 §2.2: required
            if not isinstance(claims.get(name), str):
                raise InvalidToken(f"the access token lacks the {name} claim RFC 9068 requires")
        return self._grant(claims, audience, iss_required=True)

    # --- RFC 7662 ------------------------------------------------------------------------------------------

    def _introspected_grant(self, token: str, audience: str) -> ExternalGrant:
        assert self._introspection is not None  # noqa: S101 - only called when introspection is configured
        answer = self._introspection.introspect(token)
        if answer.get("active") is not True:
            raise InvalidToken("the authorization server says the access token is not active")
        token_type: object = answer.get("token_type")
        if isinstance(token_type, str) and token_type.lower() not in ("bearer", "dpop"):
            raise InvalidToken(f"{token_type} access tokens are not accepted here")
        # The answer comes from the configured server's own endpoint: an `iss` it leaves out is its own.
        return self._grant(answer, audience, iss_required=False)

    # --- shared --------------------------------------------------------------------------------------------

    def _grant(self, claims: dict[str, Any], audience: str, *, iss_required: bool) -> ExternalGrant:
        issuer: object = claims.get("iss")
        if (iss_required or issuer is not None) and issuer != self._issuer:
            raise InvalidToken("the access token was not issued by this credential issuer's authorization server")
        if audience not in _audiences(claims.get("aud")):
            raise InvalidToken(f"the access token's aud must include the credential issuer '{audience}'")
        now, leeway = self._clock.now().timestamp(), self._leeway.total_seconds()
        expires = _seconds(claims, "exp", required=True)
        assert expires is not None  # noqa: S101 - required above
        if now >= expires + leeway:
            raise InvalidToken("the access token has expired")
        not_before = _seconds(claims, "nbf", required=False)
        if not_before is not None and now < not_before - leeway:
            raise InvalidToken("the access token is not valid yet (nbf)")
        issued = _seconds(claims, "iat", required=iss_required)
        if issued is not None and issued > now + leeway:
            raise InvalidToken("the access token is dated in the future (iat)")
        issuer_state: object = claims.get(ISSUER_STATE)
        if not isinstance(issuer_state, str) or not issuer_state or len(issuer_state) > 512:
            raise InvalidToken(
                "the access token carries no issuer_state: the authorization server must copy it from the "
                "authorization request"
            )
        client_id: object = claims.get("client_id")
        subject: object = claims.get("sub")
        token_id: object = claims.get("jti")
        return ExternalGrant(
            issuer_state=issuer_state,
            dpop_jkt=_dpop_binding(claims.get("cnf")),
            expires_at=datetime.fromtimestamp(min(expires + leeway, now + MAX_GRANT_SECONDS), UTC),
            client_id=client_id if isinstance(client_id, str) else None,
            subject=subject if isinstance(subject, str) else None,
            token_id=token_id if isinstance(token_id, str) else None,
        )


def _dpop_binding(confirmation: object) -> str | None:
    """The DPoP key thumbprint a token is bound to (None for a bearer token); other bindings are refused."""
    if confirmation is None:
        return None
    if not isinstance(confirmation, dict):
        raise InvalidToken("the access token's cnf must be an object")
    members = cast(dict[str, Any], confirmation)
    jkt: object = members.get("jkt")
    if set(members) != {"jkt"} or not isinstance(jkt, str) or not jkt:
        raise InvalidToken("the access token is bound in a way this server cannot check (only cnf.jkt, DPoP)")
    return jkt


def _as_jws(token: str) -> CompactJws | None:
    if token.count(".") != 2:
        return None
    try:
        return parse_compact(token)
    except MalformedJws:
        return None


def _is_at_jwt(header: dict[str, Any]) -> bool:
    typ = header.get("typ")
    return isinstance(typ, str) and typ.lower() in AT_JWT_TYPES


def _audiences(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in cast(list[object], value) if isinstance(item, str)]
    return []


def _seconds(claims: dict[str, Any], name: str, *, required: bool) -> float | None:
    """A NumericDate claim (seconds since the epoch)."""
    value: object = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken(f"the access token's {name} must be a number (seconds since the epoch)")
    return float(value)


def _usable_for(jwk: dict[str, Any], alg: str) -> bool:
    """A key may sign this alg: no other `use` than sig, no other `alg` than the token's."""
    return jwk.get("use") in (None, "sig") and jwk.get("alg") in (None, alg)


def _verifies(jws: CompactJws, alg: str, jwk: dict[str, Any]) -> bool:
    if alg not in _RSA_HASHES:
        return verify_signature(jws, jwk)  # ES*, EdDSA: the JOSE code the credentials are verified with
    key = rsa_public_key(jwk)
    if key is None:
        return False
    digest = _RSA_HASHES[alg]()
    scheme = padding.PKCS1v15() if alg.startswith("RS") else padding.PSS(padding.MGF1(digest), digest.digest_size)
    try:
        key.verify(jws.signature, jws.signing_input, scheme, digest)
    except InvalidSignature:
        return False
    return True


def rsa_public_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey | None:
    """The RSA public key of a JWK (RFC 7518 §6.3.1), or None when it is not one of at least 2048 bits."""
    if jwk.get("kty") != "RSA":
        return None
    n, e = jwk.get("n"), jwk.get("e")
    if not isinstance(n, str) or not isinstance(e, str):
        return None
    try:
        modulus, exponent = int.from_bytes(b64url_decode(n), "big"), int.from_bytes(b64url_decode(e), "big")
        key = rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError:
        return None
    return key if key.key_size >= MIN_RSA_BITS else None
