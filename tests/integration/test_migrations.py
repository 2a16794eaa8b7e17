"""Alembic migrations: from an empty database to the schema `storage/tables.py` describes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.migrate import current_revision, head_revision, upgrade
from ec_issuer.storage.tables import metadata
from tests.services import POSTGRES_ADMIN_URL, unavailable


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def empty_postgres() -> Iterator[Engine]:
    """A database created for this test alone, dropped afterwards."""
    name = f"ec_issuer_migrate_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        unavailable("PostgreSQL", f"cannot connect to {POSTGRES_ADMIN_URL}: {exc.orig}")
    engine = make_engine(make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"empty_{request.param}")


def _schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, metadata))


def test_upgrade_brings_an_empty_database_to_head(empty_database: Engine) -> None:
    assert inspect(empty_database).get_table_names() == []
    assert current_revision(empty_database) is None
    head = head_revision(empty_database)
    assert head is not None

    upgrade(empty_database)

    assert current_revision(empty_database) == head
    tables = set(inspect(empty_database).get_table_names())
    assert set(metadata.tables) <= tables
    assert tables - set(metadata.tables) == {"alembic_version"}


def test_the_migrated_schema_matches_the_table_definitions(empty_database: Engine) -> None:
    upgrade(empty_database)
    assert _schema_differences(empty_database) == []


def test_upgrade_is_idempotent(empty_database: Engine) -> None:
    upgrade(empty_database)
    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision(empty_database)
    assert _schema_differences(empty_database) == []


def test_the_schema_keeps_its_constraints(empty_database: Engine) -> None:
    """compare_metadata does not look at partial index conditions; check the single-root rule is there."""
    upgrade(empty_database)
    indexes = {index["name"]: index for index in inspect(empty_database).get_indexes("issuers")}
    assert indexes["uq_issuers_single_root"]["unique"]
    uniques = {
        u["name"]: u["column_names"] for u in inspect(empty_database).get_unique_constraints("issued_credentials")
    }
    assert uniques["uq_issued_credentials_idempotency"] == ["client_id", "idempotency_key"]


def test_0002_dates_the_activation_of_keys_that_were_already_signing(empty_database: Engine) -> None:
    upgrade(empty_database, "0001")
    created = "2026-11-01 10:00:00+00:00"
    with empty_database.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO issuers (slug, did, name, is_root, created_at) "
                "VALUES ('acme', 'did:web:x:issuers:acme', 'ACME', false, :created)"
            ),
            {"created": created},
        )
        for kid, state in (("did:web:x:issuers:acme#a", "active"), ("did:web:x:issuers:acme#r", "retired")):
            connection.execute(
                text(
                    "INSERT INTO signing_keys (kid, issuer_slug, algorithm, public_jwk, custody, key_ref, state, "
                    "created_at) VALUES (:kid, 'acme', 'ES256', '{}', 'local', 'ref', :state, :created)"
                ),
                {"kid": kid, "state": state, "created": created},
            )

    upgrade(empty_database)

    with empty_database.connect() as connection:
        rows = connection.execute(
            text("SELECT state, activated_at IS NOT NULL, retired_at, revoked_at FROM signing_keys ORDER BY kid")
        ).all()
    assert [tuple(row) for row in rows] == [("active", True, None, None), ("retired", False, None, None)]
    assert current_revision(empty_database) == head_revision(empty_database)
