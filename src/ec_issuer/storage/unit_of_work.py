"""The SQL unit of work: one connection, one transaction, every repository bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from ec_issuer.core.errors import Unavailable
from ec_issuer.storage.attestation_store import SqlAttestations
from ec_issuer.storage.cache import NO_CACHE, ReadCache, Region
from ec_issuer.storage.failures import RETRYABLE, UNAVAILABLE_DETAIL
from ec_issuer.storage.oid4vci_store import SqlWalletRequests
from ec_issuer.storage.outbox import SqlOutbox
from ec_issuer.storage.repositories import SqlClients, SqlCredentials, SqlIssuers, SqlKeys
from ec_issuer.storage.session import LazyConnection
from ec_issuer.storage.status_repositories import SqlHistory, SqlStatusLists


class SqlUnitOfWork:
    def __init__(self, engine: Engine, cache: ReadCache = NO_CACHE) -> None:
        self._engine = engine
        self._cache = cache
        self._connection: LazyConnection | None = None
        self._touched: set[Region] = set()

    def __enter__(self) -> Self:
        self._connection = LazyConnection(self._engine)
        self._touched = set()
        self.issuers = SqlIssuers(self._connection, self._cache, self._touched)
        self.keys = SqlKeys(self._connection, self._cache, self._touched)
        self.clients = SqlClients(self._connection, self._cache, self._touched)
        self.credentials = SqlCredentials(self._connection, self._cache, self._touched)
        self.status_lists = SqlStatusLists(self._connection)
        self.history = SqlHistory(self._connection)
        self.outbox = SqlOutbox(self._connection)
        self.wallet_requests = SqlWalletRequests(self._connection)
        self.attestations = SqlAttestations(self._connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for region in self._touched:  # written but not committed: drop what may have been read meanwhile
            self._cache.invalidate(region)
        connection, self._connection = self._bound(), None
        try:
            connection.rollback()  # a no-op after commit
        except OperationalError:
            pass  # the connection is lost; the server has dropped its transaction with it
        finally:
            connection.retire()
        if isinstance(exc, RETRYABLE):
            # Unreachable server, lost connection, lock or statement timeout, exhausted pool: the
            # request may succeed if repeated, which is what 503 tells the caller.
            raise Unavailable(UNAVAILABLE_DETAIL) from exc

    def commit(self) -> None:
        self._bound().commit()
        # Dropped again now that the change is visible: a reader that raced the commit may have
        # refilled the cache with the old rows in between.
        for region in self._touched:
            self._cache.invalidate(region)
        self._touched.clear()

    def _bound(self) -> LazyConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside its with-block")
        return self._connection
