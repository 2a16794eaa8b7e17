"""The database schema. Alembic migrations in storage/migrations create and evolve it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ec_issuer.storage.types import JsonText, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

issuers = Table(
    "issuers",
    metadata,
    Column("slug", String(64), primary_key=True),
    Column("did", String(512), nullable=False, unique=True),
    Column("name", String(512), nullable=False),
    Column("url", Text),
    Column("email", String(254)),
    Column("image", Text),
    Column("description", Text),
    Column("address", JsonText),
    Column("is_root", Boolean, nullable=False, default=False),
    Column("default_format", String(32), nullable=False, server_default="vc+jwt"),
    # Comma-separated Bitstring Status List purposes every credential gets an entry for (migration 0004).
    Column("status_purposes", String(64), nullable=False, server_default="revocation,suspension"),
    Column("created_at", UtcDateTime, nullable=False),
)
# At most one root issuer (did:web:<host>): a partial unique index works on SQLite and PostgreSQL.
Index(
    "uq_issuers_single_root",
    issuers.c.is_root,
    unique=True,
    sqlite_where=issuers.c.is_root,
    postgresql_where=issuers.c.is_root,
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(700), primary_key=True),
    Column("issuer_slug", String(64), ForeignKey("issuers.slug"), nullable=False, index=True),
    Column("algorithm", String(16), nullable=False),
    Column("public_jwk", JsonText, nullable=False),
    Column("custody", String(32), nullable=False),
    Column("key_ref", String(1024), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("activated_at", UtcDateTime),
    Column("retired_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("revocation_reason", String(512)),
)

api_clients = Table(
    "api_clients",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(512), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("issuer_scope", JsonText),
    Column("achievement_scope", JsonText),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
)

IDEMPOTENCY_CONSTRAINT = "uq_issued_credentials_idempotency"
CREDENTIAL_PRIMARY_KEY = "pk_issued_credentials"  # named by the metadata naming convention (migration 0001)

issued_credentials = Table(
    "issued_credentials",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("issuer_slug", String(64), ForeignKey("issuers.slug"), nullable=False),
    Column("family", String(32), nullable=False),
    Column("format", String(32), nullable=False),
    Column("format_version", String(64), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("signed", Text, nullable=False),
    # None for sealed European Digital Credentials: their seal certificate is in the file (migration 0012).
    Column("kid", String(700), ForeignKey("signing_keys.kid")),
    Column("status", String(16), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("valid_from", UtcDateTime),
    Column("valid_until", UtcDateTime),
    Column("client_id", String(64), ForeignKey("api_clients.id"), nullable=False),
    Column("subject_ref", String(64), nullable=False, index=True),
    Column("achievement_id", Text),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(64)),
    # The credential's status list slots, "<list id>#<index>" (migration 0004; unique, below).
    Column("revocation_slot", String(160)),
    Column("suspension_slot", String(160)),
    Column("token_slot", String(160)),
    # The other credential issued from the same award (an EDC beside its Open Badge), and the SHA-256 of the
    # token of the public download link (migration 0012).
    Column("companion_id", String(255)),
    Column("download_token_hash", String(64)),
    UniqueConstraint("client_id", "idempotency_key", name=IDEMPOTENCY_CONSTRAINT),
)
# Partial (migration 0014): only EDCs and their Open Badges fill these, and NULL entries cost every insert.
Index(
    "ix_issued_credentials_companion",
    issued_credentials.c.companion_id,
    sqlite_where=issued_credentials.c.companion_id.is_not(None),
    postgresql_where=issued_credentials.c.companion_id.is_not(None),
)
Index(
    "uq_issued_credentials_download_token",
    issued_credentials.c.download_token_hash,
    unique=True,
    sqlite_where=issued_credentials.c.download_token_hash.is_not(None),
    postgresql_where=issued_credentials.c.download_token_hash.is_not(None),
)
Index("ix_issued_credentials_listing", issued_credentials.c.issued_at, issued_credentials.c.id)
Index("ix_issued_credentials_issuer_listing", issued_credentials.c.issuer_slug, issued_credentials.c.issued_at)
# No status list index is ever handed out twice, whatever the allocator does. Partial, so that the many
# credentials without a slot of some kind add nothing to that index.
for _kind in ("revocation", "suspension", "token"):
    _slot = issued_credentials.c[f"{_kind}_slot"]
    Index(
        f"uq_issued_credentials_{_kind}_slot",
        _slot,
        unique=True,
        sqlite_where=_slot.is_not(None),
        postgresql_where=_slot.is_not(None),
    )

# Only credentials that can still expire: most have no validUntil, and their rows stay out of it.
Index(
    "ix_issued_credentials_expiry",
    issued_credentials.c.valid_until,
    sqlite_where=issued_credentials.c.valid_until.is_not(None),
    postgresql_where=issued_credentials.c.valid_until.is_not(None),
)

# One row per status list. `next_position` counts allocations (see status/permutation.py); `revision`
# counts changes of the published values; `published_*` hold the signed form of revision
# `published_revision`, rebuilt when a request finds it older than `revision`.
status_lists = Table(
    "status_lists",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("issuer_slug", String(64), ForeignKey("issuers.slug"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("number", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("next_position", Integer, nullable=False),
    Column("permutation_key", LargeBinary, nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("published_revision", BigInteger),
    Column("published_jwt", Text),
    Column("published_document", Text),
    Column("published_at", UtcDateTime),
    UniqueConstraint("issuer_slug", "kind", "number", name="uq_status_lists_issuer_kind_number"),
)

# The values lists publish for credentials whose status has ever changed; every other entry publishes 0.
# Issuing writes nothing here: the slot lives on the credential row.
status_entries = Table(
    "status_entries",
    metadata,
    Column("list_id", String(128), ForeignKey("status_lists.id"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("credential_id", String(255), ForeignKey("issued_credentials.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", SmallInteger, nullable=False),
    PrimaryKeyConstraint("list_id", "idx", name="pk_status_entries"),
)

# The append-only lifecycle log: nothing updates or deletes these rows.
credential_history = Table(
    "credential_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("credential_id", String(255), ForeignKey("issued_credentials.id"), nullable=False, index=True),
    Column("event", String(16), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("actor_client_id", String(64)),
    Column("at", UtcDateTime, nullable=False),
    Column("reason_code", String(32)),
    Column("reason", Text),
)

# The transactional outbox: a CloudEvent per committed change, published by a relay in `seq` order.
outbox_events = Table(
    "outbox_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("type", String(128), nullable=False),
    Column("source", String(512), nullable=False),
    Column("subject", String(700), nullable=False),
    Column("time", UtcDateTime, nullable=False),
    Column("envelope", LargeBinary, nullable=False),
    Column("state", String(16), nullable=False),  # pending, delivered, dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("last_error", Text),
    Column("delivered_at", UtcDateTime),
    Column("claimed_by", String(64)),  # the relay publishing it now, until claimed_until
    Column("claimed_until", UtcDateTime),
)
# What a relay scans: only the events still to publish, in order, and per subject.
Index(
    "ix_outbox_events_pending",
    outbox_events.c.seq,
    sqlite_where=outbox_events.c.state == "pending",
    postgresql_where=outbox_events.c.state == "pending",
)
Index(
    "ix_outbox_events_dead",
    outbox_events.c.seq,
    sqlite_where=outbox_events.c.state == "dead",
    postgresql_where=outbox_events.c.state == "dead",
)
Index(
    "ix_outbox_events_pending_subject",
    outbox_events.c.subject,
    outbox_events.c.seq,
    sqlite_where=outbox_events.c.state == "pending",
    postgresql_where=outbox_events.c.state == "pending",
)

# OID4VCI offers (oid4vci/model.py). Secrets appear only as hashes: the pre-authorized code (SHA-256; the
# code itself is derived from the offer id under a server key), the transaction code (HMAC) and access tokens.
oid4vci_offers = Table(
    "oid4vci_offers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("issuer_slug", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("reference", String(64), nullable=False, unique=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("tx_code", JsonText),  # {input_mode, length, description}
    Column("tx_code_hash", String(64)),
    Column("awards", JsonText, nullable=False),  # [{id, configuration_id, request}]
    Column("state", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("code_redeemed_at", UtcDateTime),
    Column("tx_failures", Integer, nullable=False, default=0),
    Column("tx_retry_after", UtcDateTime),
    Column("credentials_issued", Integer, nullable=False, default=0),
    Column("notification_event", String(32)),
    Column("released_at", UtcDateTime),
    Column("grant_types", JsonText),  # absent on offers made before the authorization code flow: pre-authorized
)
oid4vci_access_tokens = Table(
    "oid4vci_access_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("offer_id", String(64), nullable=False, index=True),
    Column("expires_at", UtcDateTime, nullable=False),
)
# Used c_nonces, kept until they expire so that none is used twice (unused ones are not stored: see
# oid4vci/nonces.py).
oid4vci_nonces = Table(
    "oid4vci_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)
oid4vci_deliveries = Table(
    "oid4vci_deliveries",
    metadata,
    Column("notification_id", String(64), primary_key=True),
    Column("offer_id", String(64), nullable=False, index=True),
    Column("award_id", String(128), nullable=False),
    Column("credential_ids", JsonText, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=False),
    Column("event", String(32)),
    Column("notified_at", UtcDateTime),
)
oid4vci_transactions = Table(
    "oid4vci_transactions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("offer_id", String(64), nullable=False, index=True),
    Column("award_id", String(128), nullable=False),
    Column("holder_dids", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
)
# Pushed authorization requests (RFC 9126), then the authorization code each led to (both hashed).
oid4vci_authorizations = Table(
    "oid4vci_authorizations",
    metadata,
    Column("request_uri_hash", String(64), primary_key=True),
    Column("offer_id", String(64), nullable=False, index=True),
    Column("client_id", String(256), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("code_challenge", String(64), nullable=False),
    Column("state", Text),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("code_hash", String(64), unique=True),
)

# Offers handed to an external OID4VCI agent (SSI_AGENT_URL). Kept apart from oid4vci_offers: they have no
# code, token or nonce of ours, and the built-in wallet endpoints must never find them.
oid4vci_agent_offers = Table(
    "oid4vci_agent_offers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("issuer_slug", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("reference", String(64), nullable=False, unique=True),  # names the QR code endpoints
    Column("awards", JsonText, nullable=False),  # [{id, configuration_id, request}]
    Column("template_ids", JsonText, nullable=False),  # {configuration id: the agent's template id}
    Column("link", Text, nullable=False),  # the agent's openid-credential-offer:// link
    Column("state", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("redeemed_at", UtcDateTime),
    Column("credentials_issued", Integer, nullable=False, default=0),
    Column("notification_event", String(32)),
)
# One row per award handed to the agent; the agent's events name it by the agent's credential id.
oid4vci_agent_credentials = Table(
    "oid4vci_agent_credentials",
    metadata,
    Column("offer_id", String(64), nullable=False),
    Column("award_id", String(128), nullable=False),
    Column("agent_credential_id", String(256), unique=True),
    Column("notification_id", String(256)),
    Column("delivered_at", UtcDateTime),
    Column("notified_at", UtcDateTime),
    Column("event", String(32)),
    PrimaryKeyConstraint("offer_id", "award_id", name="pk_oid4vci_agent_credentials"),
)
# Every event the agent pushed: its name, the ids it named and what became of it; never its payload.
oid4vci_agent_events = Table(
    "oid4vci_agent_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("offer_id", String(256), index=True),
    Column("agent_credential_id", String(256)),
    Column("outcome", String(32), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# Credential templates (oid4vci/templates.py), per issuer. Retired ones stay: the offers made with them keep
# their configurations listed until `listed_until`.
credential_templates = Table(
    "credential_templates",
    metadata,
    Column("issuer_slug", String(64), ForeignKey("issuers.slug"), nullable=False),
    Column("id", String(64), nullable=False),
    Column("achievement", JsonText, nullable=False),
    Column("defaults", JsonText, nullable=False),  # {name, description} of the credential, those given
    Column("display", JsonText, nullable=False),  # credential_metadata.display
    Column("formats", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("retired_at", UtcDateTime),
    Column("listed_until", UtcDateTime),
    PrimaryKeyConstraint("issuer_slug", "id", name="pk_credential_templates"),
)

# Validation attestations (attestations/model.py, migration 0013): what each ValidationCredential was issued
# for. One credential per (run, step run): the unique constraint decides concurrent retries.
ATTESTATION_RUN_CONSTRAINT = "uq_validation_attestations_run_step"
validation_attestations = Table(
    "validation_attestations",
    metadata,
    Column("credential_id", String(255), ForeignKey("issued_credentials.id"), primary_key=True),
    Column("organization_id", String(128), nullable=False),
    Column("project_id", String(128), nullable=False),
    Column("submission_id", String(128), nullable=False),
    Column("run_id", String(128), nullable=False),
    Column("step_run_id", String(128), nullable=False),
    Column("action_id", String(128), nullable=False),
    Column("action_configuration", JsonText, nullable=False),
    Column("format_version", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("run_id", "step_run_id", name=ATTESTATION_RUN_CONSTRAINT),
)
# Each organization's opt-in to publishing more than opaque identifiers; no row means no opt-in.
validation_organizations = Table(
    "validation_organizations",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("allow_personal_data", Boolean, nullable=False),
    Column("allow_filenames", Boolean, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
