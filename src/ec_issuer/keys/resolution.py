"""Finding the public key a `kid` names, for verification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

from ec_issuer.core.unit_of_work import UnitOfWorkFactory
from ec_issuer.keys.did_key import PREFIX as DID_KEY_PREFIX
from ec_issuer.keys.did_key import jwk_from_did_key
from ec_issuer.keys.model import KeyState


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    jwk: dict[str, Any]
    controller: str | None  # the DID or URL that controls the key, when known
    revoked: bool = False


class KeyResolver(Protocol):
    def resolve(self, kid: str) -> ResolvedKey | None: ...


class ResolvedOnce:
    """Asks the resolver it wraps once per kid, for one verification.

    A credential and each of its status lists are usually signed by the same issuer key: asked once, that
    key is read from storage once per verification instead of once per signature, and every check of the
    verification sees it in the same state (revoked or not)."""

    def __init__(self, keys: KeyResolver) -> None:
        self._keys = keys
        self._resolved: dict[str, ResolvedKey | None] = {}

    def resolve(self, kid: str) -> ResolvedKey | None:
        if kid not in self._resolved:
            self._resolved[kid] = self._keys.resolve(kid)
        return self._resolved[kid]


class StoredKeyResolver:
    """Resolves the keys of this deployment's issuers (the same records JWKS and did:web publish, revocation
    included), and any other did:key from its identifier; other DIDs are never fetched."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def resolve(self, kid: str) -> ResolvedKey | None:
        with self._uow() as uow:
            key = uow.keys.get(kid)
        if key is None:
            return _did_key(kid)
        return ResolvedKey(key.public_jwk, kid.split("#", 1)[0], revoked=key.state is KeyState.REVOKED)


class StaticKeyResolver:
    """Resolves from documents the verifier already holds: JWK Sets and DID documents."""

    def __init__(self) -> None:
        self._keys: dict[str, ResolvedKey] = {}

    def add_jwk(self, kid: str, jwk: dict[str, Any], controller: str | None = None) -> None:
        self._keys[kid] = ResolvedKey(jwk, controller)

    def add_jwk_set(self, jwks: dict[str, Any], controller: str | None = None) -> None:
        for jwk in cast(list[dict[str, Any]], jwks.get("keys", [])):
            kid = jwk.get("kid")
            if isinstance(kid, str):
                self.add_jwk(kid, jwk, controller or (kid.split("#", 1)[0] if "#" in kid else None))

    def add_did_document(self, document: dict[str, Any]) -> None:
        for method in cast(list[dict[str, Any]], document.get("verificationMethod", [])):
            if isinstance(method.get("publicKeyJwk"), dict):
                self.add_jwk(str(method["id"]), method["publicKeyJwk"], str(method.get("controller")))

    def resolve(self, kid: str) -> ResolvedKey | None:
        return self._keys.get(kid) or _did_key(kid)


def _did_key(kid: str) -> ResolvedKey | None:
    """A did:key needs no document: the identifier is the key."""
    if not kid.startswith(DID_KEY_PREFIX):
        return None
    try:
        return ResolvedKey(jwk_from_did_key(kid), kid.split("#", 1)[0])
    except ValueError:
        return None
