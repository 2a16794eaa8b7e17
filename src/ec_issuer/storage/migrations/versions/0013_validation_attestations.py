"""Validation attestations: the links of each ValidationCredential to the run it attests (one credential per
run and step run), and each organization's privacy opt-in

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ec_issuer.storage.types import JsonText, UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "validation_attestations",
        sa.Column("credential_id", sa.String(length=255), nullable=False),
        sa.Column("organization_id", sa.String(length=128), nullable=False),
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("submission_id", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("step_run_id", sa.String(length=128), nullable=False),
        sa.Column("action_id", sa.String(length=128), nullable=False),
        sa.Column("action_configuration", JsonText(), nullable=False),
        sa.Column("format_version", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["issued_credentials.id"],
            name=op.f("fk_validation_attestations_credential_id_issued_credentials"),
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_validation_attestations")),
        sa.UniqueConstraint("run_id", "step_run_id", name="uq_validation_attestations_run_step"),
    )
    op.create_table(
        "validation_organizations",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("allow_personal_data", sa.Boolean(), nullable=False),
        sa.Column("allow_filenames", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_organizations")),
    )


def downgrade() -> None:
    op.drop_table("validation_organizations")
    op.drop_table("validation_attestations")
