"""OID4VCI credential templates: per-issuer achievements with their own credential configurations

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ec_issuer.storage.types import JsonText, UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credential_templates",
        sa.Column("issuer_slug", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("achievement", JsonText(), nullable=False),
        sa.Column("defaults", JsonText(), nullable=False),
        sa.Column("display", JsonText(), nullable=False),
        sa.Column("formats", JsonText(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("retired_at", UtcDateTime(), nullable=True),
        sa.Column("listed_until", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_slug"], ["issuers.slug"], name=op.f("fk_credential_templates_issuer_slug_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_slug", "id", name="pk_credential_templates"),
    )


def downgrade() -> None:
    op.drop_table("credential_templates")
