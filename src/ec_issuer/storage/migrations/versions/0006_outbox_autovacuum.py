"""outbox autovacuum: vacuum and analyze the outbox after 1% of its rows changed, not 20%

Every event is inserted, updated when claimed and again when settled, so the outbox's pending index fills
with dead entries and its statistics go stale within seconds of a burst. PostgreSQL's defaults wait for a
fifth of the table to change; on a table of millions of delivered events that is hours.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_SETTINGS = {"autovacuum_vacuum_scale_factor": "0.01", "autovacuum_analyze_scale_factor": "0.01", "fillfactor": "70"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE outbox_events SET ({', '.join(f'{k} = {v}' for k, v in _SETTINGS.items())})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE outbox_events RESET ({', '.join(_SETTINGS)})")
