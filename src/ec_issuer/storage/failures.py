"""Database failures a caller may retry, as the domain's `Unavailable` (503 over HTTP).

The unit of work translates them for everything it runs. The stores that open their own short transactions
(the relay's outbox, OID4VCI wallet requests, templates, the agent's records, status slots) go through
`connected` and `transaction` instead of the engine, so that an unreachable server, a lost connection, a lock
or statement timeout or an exhausted pool is the same answer there: not a 500, and not an exception that
ends a background loop.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ec_issuer.core.errors import Unavailable

RETRYABLE = (OperationalError, PoolTimeout)
UNAVAILABLE_DETAIL = "the database is unavailable or busy; retry shortly"


@contextmanager
def unavailable_on_failure() -> Generator[None]:
    try:
        yield
    except RETRYABLE as exc:
        raise Unavailable(UNAVAILABLE_DETAIL) from exc


@contextmanager
def connected(engine: Engine) -> Generator[Connection]:
    """`engine.connect()`, with retryable failures raised as Unavailable."""
    with unavailable_on_failure(), engine.connect() as connection:
        yield connection


@contextmanager
def transaction(engine: Engine) -> Generator[Connection]:
    """`engine.begin()`, with retryable failures raised as Unavailable."""
    with unavailable_on_failure(), engine.begin() as connection:
        yield connection
