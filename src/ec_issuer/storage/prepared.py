"""Statements that skip SQLAlchemy's per-statement work on SQLite, for what every issuing request runs: the
INSERTs of the rows an issued credential writes, and the idempotency SELECT before them.

On SQLite a write transaction holds the database's only write lock from its first INSERT to its COMMIT, so
whatever runs between them delays every other worker's writer too. Executing a cached Core INSERT still costs
SQLAlchemy a cache-key walk, a parameter pass through the compiled statement and a result set-up per
statement; for the three INSERTs of a ValidationCredential that was about 0.07 ms of the 0.26 ms between the
lock and the commit (bench/README.md). Here the statement is compiled once per set of columns and executed on
the driver's connection, with the values converted by the columns' own bind processors, so a row is stored
exactly as `Connection.execute(table.insert(), row)` would store it. Driver errors are wrapped as SQLAlchemy
wraps them (an `IntegrityError` whose `orig` is the driver's), so repositories handle both paths alike.

The SELECT is not inside the write window, but every request runs it, and a replay is little else: there
SQLAlchemy's execution and row set-up were about 16 µs of a 22 µs miss in a loop (bench/README.md). Its rows
come back as named tuples with the columns' own result processors applied, like SQLAlchemy's `Row`.

`LazyConnection.insert` and `LazyConnection.first` (storage/session.py) send other databases the ordinary way:
a round trip to PostgreSQL dwarfs the overhead, and only that path replaces a connection that turns out dead.
"""

from __future__ import annotations

import logging
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Dialect, Select, Table
from sqlalchemy.exc import DBAPIError, StatementError

# SQLAlchemy's engine log does not see these statements: they are logged here, at DEBUG, without values.
_log = logging.getLogger(__name__)

BindProcessor = Callable[[Any], Any] | None
ResultProcessor = Callable[[Any], Any] | None


class PreparedInsert:
    """`table.insert()` for rows given as mappings of column name to value."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.statement = table.insert()
        # (column names in the row's order) -> (SQL, [(column name, bind processor)] in parameter order)
        self._compiled: dict[tuple[str, ...], tuple[str, list[tuple[str, BindProcessor]]]] = {}

    def execute_on_sqlite(self, connection: Connection, row: Mapping[str, Any]) -> None:
        dialect = connection.dialect
        sql, parameters = self._compiled_for(dialect, tuple(row))
        try:
            values = tuple(row[name] if process is None else process(row[name]) for name, process in parameters)
        except (TypeError, ValueError) as exc:  # a value the column's type refuses, as SQLAlchemy reports it
            raise StatementError(str(exc), sql, dict(row), exc) from exc
        if not connection.in_transaction():
            connection.begin()  # SQLAlchemy's own bookkeeping: its commit() is what ends the transaction
        _run_on_driver(connection, sql, values)

    def _compiled_for(self, dialect: Dialect, names: tuple[str, ...]) -> tuple[str, list[tuple[str, BindProcessor]]]:
        compiled = self._compiled.get(names)
        if compiled is None:
            statement = self.statement.compile(dialect=dialect, column_keys=list(names))
            order = statement.positiontup or ()  # SQLite's parameters are positional
            columns = self.table.c
            processors: list[tuple[str, BindProcessor]] = [
                (name, columns[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in order
            ]
            compiled = self._compiled[names] = (str(statement), processors)
        return compiled


class PreparedSelect:
    """A SELECT with named bind parameters whose first row is read as a named tuple."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: tuple[str, tuple[str, ...], Callable[..., Any], list[ResultProcessor]] | None = None

    def first_on_sqlite(self, connection: Connection, parameters: Mapping[str, Any]) -> Any | None:
        sql, names, row_type, processors = self._compiled_for(connection.dialect)
        values = tuple(parameters[name] for name in names)
        raw = _run_on_driver(connection, sql, values).fetchone()  # the cursor, freed on return, ends the statement
        if raw is None:
            return None
        return row_type(
            *(value if process is None else process(value) for value, process in zip(raw, processors, strict=True))
        )

    def _compiled_for(self, dialect: Dialect) -> tuple[str, tuple[str, ...], Callable[..., Any], list[ResultProcessor]]:
        if self._compiled is None:
            compiled = self.statement.compile(dialect=dialect)
            columns = list(self.statement.selected_columns)
            keys = list(self.statement.selected_columns.keys())
            processors: list[ResultProcessor] = [
                column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
            ]
            # Fields named at run time, by the statement's columns: no static NamedTuple could name them.
            row_type = namedtuple("PreparedRow", keys)  # pyright: ignore[reportUntypedNamedTuple]
            self._compiled = (str(compiled), tuple(compiled.positiontup or ()), row_type, processors)
        return self._compiled


def _run_on_driver(connection: Connection, sql: str, values: tuple[Any, ...]) -> Any:
    """The driver's cursor after running `sql`; its errors wrapped as SQLAlchemy wraps them."""
    dialect = connection.dialect
    driver: Any = connection.connection.driver_connection  # sqlite3.Connection (storage/sqlite_writers.py)
    _log.debug("%s [prepared, %d values]", sql, len(values))
    try:
        return driver.execute(sql, values)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, values, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc
