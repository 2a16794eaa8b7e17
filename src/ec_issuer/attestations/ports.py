"""What the attestations capability needs stored. The repository works inside a unit of work: an
attestation's links are written in the transaction that stores its credential, so neither exists alone."""

from __future__ import annotations

from typing import Protocol

from ec_issuer.attestations.model import AttestationRecord, OrganizationPrivacy
from ec_issuer.credentials.model import IssuedCredential


class DuplicateAttestation(Exception):
    """Another request for the same run and step run stored its credential first."""


class AttestationRepository(Protocol):
    def add(self, record: AttestationRecord) -> None:
        """Store the links of a credential stored in this transaction; raises DuplicateAttestation when the
        (run, step run) pair is taken."""
        ...

    def for_run(self, run_id: str, step_run_id: str) -> tuple[AttestationRecord, IssuedCredential] | None:
        """The attestation of this run and step run with its credential, in one read."""
        ...

    def for_credential(self, credential_id: str) -> AttestationRecord | None: ...

    def privacy(self, organization_id: str) -> OrganizationPrivacy | None: ...

    def set_privacy(self, privacy: OrganizationPrivacy) -> None:
        """Create or replace the organization's opt-in."""
        ...
