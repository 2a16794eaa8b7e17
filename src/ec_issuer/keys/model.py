"""Signing keys as the domain sees them: a public part and a reference into some custody backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Algorithm(StrEnum):
    """JOSE algorithm names (RFC 7518 / RFC 8037) of the keys we can hold."""

    ES256 = "ES256"
    EDDSA = "EdDSA"


DEFAULT_ALGORITHM = Algorithm.ES256


class KeyState(StrEnum):
    ACTIVE = "active"  # signs new credentials and is published
    RETIRED = "retired"  # no longer signs, still published so old credentials verify
    REVOKED = "revoked"  # compromised: unpublished; its credentials no longer verify

    @property
    def is_published(self) -> bool:
        return self is not KeyState.REVOKED


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A key an issuer signs with. `kid` is a DID URL: `<issuer did>#<RFC 7638 thumbprint>`."""

    kid: str
    issuer_slug: str
    algorithm: Algorithm
    public_jwk: dict[str, Any]
    custody: str
    key_ref: str
    state: KeyState = KeyState.ACTIVE
    created_at: datetime | None = field(default=None, compare=False)

    @property
    def thumbprint(self) -> str:
        return self.kid.rsplit("#", 1)[-1]


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """What a custody backend hands back after creating a key: never the private part."""

    key_ref: str
    public_jwk: dict[str, Any]
