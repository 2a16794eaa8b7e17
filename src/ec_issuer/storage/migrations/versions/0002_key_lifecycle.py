"""key lifecycle dates and revocation reason

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ec_issuer.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signing_keys") as table:
        table.add_column(sa.Column("activated_at", ec_issuer.storage.types.UtcDateTime(), nullable=True))
        table.add_column(sa.Column("retired_at", ec_issuer.storage.types.UtcDateTime(), nullable=True))
        table.add_column(sa.Column("revoked_at", ec_issuer.storage.types.UtcDateTime(), nullable=True))
        table.add_column(sa.Column("revocation_reason", sa.String(length=512), nullable=True))
    # Keys that were active before this revision have signed since they were created.
    op.execute("UPDATE signing_keys SET activated_at = created_at WHERE state = 'active'")


def downgrade() -> None:
    with op.batch_alter_table("signing_keys") as table:
        table.drop_column("revocation_reason")
        table.drop_column("revoked_at")
        table.drop_column("retired_at")
        table.drop_column("activated_at")
