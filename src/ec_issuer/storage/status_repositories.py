"""SQLAlchemy Core implementations of the status list and lifecycle history ports."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, or_, select, update

from ec_issuer.credentials.model import CredentialStatus
from ec_issuer.status.lists import StatusEntry, StatusListKind, StatusListRecord
from ec_issuer.status.model import LifecycleEvent, LifecycleEventType, RevocationReason
from ec_issuer.storage.session import LazyConnection
from ec_issuer.storage.tables import credential_history, status_entries, status_lists

_INSERT_ENTRY = status_entries.insert()
_INSERT_HISTORY = credential_history.insert()
_LIST_BY_ID = select(status_lists).where(status_lists.c.id == bindparam("list_id"))
_TOUCH = (
    update(status_lists).where(status_lists.c.id == bindparam("list_id")).values(revision=status_lists.c.revision + 1)
)


class SqlStatusLists:
    def __init__(self, connection: LazyConnection) -> None:
        self._db = connection

    def set_value(self, entry: StatusEntry, value: int) -> None:
        # Changes of one credential are serialized by the compare-and-set on its status, so the
        # update-else-insert cannot race with itself.
        t = status_entries
        updated = self._db.execute(
            update(t).where(t.c.list_id == entry.list_id, t.c.idx == entry.index).values(value=value).returning(t.c.idx)
        ).first()
        if updated is None:
            self._db.execute(
                _INSERT_ENTRY,
                {
                    "list_id": entry.list_id,
                    "idx": entry.index,
                    "credential_id": entry.credential_id,
                    "kind": entry.kind.value,
                    "value": value,
                },
            )

    def touch(self, list_ids: Iterable[str]) -> None:
        for list_id in sorted(set(list_ids)):
            self._db.execute(_TOUCH, {"list_id": list_id})

    def get(self, list_id: str) -> StatusListRecord | None:
        row = self._db.execute(_LIST_BY_ID, {"list_id": list_id}).first()
        return _record(row) if row else None

    def reported(self, list_id: str) -> list[tuple[int, int]]:
        t = status_entries
        rows = self._db.execute(select(t.c.idx, t.c.value).where(t.c.list_id == list_id, t.c.value != 0))
        return [(row.idx, row.value) for row in rows]

    def save_publication(self, list_id: str, revision: int, jwt: str, document: str | None, at: datetime) -> None:
        t = status_lists
        self._db.execute(
            update(t)
            .where(t.c.id == list_id, or_(t.c.published_revision.is_(None), t.c.published_revision < revision))
            .values(published_revision=revision, published_jwt=jwt, published_document=document, published_at=at)
        )


def _record(row: Row[Any]) -> StatusListRecord:
    return StatusListRecord(
        id=row.id,
        issuer_slug=row.issuer_slug,
        kind=StatusListKind(row.kind),
        number=row.number,
        size=row.size,
        revision=row.revision,
        published_revision=row.published_revision,
        published_jwt=row.published_jwt,
        published_document=row.published_document,
    )


class SqlHistory:
    def __init__(self, connection: LazyConnection) -> None:
        self._db = connection

    def append(self, event: LifecycleEvent) -> None:
        self._db.execute(
            _INSERT_HISTORY,
            {
                "credential_id": event.credential_id,
                "event": event.event.value,
                "from_status": event.from_status.value if event.from_status else None,
                "to_status": event.to_status.value,
                "actor_client_id": event.actor_client_id,
                "at": event.at,
                "reason_code": event.reason_code.value if event.reason_code else None,
                "reason": event.reason,
            },
        )

    def for_credential(self, credential_id: str) -> list[LifecycleEvent]:
        t = credential_history
        rows = self._db.execute(select(t).where(t.c.credential_id == credential_id).order_by(t.c.id))
        return [
            LifecycleEvent(
                credential_id=row.credential_id,
                event=LifecycleEventType(row.event),
                from_status=CredentialStatus(row.from_status) if row.from_status else None,
                to_status=CredentialStatus(row.to_status),
                actor_client_id=row.actor_client_id,
                at=row.at,
                reason_code=RevocationReason(row.reason_code) if row.reason_code else None,
                reason=row.reason,
            )
            for row in rows
        ]
