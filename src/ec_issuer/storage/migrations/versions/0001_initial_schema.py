"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ec_issuer.storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("issuer_scope", ec_issuer.storage.types.JsonText(), nullable=True),
        sa.Column("achievement_scope", ec_issuer.storage.types.JsonText(), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", ec_issuer.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_clients_token_hash")),
    )
    op.create_table(
        "issuers",
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("did", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("image", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("address", ec_issuer.storage.types.JsonText(), nullable=True),
        sa.Column("is_root", sa.Boolean(), nullable=False),
        sa.Column("created_at", ec_issuer.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_issuers")),
        sa.UniqueConstraint("did", name=op.f("uq_issuers_did")),
    )
    with op.batch_alter_table("issuers", schema=None) as batch_op:
        batch_op.create_index(
            "uq_issuers_single_root",
            ["is_root"],
            unique=True,
            sqlite_where=sa.text("is_root"),
            postgresql_where=sa.text("is_root"),
        )

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=700), nullable=False),
        sa.Column("issuer_slug", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", ec_issuer.storage.types.JsonText(), nullable=False),
        sa.Column("custody", sa.String(length=32), nullable=False),
        sa.Column("key_ref", sa.String(length=1024), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", ec_issuer.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["issuer_slug"], ["issuers.slug"], name=op.f("fk_signing_keys_issuer_slug_issuers")),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_keys_issuer_slug"), ["issuer_slug"], unique=False)

    op.create_table(
        "issued_credentials",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("issuer_slug", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("format_version", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("signed", sa.Text(), nullable=False),
        sa.Column("kid", sa.String(length=700), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_at", ec_issuer.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("valid_from", ec_issuer.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("valid_until", ec_issuer.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("achievement_id", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_issued_credentials_client_id_api_clients")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_slug"], ["issuers.slug"], name=op.f("fk_issued_credentials_issuer_slug_issuers")
        ),
        sa.ForeignKeyConstraint(["kid"], ["signing_keys.kid"], name=op.f("fk_issued_credentials_kid_signing_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_credentials")),
        sa.UniqueConstraint("client_id", "idempotency_key", name="uq_issued_credentials_idempotency"),
    )
    with op.batch_alter_table("issued_credentials", schema=None) as batch_op:
        batch_op.create_index("ix_issued_credentials_issuer_listing", ["issuer_slug", "issued_at"], unique=False)
        batch_op.create_index("ix_issued_credentials_listing", ["issued_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_issued_credentials_subject_ref"), ["subject_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issued_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issued_credentials_subject_ref"))
        batch_op.drop_index("ix_issued_credentials_listing")
        batch_op.drop_index("ix_issued_credentials_issuer_listing")

    op.drop_table("issued_credentials")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_keys_issuer_slug"))

    op.drop_table("signing_keys")
    with op.batch_alter_table("issuers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_issuers_single_root", sqlite_where=sa.text("is_root"), postgresql_where=sa.text("is_root")
        )

    op.drop_table("issuers")
    op.drop_table("api_clients")
