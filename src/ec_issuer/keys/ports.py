"""Ports of the keys capability: where private keys live, and where key records are stored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ec_issuer.keys.model import Algorithm, GeneratedKey, SigningKey


class KeyCustody(Protocol):
    """A backend that holds private keys and signs with them; the service only keeps a handle.

    `sign` returns the signature in JOSE form: raw r||s for ECDSA, the 64 raw bytes for EdDSA.
    """

    @property
    def name(self) -> str: ...

    def generate(self, algorithm: Algorithm) -> GeneratedKey: ...

    def import_key(self, algorithm: Algorithm, material: str) -> GeneratedKey:
        """Take a key that exists already. For the local keystore `material` is the private key (PEM or
        JWK); for the others it names a key the backend already holds (PKCS#11 label, transit key name,
        KMS key id or ARN). Raises `InvalidInput` (pointer `/material`) when it cannot be used."""
        ...

    def sign(self, key_ref: str, algorithm: Algorithm, data: bytes) -> bytes: ...

    def sign_many(self, key_ref: str, algorithm: Algorithm, items: Sequence[bytes]) -> list[bytes]:
        """Sign several inputs; backends with a batch operation use it (one round trip)."""
        ...

    def check(self) -> None:
        """Raise `Unavailable` when the backend cannot be used right now."""
        ...


class KeyRepository(Protocol):
    def add(self, key: SigningKey) -> None: ...

    def update(self, key: SigningKey) -> None:
        """Store a key's state and lifecycle dates (the kid, public key and reference never change)."""
        ...

    def get(self, kid: str) -> SigningKey | None: ...

    def for_issuer(self, issuer_slug: str, *, fresh: bool = False) -> list[SigningKey]:
        """The issuer's keys, oldest first. `fresh` reads past any per-process cache (see storage/cache.py)."""
        ...

    def all_published(self) -> list[SigningKey]: ...
