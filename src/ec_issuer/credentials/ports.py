"""Storage port for issued credentials."""

from __future__ import annotations

from typing import Protocol

from ec_issuer.credentials.model import CredentialFilter, IssuedCredential, PageCursor


class DuplicateIdempotencyKey(Exception):
    """Another request with the same client and idempotency key was stored first."""


class DuplicateCredentialId(Exception):
    """A credential with this id was stored first (only caller-built documents choose their ids)."""


class CredentialRepository(Protocol):
    def add(self, credential: IssuedCredential) -> None:
        """Store a new credential; raises DuplicateIdempotencyKey when the key is taken and
        DuplicateCredentialId when the id is."""
        ...

    def get(self, credential_id: str) -> IssuedCredential | None: ...

    def get_by_idempotency_key(self, client_id: str, key: str) -> IssuedCredential | None: ...

    def page(self, where: CredentialFilter, after: PageCursor | None, limit: int) -> list[IssuedCredential]: ...
