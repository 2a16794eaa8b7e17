"""Storage adapters: SQLAlchemy Core tables, repositories and the unit of work, plus Alembic migrations.
SQLite is the embedded default; PostgreSQL (postgresql+psycopg://) is the production database."""
