"""issuer default securing format

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every issuer so far secured its credentials as vc+jwt, the only format there was.
    with op.batch_alter_table("issuers") as table:
        table.add_column(sa.Column("default_format", sa.String(length=32), nullable=False, server_default="vc+jwt"))


def downgrade() -> None:
    with op.batch_alter_table("issuers") as table:
        table.drop_column("default_format")
