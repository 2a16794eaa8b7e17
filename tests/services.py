"""Access to the real services tests talk to. Missing locally: skip with a reason. Missing in CI: fail."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def unavailable(service: str, reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{service} is required in CI but unavailable: {reason}")
    pytest.skip(f"{service} unavailable: {reason}")


def require_node() -> str:
    node = shutil.which("node")
    if node is None:
        unavailable("Node.js", "no `node` on PATH")
    if not (Path(__file__).parent / "e2e" / "js" / "node_modules" / "jose").is_dir():
        unavailable("npm package jose", "run `just dependencies` (npm ci --prefix tests/e2e/js)")
    return node


def terminate_connections_to(database_url: str) -> int:
    """Have PostgreSQL drop every connection to this database (a restart or failover, as clients see it)."""
    database = make_url(database_url).database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": database},
                ).all()
            )
    finally:
        admin.dispose()
