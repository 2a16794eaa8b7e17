"""Prepared statements on a real SQLite file: the same values stored and read as through SQLAlchemy, the same
errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, LargeBinary, MetaData, String, Table, bindparam, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.prepared import PreparedInsert, PreparedSelect
from ec_issuer.storage.session import LazyConnection
from ec_issuer.storage.types import JsonText, UtcDateTime

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("later", UtcDateTime),
    Column("body", LargeBinary, nullable=False),
    Column("settings", JsonText),
    Column("count", Integer, nullable=False),
)
PREPARED = PreparedInsert(things)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'things.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def row(identifier: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": identifier,
        "at": datetime(2026, 5, 17, 11, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        "later": None,
        "body": b"\x00\x01payload",
        "settings": {"b": 1, "a": [True, None, "\u00e9"]},
        "count": 3,
    }
    return values | changes


def stored(engine: Engine, identifier: str) -> tuple[Any, ...]:
    """The row as SQLite holds it, below every type conversion."""
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT * FROM things WHERE id = :id"), {"id": identifier}).one()
    return tuple(raw)


def test_stores_exactly_what_sqlalchemys_insert_stores(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(things.insert(), row("by-sqlalchemy"))
        connection.execute(things.insert(), row("by-sqlalchemy-later", later=datetime(2027, 1, 1, tzinfo=UTC)))
    lazy = LazyConnection(engine)
    lazy.insert(PREPARED, row("prepared"))
    lazy.insert(PREPARED, row("prepared-later", later=datetime(2027, 1, 1, tzinfo=UTC)))
    lazy.commit()
    lazy.close()
    assert stored(engine, "prepared")[1:] == stored(engine, "by-sqlalchemy")[1:]
    assert stored(engine, "prepared-later")[1:] == stored(engine, "by-sqlalchemy-later")[1:]
    assert stored(engine, "prepared")[1] == "2026-05-17 09:30:00.123456"  # UTC, as UtcDateTime stores it


def test_the_first_statement_opens_a_transaction_that_rollback_undoes(engine: Engine) -> None:
    lazy = LazyConnection(engine)
    lazy.insert(PREPARED, row("undone"))
    lazy.rollback()
    lazy.insert(PREPARED, row("kept"))
    lazy.commit()
    lazy.close()
    with engine.connect() as connection:
        ids = connection.execute(text("SELECT id FROM things ORDER BY id")).scalars().all()
    assert ids == ["kept"]


def test_a_duplicate_key_is_sqlalchemys_integrity_error_with_the_drivers_message(engine: Engine) -> None:
    lazy = LazyConnection(engine)
    lazy.insert(PREPARED, row("twice"))
    with pytest.raises(IntegrityError) as raised:
        lazy.insert(PREPARED, row("twice"))
    assert str(raised.value.orig) == "UNIQUE constraint failed: things.id"
    lazy.rollback()
    lazy.close()


def test_a_value_the_column_type_refuses_is_a_statement_error(engine: Engine) -> None:
    lazy = LazyConnection(engine)
    with pytest.raises(StatementError, match="naive datetimes are not stored"):
        lazy.insert(PREPARED, row("naive", at=datetime(2026, 1, 1)))
    lazy.rollback()
    lazy.close()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM things")).scalar_one() == 0


def test_rows_with_other_columns_compile_their_own_statement(engine: Engine) -> None:
    lazy = LazyConnection(engine)
    lazy.insert(PREPARED, row("full"))
    lazy.insert(PREPARED, {"id": "short", "at": datetime(2026, 1, 1, tzinfo=UTC), "body": b"", "count": 0})
    lazy.commit()
    lazy.close()
    assert stored(engine, "short")[2:5:2] == (None, None)  # later, settings: not sent, so NULL


# ------------------------------------------------------------------------------------------------- SELECT

BY_ID = select(things, things.c.count.label("renamed_count")).where(things.c.id == bindparam("wanted"))
PREPARED_BY_ID = PreparedSelect(BY_ID)


def test_a_prepared_select_reads_what_sqlalchemy_reads(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(things.insert(), row("one", later=datetime(2027, 1, 1, tzinfo=UTC)))
        connection.execute(things.insert(), row("two"))
    lazy = LazyConnection(engine)
    for identifier in ("one", "two"):
        prepared = lazy.first(PREPARED_BY_ID, {"wanted": identifier})
        assert prepared is not None
        with engine.connect() as connection:
            expected = connection.execute(BY_ID, {"wanted": identifier}).one()
        assert tuple(prepared) == tuple(expected)
        assert prepared.at == expected.at == datetime(2026, 5, 17, 9, 30, 0, 123456, tzinfo=UTC)
        assert prepared.settings == {"b": 1, "a": [True, None, "\u00e9"]}
        assert prepared.renamed_count == 3
    assert lazy.first(PREPARED_BY_ID, {"wanted": "none"}) is None
    lazy.close()
