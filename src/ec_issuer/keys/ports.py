"""Ports of the keys capability: where private keys live, and where key records are stored."""

from __future__ import annotations

from typing import Protocol

from ec_issuer.keys.model import Algorithm, GeneratedKey, SigningKey


class KeyCustody(Protocol):
    """A backend that holds private keys and signs with them; the service only keeps a handle.

    `sign` returns the signature in JOSE form: raw r||s for ECDSA, the 64 raw bytes for EdDSA.
    """

    @property
    def name(self) -> str: ...

    def generate(self, algorithm: Algorithm) -> GeneratedKey: ...

    def sign(self, key_ref: str, algorithm: Algorithm, data: bytes) -> bytes: ...

    def check(self) -> None:
        """Raise `Unavailable` when the backend cannot be used right now."""
        ...


class KeyRepository(Protocol):
    def add(self, key: SigningKey) -> None: ...

    def get(self, kid: str) -> SigningKey | None: ...

    def for_issuer(self, issuer_slug: str) -> list[SigningKey]: ...

    def all_published(self) -> list[SigningKey]: ...
