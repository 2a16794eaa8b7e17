"""Storage port for issued credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ec_issuer.credentials.model import CredentialFilter, CredentialStatus, IssuedCredential, PageCursor


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

    def get_by_download_token(self, token_hash: str) -> IssuedCredential | None:
        """The credential whose public download link has this token (stored as its SHA-256)."""
        ...

    def set_download_token(self, credential_id: str, token_hash: str) -> None:
        """Replace the credential's download token: the link handed out before stops working."""
        ...

    def page(self, where: CredentialFilter, after: PageCursor | None, limit: int) -> list[IssuedCredential]: ...

    def change_status(self, credential_id: str, expected: CredentialStatus, new: CredentialStatus) -> bool:
        """Set the status if it is still ``expected``; False when another change came first."""
        ...

    def due_to_expire(self, now: datetime, limit: int) -> list[IssuedCredential]:
        """Active or suspended credentials whose validUntil has passed, locked for this transaction;
        rows another transaction holds are skipped, so concurrent sweeps share the work."""
        ...
