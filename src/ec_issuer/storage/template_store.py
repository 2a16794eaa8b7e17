"""SQLAlchemy Core implementation of the credential template store; every method is one short transaction.

The metadata reads an issuer's listed templates on every request: those reads go through the per-process read
cache (storage/cache.py), which this store's own writes drop at once and again after their commit.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, bindparam, case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ec_issuer.events.model import OutboxEvent
from ec_issuer.oid4vci.templates import CredentialTemplate
from ec_issuer.storage.cache import NO_CACHE, ReadCache, Region
from ec_issuer.storage.failures import connected, transaction
from ec_issuer.storage.outbox import record_events
from ec_issuer.storage.tables import credential_templates
from ec_issuer.storage.types import UtcDateTime

_templates = credential_templates
_LISTED = (
    select(_templates)
    .where(
        _templates.c.issuer_slug == bindparam("slug"),
        or_(_templates.c.retired_at.is_(None), _templates.c.listed_until > bindparam("now")),
    )
    .order_by(_templates.c.id)
)
_UPSERT = {"sqlite": sqlite_insert(_templates), "postgresql": postgresql_insert(_templates)}
_REPLACED_COLUMNS = ("achievement", "defaults", "display", "formats", "updated_at", "retired_at")


class SqlTemplateStore:
    def __init__(self, engine: Engine, cache: ReadCache = NO_CACHE) -> None:
        self._engine = engine
        self._cache = cache

    def template(self, issuer_slug: str, template_id: str) -> CredentialTemplate | None:
        with connected(self._engine) as connection:
            row = connection.execute(
                select(_templates).where(_templates.c.issuer_slug == issuer_slug, _templates.c.id == template_id)
            ).first()
        return _template(row) if row is not None else None

    def active(self, issuer_slug: str) -> list[CredentialTemplate]:
        with connected(self._engine) as connection:
            rows = connection.execute(
                select(_templates)
                .where(_templates.c.issuer_slug == issuer_slug, _templates.c.retired_at.is_(None))
                .order_by(_templates.c.id)
            ).all()
        return [_template(row) for row in rows]

    def listed(self, issuer_slug: str, now: datetime) -> list[CredentialTemplate]:
        cached = self._cache.get(Region.TEMPLATES, issuer_slug)
        if cached is not None:
            return list(cast(tuple[CredentialTemplate, ...], cached))
        with connected(self._engine) as connection:
            rows = connection.execute(_LISTED, {"slug": issuer_slug, "now": now}).all()
        listed = tuple(_template(row) for row in rows)
        self._cache.put(Region.TEMPLATES, issuer_slug, listed)
        return list(listed)

    def put(self, template: CredentialTemplate, event: OutboxEvent) -> None:
        upsert = _UPSERT[self._engine.dialect.name].values(_row(template))
        statement = upsert.on_conflict_do_update(
            index_elements=[_templates.c.issuer_slug, _templates.c.id],
            set_={name: upsert.excluded[name] for name in _REPLACED_COLUMNS},
        )
        with self._changing() as connection:
            connection.execute(statement)
            record_events(connection, [event])

    def retire(self, issuer_slug: str, template_id: str, now: datetime, event: OutboxEvent) -> bool:
        statement = (
            update(_templates)
            .where(
                _templates.c.issuer_slug == issuer_slug,
                _templates.c.id == template_id,
                _templates.c.retired_at.is_(None),
            )
            .values(retired_at=now)
        )
        with self._changing() as connection:
            if connection.execute(statement).rowcount != 1:
                return False  # retired meanwhile
            record_events(connection, [event])
        return True

    def keep_listed(self, issuer_slug: str, template_ids: set[str], until: datetime) -> None:
        later = bindparam("until", until, type_=UtcDateTime())
        statement = (
            update(_templates)
            .where(_templates.c.issuer_slug == issuer_slug, _templates.c.id.in_(template_ids))
            .values(
                listed_until=case(
                    (or_(_templates.c.listed_until.is_(None), _templates.c.listed_until < later), later),
                    else_=_templates.c.listed_until,
                )
            )
            .returning(_templates.c.retired_at)
        )
        with transaction(self._engine) as connection:
            retired = [row.retired_at for row in connection.execute(statement) if row.retired_at is not None]
        if retired:  # the listing of an active template does not change: the cache stays warm for those
            self._cache.invalidate(Region.TEMPLATES)

    @contextmanager
    def _changing(self) -> Generator[Connection]:
        self._cache.invalidate(Region.TEMPLATES)
        try:
            with transaction(self._engine) as connection:
                yield connection
        finally:
            # Again once committed: a reader racing the commit may have cached the rows as they were.
            self._cache.invalidate(Region.TEMPLATES)


def _row(template: CredentialTemplate) -> dict[str, Any]:
    return {
        "issuer_slug": template.issuer_slug,
        "id": template.id,
        "achievement": template.achievement,
        "defaults": template.defaults,
        "display": list(template.display),
        "formats": list(template.formats),
        "created_at": template.created_at,
        "updated_at": template.updated_at,
        "retired_at": template.retired_at,
        "listed_until": template.listed_until,
    }


def _template(row: Row[Any]) -> CredentialTemplate:
    return CredentialTemplate(
        issuer_slug=row.issuer_slug,
        id=row.id,
        achievement=row.achievement,
        defaults=row.defaults,
        display=tuple(row.display),
        formats=tuple(row.formats),
        created_at=row.created_at,
        updated_at=row.updated_at,
        retired_at=row.retired_at,
        listed_until=row.listed_until,
    )
