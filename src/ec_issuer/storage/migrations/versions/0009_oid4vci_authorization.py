"""OID4VCI authorization code flow: pushed authorization requests and their codes; the grants of an offer

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ec_issuer.storage.types import JsonText, UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oid4vci_authorizations",
        sa.Column("request_uri_hash", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=256), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=64), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("request_uri_hash", name=op.f("pk_oid4vci_authorizations")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oid4vci_authorizations_code_hash")),
    )
    with op.batch_alter_table("oid4vci_authorizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oid4vci_authorizations_offer_id"), ["offer_id"], unique=False)

    with op.batch_alter_table("oid4vci_offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grant_types", JsonText(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oid4vci_offers", schema=None) as batch_op:
        batch_op.drop_column("grant_types")

    with op.batch_alter_table("oid4vci_authorizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oid4vci_authorizations_offer_id"))

    op.drop_table("oid4vci_authorizations")
