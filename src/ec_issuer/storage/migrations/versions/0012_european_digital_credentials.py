"""European Digital Credentials beside Open Badges: a sealed EDC has no signing-key record (its seal
certificate travels in the file), may belong to the Open Badge issued from the same award, and can be
downloaded through a public link whose token is stored hashed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issued_credentials") as table:
        table.alter_column("kid", existing_type=sa.String(length=700), nullable=True)
        table.add_column(sa.Column("companion_id", sa.String(length=255), nullable=True))
        table.add_column(sa.Column("download_token_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_issued_credentials_companion", "issued_credentials", ["companion_id"])
    op.create_index("uq_issued_credentials_download_token", "issued_credentials", ["download_token_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_issued_credentials_download_token", table_name="issued_credentials")
    op.drop_index("ix_issued_credentials_companion", table_name="issued_credentials")
    # EDCs have no signing key: they go, or the column could not be made mandatory again.
    op.execute("DELETE FROM issued_credentials WHERE kid IS NULL")
    with op.batch_alter_table("issued_credentials") as table:
        table.drop_column("download_token_hash")
        table.drop_column("companion_id")
        table.alter_column("kid", existing_type=sa.String(length=700), nullable=False)
