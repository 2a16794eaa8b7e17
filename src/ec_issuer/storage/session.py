"""The connection of one unit of work: checked out on the first statement, replaced once if it was dead."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Result
from sqlalchemy.exc import DBAPIError

from ec_issuer.storage.prepared import PreparedInsert, PreparedSelect


class LazyConnection:
    """Takes a pooled connection only when a statement needs one, so that work answered from the read
    cache costs no round trip.

    Instead of pinging every connection on checkout (a round trip per request, about a fifth of
    PostgreSQL issuing throughput here), a connection that turns out dead on the first statement of its
    transaction (server restart, idle timeout, a killed backend) is replaced and the statement run again.
    That is safe because nothing has happened in that transaction yet; a failure later in a transaction
    propagates and the unit of work answers 503.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._in_transaction = False
        self._retired = False

    @property
    def dialect_name(self) -> str:
        return self._engine.dialect.name

    def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> Result[Any]:
        connection = self._checked_out()
        try:
            result = connection.execute(statement, parameters)
        except DBAPIError as exc:
            if self._in_transaction or not exc.connection_invalidated:
                raise
            self.close()
            result = self._checked_out().execute(statement, parameters)
        self._in_transaction = True
        return result

    def insert(self, statement: PreparedInsert, row: Mapping[str, Any]) -> None:
        """Run a prepared INSERT (storage/prepared.py) in this unit of work's transaction."""
        if self.dialect_name != "sqlite":
            self.execute(statement.statement, dict(row))  # may replace a dead connection first
            return
        statement.execute_on_sqlite(self._checked_out(), row)
        self._in_transaction = True

    def first(self, statement: PreparedSelect, parameters: Mapping[str, Any]) -> Any | None:
        """The first row of a prepared SELECT (storage/prepared.py), or None."""
        if self.dialect_name != "sqlite":
            return self.execute(statement.statement, dict(parameters)).first()
        row = statement.first_on_sqlite(self._checked_out(), parameters)
        self._in_transaction = True
        return row

    def surviving_failure(self) -> AbstractContextManager[object]:
        """Wraps a statement whose failure the caller handles, so that the transaction goes on after it.

        PostgreSQL aborts the whole transaction on a failed statement, so there the statement runs in a
        savepoint. SQLite undoes only the failed statement, and a savepoint there would break atomicity:
        pysqlite opens no transaction before a SAVEPOINT, so the savepoint itself opens it, and its RELEASE
        commits everything written so far; what follows runs in a new transaction.
        """
        if self.dialect_name == "sqlite":
            return contextlib.nullcontext()
        return self._checked_out().begin_nested()

    def commit(self) -> None:
        if self._connection is not None:
            self._connection.commit()
        self._in_transaction = False

    def rollback(self) -> None:
        if self._connection is not None:
            self._connection.rollback()
        self._in_transaction = False

    def close(self) -> None:
        connection, self._connection = self._connection, None
        self._in_transaction = False
        if connection is not None:
            connection.close()

    def retire(self) -> None:
        """Close for good: the unit of work has ended, and a repository kept past it must not reconnect."""
        self.close()
        self._retired = True

    def _checked_out(self) -> Connection:
        if self._retired:
            raise RuntimeError("the unit of work is used outside its with-block")
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection
