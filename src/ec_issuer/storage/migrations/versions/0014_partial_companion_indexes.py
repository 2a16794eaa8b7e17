"""Partial indexes for the companion and download-token columns: only European Digital Credentials and their
Open Badges fill them, so every other credential row stops writing two index entries of NULL

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_COMPANION = "ix_issued_credentials_companion"
_DOWNLOAD_LINK = "uq_issued_credentials_download_token"


def upgrade() -> None:
    op.drop_index(_DOWNLOAD_LINK, table_name="issued_credentials")
    op.drop_index(_COMPANION, table_name="issued_credentials")
    filled = {
        name: sa.text(f"{column} IS NOT NULL")
        for name, column in ((_COMPANION, "companion_id"), (_DOWNLOAD_LINK, "download_token_hash"))
    }
    op.create_index(
        _COMPANION,
        "issued_credentials",
        ["companion_id"],
        sqlite_where=filled[_COMPANION],
        postgresql_where=filled[_COMPANION],
    )
    op.create_index(
        _DOWNLOAD_LINK,
        "issued_credentials",
        ["download_token_hash"],
        unique=True,
        sqlite_where=filled[_DOWNLOAD_LINK],
        postgresql_where=filled[_DOWNLOAD_LINK],
    )


def downgrade() -> None:
    op.drop_index(_DOWNLOAD_LINK, table_name="issued_credentials")
    op.drop_index(_COMPANION, table_name="issued_credentials")
    op.create_index(_COMPANION, "issued_credentials", ["companion_id"])
    op.create_index(_DOWNLOAD_LINK, "issued_credentials", ["download_token_hash"], unique=True)
