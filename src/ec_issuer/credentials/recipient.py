"""How a recipient appears in a credential, and the opaque reference we keep to find it again."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RecipientIdentity:
    subject_fields: dict[str, Any]  # merged into credentialSubject: `id`, or `identifier`
    subject_ref: str  # keyed hash used for lookups; reveals nothing without the server secret


def normalize_email(email: str) -> str:
    # Mail systems treat addresses case-insensitively in practice, and so must a hash of one.
    return email.strip().lower()


class RecipientReferencer:
    """Derives subject references with a server-side HMAC key, so stored rows hold no address."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def ref_for_email(self, email: str) -> str:
        return self._ref("email", normalize_email(email))

    def ref_for_did(self, did: str) -> str:
        return self._ref("did", did)

    def ref_for_identity_hash(self, identity_hash: str) -> str:
        return self._ref("identity-hash", identity_hash)

    def ref_for_query(self, recipient: str) -> str:
        """A list filter names a recipient by e-mail address or DID."""
        return self.ref_for_did(recipient) if recipient.startswith("did:") else self.ref_for_email(recipient)

    def email_identity(self, email: str) -> RecipientIdentity:
        """An OB 3.0 hashed IdentityObject: `sha256$` + hex(SHA-256(address + salt))."""
        salt = secrets.token_hex(16)
        digest = hashlib.sha256((normalize_email(email) + salt).encode()).hexdigest()
        identity = {
            "type": "IdentityObject",
            "hashed": True,
            "identityHash": f"sha256${digest}",
            "identityType": "emailAddress",
            "salt": salt,
        }
        return RecipientIdentity({"identifier": [identity]}, self.ref_for_email(email))

    def did_identity(self, did: str) -> RecipientIdentity:
        return RecipientIdentity({"id": did}, self.ref_for_did(did))

    def _ref(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
