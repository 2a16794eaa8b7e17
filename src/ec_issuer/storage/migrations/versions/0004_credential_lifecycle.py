"""credential lifecycle: status lists, status entries, lifecycle history

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ec_issuer.storage.types import UtcDateTime

SLOT_KINDS = ("revocation", "suspension", "token")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issuers") as table:
        table.add_column(
            sa.Column("status_purposes", sa.String(length=64), nullable=False, server_default="revocation,suspension")
        )
    with op.batch_alter_table("issued_credentials") as table:
        for kind in SLOT_KINDS:
            table.add_column(sa.Column(f"{kind}_slot", sa.String(length=160), nullable=True))
    for kind in SLOT_KINDS:
        op.create_index(
            f"uq_issued_credentials_{kind}_slot",
            "issued_credentials",
            [f"{kind}_slot"],
            unique=True,
            sqlite_where=sa.text(f"{kind}_slot IS NOT NULL"),
            postgresql_where=sa.text(f"{kind}_slot IS NOT NULL"),
        )
    op.create_index(
        "ix_issued_credentials_expiry",
        "issued_credentials",
        ["valid_until"],
        sqlite_where=sa.text("valid_until IS NOT NULL"),
        postgresql_where=sa.text("valid_until IS NOT NULL"),
    )
    op.create_table(
        "status_lists",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("issuer_slug", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("next_position", sa.Integer(), nullable=False),
        sa.Column("permutation_key", sa.LargeBinary(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("published_revision", sa.BigInteger(), nullable=True),
        sa.Column("published_jwt", sa.Text(), nullable=True),
        sa.Column("published_document", sa.Text(), nullable=True),
        sa.Column("published_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["issuer_slug"], ["issuers.slug"], name="fk_status_lists_issuer_slug_issuers"),
        sa.PrimaryKeyConstraint("id", name="pk_status_lists"),
        sa.UniqueConstraint("issuer_slug", "kind", "number", name="uq_status_lists_issuer_kind_number"),
    )
    op.create_table(
        "status_entries",
        sa.Column("list_id", sa.String(length=128), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["status_lists.id"], name="fk_status_entries_list_id_status_lists"),
        sa.ForeignKeyConstraint(
            ["credential_id"], ["issued_credentials.id"], name="fk_status_entries_credential_id_issued_credentials"
        ),
        sa.PrimaryKeyConstraint("list_id", "idx", name="pk_status_entries"),
    )
    op.create_table(
        "credential_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("credential_id", sa.String(length=255), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_client_id", sa.String(length=64), nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"], ["issued_credentials.id"], name="fk_credential_history_credential_id_issued_credentials"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_credential_history"),
    )
    op.create_index("ix_credential_history_credential_id", "credential_history", ["credential_id"])


def downgrade() -> None:
    op.drop_index("ix_credential_history_credential_id", table_name="credential_history")
    op.drop_table("credential_history")
    op.drop_table("status_entries")
    op.drop_table("status_lists")
    op.drop_index("ix_issued_credentials_expiry", table_name="issued_credentials")
    for kind in SLOT_KINDS:
        op.drop_index(f"uq_issued_credentials_{kind}_slot", table_name="issued_credentials")
    with op.batch_alter_table("issued_credentials") as table:
        for kind in SLOT_KINDS:
            table.drop_column(f"{kind}_slot")
    with op.batch_alter_table("issuers") as table:
        table.drop_column("status_purposes")
