"""The SQL unit of work: one connection, one transaction, every repository bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from ec_issuer.storage.repositories import SqlClients, SqlCredentials, SqlIssuers, SqlKeys


class SqlUnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        self._connection = self._engine.connect()
        self.issuers = SqlIssuers(self._connection)
        self.keys = SqlKeys(self._connection)
        self.clients = SqlClients(self._connection)
        self.credentials = SqlCredentials(self._connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._bound()
        try:
            connection.rollback()  # a no-op after commit
        finally:
            connection.close()
            self._connection = None

    def commit(self) -> None:
        self._bound().commit()

    def _bound(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside its with-block")
        return self._connection
