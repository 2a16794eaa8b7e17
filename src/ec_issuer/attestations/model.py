"""Validation attestations as stored: the platform's identifiers a credential was issued for, and each
organization's privacy opt-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ec_issuer.credentials.model import IssuedCredential


@dataclass(frozen=True, slots=True)
class AttestationRecord:
    """Links a credential to the run it attests. None of it is in the credential except the submission and
    run ids; organization, project and action stay with us."""

    credential_id: str
    organization_id: str
    project_id: str
    submission_id: str
    run_id: str
    step_run_id: str  # with run_id, the idempotency key: one credential per (run, step run)
    action_id: str
    action_configuration: dict[str, Any]
    format_version: str
    request_hash: str  # SHA-256 of the canonical request: a retry must say the same
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrganizationPrivacy:
    """What an organization allows in its public credentials beyond opaque identifiers. Defaults: nothing."""

    organization_id: str
    allow_personal_data: bool = False
    allow_filenames: bool = False
    updated_at: datetime | None = None  # None: never set, the defaults apply


@dataclass(frozen=True, slots=True)
class AttestationOutcome:
    credential: IssuedCredential | None  # None when skipped
    replayed: bool = False  # an earlier request for the same run and step run is answered again
    skipped_because: str | None = None

    @classmethod
    def skipped(cls, reason: str) -> AttestationOutcome:
        return cls(None, skipped_because=reason)
