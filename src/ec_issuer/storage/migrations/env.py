"""Alembic environment: migrations run on the engine the caller hands over in config.attributes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from ec_issuer.storage.tables import metadata

engine = context.config.attributes["engine"]
if not isinstance(engine, Engine):
    raise TypeError("run migrations through ec_issuer.storage.migrate, which hands over the engine")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    context.run_migrations()
