"""Engines for SQLite (embedded default) and PostgreSQL, each bounded in how long a statement may wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ec_issuer.storage.sqlite_writers import queued_connection_class

STATEMENT_TIMEOUT_MS = 5_000


def make_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connect_args: dict[str, Any] = {"timeout": STATEMENT_TIMEOUT_MS / 1000}
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            # Writers queue instead of sleeping in SQLite's busy handler (storage/sqlite_writers.py).
            connect_args["factory"] = queued_connection_class(url.database, STATEMENT_TIMEOUT_MS / 1000)
        engine = create_engine(url, connect_args=connect_args)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql":
        return create_engine(
            url,
            pool_size=5,
            max_overflow=5,
            # No pre-ping: LazyConnection replaces a connection found dead on its first statement.
            pool_timeout=STATEMENT_TIMEOUT_MS / 1000,
            connect_args={"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}", "connect_timeout": 5},
        )
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql+psycopg")


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while a writer commits; NORMAL sync is durable across process crashes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={STATEMENT_TIMEOUT_MS}")
    cursor.close()
