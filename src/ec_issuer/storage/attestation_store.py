"""SQLAlchemy Core implementation of the attestation repository, on the unit of work's connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from ec_issuer.attestations.model import AttestationRecord, OrganizationPrivacy
from ec_issuer.attestations.ports import DuplicateAttestation
from ec_issuer.credentials.model import IssuedCredential
from ec_issuer.storage.prepared import PreparedInsert, PreparedSelect
from ec_issuer.storage.repositories import credential_from_row
from ec_issuer.storage.session import LazyConnection
from ec_issuer.storage.tables import (
    ATTESTATION_RUN_CONSTRAINT,
    issued_credentials,
    validation_attestations,
    validation_organizations,
)

_links = validation_attestations
_organizations = validation_organizations
# The attestation's own columns carry a prefix: format_version and request_hash exist on both tables.
_PREFIX = "attestation_"
# A replay is this one indexed read: the unique (run_id, step_run_id) index, then the credential by its key.
_BY_RUN = PreparedSelect(
    select(issued_credentials, *(column.label(_PREFIX + column.name) for column in _links.c))
    .join(_links, _links.c.credential_id == issued_credentials.c.id)
    .where(_links.c.run_id == bindparam("run_id"), _links.c.step_run_id == bindparam("step_run_id"))
)
_BY_CREDENTIAL = select(_links).where(_links.c.credential_id == bindparam("credential_id"))
_INSERT = PreparedInsert(_links)
_PRIVACY = select(_organizations).where(_organizations.c.id == bindparam("id"))
# SQLite names the constrained columns and quotes no values.
_SQLITE_RUN_TAKEN = "UNIQUE constraint failed: validation_attestations.run_id, validation_attestations.step_run_id"
_UPSERT = {"sqlite": sqlite_insert(_organizations), "postgresql": postgresql_insert(_organizations)}


class SqlAttestations:
    def __init__(self, connection: LazyConnection) -> None:
        self._db = connection

    def add(self, record: AttestationRecord) -> None:
        try:
            self._db.insert(
                _INSERT,
                {
                    "credential_id": record.credential_id,
                    "organization_id": record.organization_id,
                    "project_id": record.project_id,
                    "submission_id": record.submission_id,
                    "run_id": record.run_id,
                    "step_run_id": record.step_run_id,
                    "action_id": record.action_id,
                    "action_configuration": record.action_configuration,
                    "format_version": record.format_version,
                    "request_hash": record.request_hash,
                    "created_at": record.created_at,
                },
            )
        except IntegrityError as exc:
            if _is_run_taken(exc):
                raise DuplicateAttestation(f"{record.run_id}/{record.step_run_id}") from exc
            raise

    def for_run(self, run_id: str, step_run_id: str) -> tuple[AttestationRecord, IssuedCredential] | None:
        row = self._db.first(_BY_RUN, {"run_id": run_id, "step_run_id": step_run_id})
        if row is None:
            return None
        return _record(row, _PREFIX), credential_from_row(row)

    def for_credential(self, credential_id: str) -> AttestationRecord | None:
        row = self._db.execute(_BY_CREDENTIAL, {"credential_id": credential_id}).first()
        return _record(row, "") if row is not None else None

    def privacy(self, organization_id: str) -> OrganizationPrivacy | None:
        row = self._db.execute(_PRIVACY, {"id": organization_id}).first()
        if row is None:
            return None
        return OrganizationPrivacy(row.id, row.allow_personal_data, row.allow_filenames, row.updated_at)

    def set_privacy(self, privacy: OrganizationPrivacy) -> None:
        upsert = _UPSERT[self._db.dialect_name].values(
            id=privacy.organization_id,
            allow_personal_data=privacy.allow_personal_data,
            allow_filenames=privacy.allow_filenames,
            updated_at=privacy.updated_at,
        )
        replaced = ("allow_personal_data", "allow_filenames", "updated_at")
        self._db.execute(
            upsert.on_conflict_do_update(
                index_elements=[_organizations.c.id], set_={name: upsert.excluded[name] for name in replaced}
            )
        )


def _record(row: Any, prefix: str) -> AttestationRecord:  # a Row, or a prepared one (storage/prepared.py)
    def column(name: str) -> Any:
        return getattr(row, prefix + name)

    return AttestationRecord(
        credential_id=column("credential_id"),
        organization_id=column("organization_id"),
        project_id=column("project_id"),
        submission_id=column("submission_id"),
        run_id=column("run_id"),
        step_run_id=column("step_run_id"),
        action_id=column("action_id"),
        action_configuration=column("action_configuration"),
        format_version=column("format_version"),
        request_hash=column("request_hash"),
        created_at=column("created_at"),
    )


def _is_run_taken(exc: IntegrityError) -> bool:
    """Whether the (run, step run) constraint refused the row, by its name, never by the whole message:
    PostgreSQL's quotes the values, which the platform chooses."""
    diagnostics = getattr(exc.orig, "diag", None)  # psycopg names the violated constraint
    if diagnostics is not None:
        return getattr(diagnostics, "constraint_name", None) == ATTESTATION_RUN_CONSTRAINT
    return str(exc.orig) == _SQLITE_RUN_TAKEN
