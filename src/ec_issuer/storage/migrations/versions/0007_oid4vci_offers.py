"""OID4VCI: offers, access tokens, nonces and deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ec_issuer.storage.types import JsonText, UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oid4vci_access_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_oid4vci_access_tokens")),
    )
    with op.batch_alter_table("oid4vci_access_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oid4vci_access_tokens_offer_id"), ["offer_id"], unique=False)

    op.create_table(
        "oid4vci_deliveries",
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("award_id", sa.String(length=128), nullable=False),
        sa.Column("credential_ids", JsonText(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=True),
        sa.Column("notified_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_oid4vci_deliveries")),
    )
    with op.batch_alter_table("oid4vci_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oid4vci_deliveries_offer_id"), ["offer_id"], unique=False)

    op.create_table(
        "oid4vci_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_oid4vci_nonces")),
    )
    with op.batch_alter_table("oid4vci_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oid4vci_nonces_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "oid4vci_offers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("issuer_slug", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("tx_code", JsonText(), nullable=True),
        sa.Column("tx_code_hash", sa.String(length=64), nullable=True),
        sa.Column("awards", JsonText(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("code_redeemed_at", UtcDateTime(), nullable=True),
        sa.Column("tx_failures", sa.Integer(), nullable=False),
        sa.Column("tx_retry_after", UtcDateTime(), nullable=True),
        sa.Column("credentials_issued", sa.Integer(), nullable=False),
        sa.Column("notification_event", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oid4vci_offers")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oid4vci_offers_code_hash")),
        sa.UniqueConstraint("reference", name=op.f("uq_oid4vci_offers_reference")),
    )


def downgrade() -> None:
    op.drop_table("oid4vci_offers")
    with op.batch_alter_table("oid4vci_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oid4vci_nonces_expires_at"))

    op.drop_table("oid4vci_nonces")
    with op.batch_alter_table("oid4vci_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oid4vci_deliveries_offer_id"))

    op.drop_table("oid4vci_deliveries")
    with op.batch_alter_table("oid4vci_access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oid4vci_access_tokens_offer_id"))

    op.drop_table("oid4vci_access_tokens")
