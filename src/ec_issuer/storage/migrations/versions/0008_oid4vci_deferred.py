"""OID4VCI deferred issuance: transactions waiting for an offer's release

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ec_issuer.storage.types import JsonText, UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oid4vci_transactions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("award_id", sa.String(length=128), nullable=False),
        sa.Column("holder_dids", JsonText(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oid4vci_transactions")),
    )
    with op.batch_alter_table("oid4vci_transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oid4vci_transactions_offer_id"), ["offer_id"], unique=False)

    with op.batch_alter_table("oid4vci_offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("released_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oid4vci_offers", schema=None) as batch_op:
        batch_op.drop_column("released_at")

    with op.batch_alter_table("oid4vci_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oid4vci_transactions_offer_id"))

    op.drop_table("oid4vci_transactions")
