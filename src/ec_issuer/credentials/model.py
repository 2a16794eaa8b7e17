"""Issued credentials as stored records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


JADES = "jades"  # a sealed European Digital Credential: the JSON-LD payload in a JAdES envelope
VC_JWT = "vc+jwt"  # secured by a JOSE envelope (W3C VC-JOSE-COSE)
DATA_INTEGRITY = "data-integrity"  # secured by an embedded DataIntegrityProof
BOTH = "both"  # two separate artefacts: the credential with its embedded proof, and a vc+jwt of it without


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A credential as issued: the exact JSON that was signed, and its signed form."""

    id: str  # the credential's `id`, a urn:uuid
    issuer_slug: str
    family: str  # "open-badges-3.0", "elm-3.2", "validation-attestation", "vc" (see families.py)
    format: str  # VC_JWT, DATA_INTEGRITY, BOTH or JADES
    format_version: str
    payload: bytes  # the credential JSON as delivered, byte for byte (with its proof, unless vc+jwt only)
    # The compact JWS (vc+jwt, both), the JSON text of the credential with its proof, or the sealed file (jades)
    signed: str
    kid: str | None  # None for sealed EDCs, whose seal certificate is in the file
    status: CredentialStatus
    issued_at: datetime
    valid_from: datetime | None
    valid_until: datetime | None
    client_id: str
    subject_ref: str
    achievement_id: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    # Its slots in status lists, as "<list id>#<index>" (one per list kind; see status/lists.py).
    status_slots: tuple[str, ...] = ()
    companion_id: str | None = None  # the other credential issued from the same award (EDC <-> Open Badge)
    download_token_hash: str | None = None  # SHA-256 of the public download link's token (EDCs)

    @property
    def is_sealed_file(self) -> bool:
        return self.format == JADES

    @property
    def jws(self) -> str | None:
        """The VC-JOSE artefact, when the credential has one."""
        return self.signed if self.format in (VC_JWT, BOTH) else None

    @property
    def with_embedded_proof(self) -> bytes | None:
        """The credential JSON with its Data Integrity proof, when it has one."""
        return self.payload if self.format in (DATA_INTEGRITY, BOTH) else None

    def effective_status(self, now: datetime) -> CredentialStatus:
        """Expiry is a fact of time: report it even before any sweep has written it down."""
        expirable = self.status in (CredentialStatus.ACTIVE, CredentialStatus.SUSPENDED)
        if expirable and self.valid_until is not None and now >= self.valid_until:
            return CredentialStatus.EXPIRED
        return self.status


@dataclass(frozen=True, slots=True)
class CredentialFilter:
    issuer_slugs: tuple[str, ...] | None = None  # None: every issuer
    status: CredentialStatus | None = None
    subject_ref: str | None = None
    issued_after: datetime | None = None
    issued_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Position after the last row of a page, in (issued_at, id) descending order."""

    issued_at: datetime
    id: str
