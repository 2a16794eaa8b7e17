"""Signing keys as the domain sees them: a public part and a reference into some custody backend."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ec_issuer.core.errors import Conflict


class Algorithm(StrEnum):
    """JOSE algorithm names (RFC 7518 / RFC 8037) of the keys we can hold."""

    ES256 = "ES256"
    EDDSA = "EdDSA"


DEFAULT_ALGORITHM = Algorithm.ES256


class KeyState(StrEnum):
    PENDING = "pending"  # published ahead of use, so verifiers that cache key sets know it; does not sign yet
    ACTIVE = "active"  # signs new credentials (one per issuer and algorithm) and is published
    RETIRED = "retired"  # no longer signs, still published so earlier credentials verify
    REVOKED = "revoked"  # compromised: unpublished; its credentials no longer verify

    @property
    def is_published(self) -> bool:
        return self is not KeyState.REVOKED


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A key an issuer signs with. `kid` is a DID URL: `<issuer did>#<fragment>`, the fragment being
    the RFC 7638 thumbprint for did:web issuers and the multibase key for did:key issuers."""

    kid: str
    issuer_slug: str
    algorithm: Algorithm
    public_jwk: dict[str, Any]
    custody: str
    key_ref: str
    state: KeyState = KeyState.ACTIVE
    created_at: datetime | None = field(default=None, compare=False)
    activated_at: datetime | None = field(default=None, compare=False)
    retired_at: datetime | None = field(default=None, compare=False)
    revoked_at: datetime | None = field(default=None, compare=False)
    revocation_reason: str | None = None

    @property
    def fragment(self) -> str:
        return self.kid.rsplit("#", 1)[-1]

    def activated(self, now: datetime) -> SigningKey:
        self._refuse_if_revoked("activate")
        return replace(self, state=KeyState.ACTIVE, activated_at=now, retired_at=None)

    def retired(self, now: datetime) -> SigningKey:
        self._refuse_if_revoked("retire")
        if self.state is KeyState.RETIRED:
            return self
        return replace(self, state=KeyState.RETIRED, retired_at=now)

    def revoked(self, now: datetime, reason: str) -> SigningKey:
        if self.state is KeyState.REVOKED:
            return self
        return replace(self, state=KeyState.REVOKED, revoked_at=now, revocation_reason=reason)

    def _refuse_if_revoked(self, action: str) -> None:
        if self.state is KeyState.REVOKED:
            raise Conflict(f"key {self.kid} is revoked and cannot {action}; generate or import a new key")


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """What a custody backend hands back after creating a key: never the private part."""

    key_ref: str
    public_jwk: dict[str, Any]
