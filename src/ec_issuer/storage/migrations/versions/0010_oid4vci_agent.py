"""OID4VCI external agent: offers handed to the agent, their credentials, and the events the agent pushed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ec_issuer.storage.types import JsonText, UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oid4vci_agent_offers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("issuer_slug", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("awards", JsonText(), nullable=False),
        sa.Column("template_ids", JsonText(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("redeemed_at", UtcDateTime(), nullable=True),
        sa.Column("credentials_issued", sa.Integer(), nullable=False),
        sa.Column("notification_event", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oid4vci_agent_offers")),
        sa.UniqueConstraint("reference", name=op.f("uq_oid4vci_agent_offers_reference")),
    )
    op.create_table(
        "oid4vci_agent_credentials",
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("award_id", sa.String(length=128), nullable=False),
        sa.Column("agent_credential_id", sa.String(length=256), nullable=True),
        sa.Column("notification_id", sa.String(length=256), nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.Column("notified_at", UtcDateTime(), nullable=True),
        sa.Column("event", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("offer_id", "award_id", name="pk_oid4vci_agent_credentials"),
        sa.UniqueConstraint("agent_credential_id", name=op.f("uq_oid4vci_agent_credentials_agent_credential_id")),
    )
    op.create_table(
        "oid4vci_agent_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=256), nullable=True),
        sa.Column("agent_credential_id", sa.String(length=256), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_oid4vci_agent_events")),
    )
    with op.batch_alter_table("oid4vci_agent_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oid4vci_agent_events_offer_id"), ["offer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oid4vci_agent_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oid4vci_agent_events_offer_id"))
    op.drop_table("oid4vci_agent_events")
    op.drop_table("oid4vci_agent_credentials")
    op.drop_table("oid4vci_agent_offers")
