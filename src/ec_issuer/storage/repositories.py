"""SQLAlchemy Core implementations of the repository ports, bound to one connection (transaction)."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from ec_issuer.access.model import ApiClient
from ec_issuer.credentials.model import CredentialFilter, CredentialStatus, IssuedCredential, PageCursor
from ec_issuer.credentials.ports import DuplicateCredentialId, DuplicateIdempotencyKey
from ec_issuer.issuers.model import Address, Issuer
from ec_issuer.keys.model import Algorithm, KeyState, SigningKey
from ec_issuer.storage.cache import ReadCache, Region
from ec_issuer.storage.prepared import PreparedInsert
from ec_issuer.storage.session import LazyConnection
from ec_issuer.storage.tables import (
    CREDENTIAL_PRIMARY_KEY,
    IDEMPOTENCY_CONSTRAINT,
    api_clients,
    issued_credentials,
    issuers,
    signing_keys,
)

# Built once: the hot reads and the credential INSERT then hit SQLAlchemy's compiled cache directly.
_ISSUER_BY_SLUG = select(issuers).where(issuers.c.slug == bindparam("slug"))
_ISSUER_BY_DID = select(issuers).where(issuers.c.did == bindparam("did"))
_KEYS_OF_ISSUER = (
    select(signing_keys).where(signing_keys.c.issuer_slug == bindparam("slug")).order_by(signing_keys.c.created_at)
)
_CLIENT_BY_TOKEN_HASH = select(api_clients).where(api_clients.c.token_hash == bindparam("token_hash"))
_CLIENT_BY_ID = select(api_clients).where(api_clients.c.id == bindparam("id"))
_CREDENTIAL_BY_ID = select(issued_credentials).where(issued_credentials.c.id == bindparam("id"))
_KEY_BY_KID = select(signing_keys).where(signing_keys.c.kid == bindparam("kid"))
_INSERT_CREDENTIAL = PreparedInsert(issued_credentials)


class _Repository:
    """Runs statements on the unit of work's connection (see `LazyConnection`) and reads through the cache."""

    def __init__(self, connection: LazyConnection, cache: ReadCache, touched: set[Region]) -> None:
        self._db = connection
        self._cache = cache
        self._touched = touched

    def _changed(self, region: Region) -> None:
        self._cache.invalidate(region)
        self._touched.add(region)

    def _remember(self, region: Region, key: Hashable, value: object) -> None:
        # A transaction that wrote to the region reads its own uncommitted rows: never share those.
        if region not in self._touched:
            self._cache.put(region, key, value)


class SqlIssuers(_Repository):
    def add(self, issuer: Issuer) -> None:
        address = None
        if issuer.address is not None:
            address = {k: v for k, v in issuer.address.to_ob3().items() if k != "type"}
        self._db.execute(
            issuers.insert().values(
                slug=issuer.slug,
                did=issuer.did,
                name=issuer.name,
                url=issuer.url,
                email=issuer.email,
                image=issuer.image,
                description=issuer.description,
                address=address,
                is_root=issuer.is_root,
                default_format=issuer.default_format,
                status_purposes=",".join(issuer.status_purposes),
                created_at=issuer.created_at,
            )
        )
        self._changed(Region.ISSUERS)

    def get(self, slug: str) -> Issuer | None:
        return self._cached_one(("slug", slug), _ISSUER_BY_SLUG, {"slug": slug})

    def get_by_did(self, did: str) -> Issuer | None:
        return self._cached_one(("did", did), _ISSUER_BY_DID, {"did": did})

    def get_root(self) -> Issuer | None:
        row = self._db.execute(select(issuers).where(issuers.c.is_root.is_(True))).first()
        return _issuer(row) if row else None

    def all(self) -> list[Issuer]:
        return [_issuer(row) for row in self._db.execute(select(issuers).order_by(issuers.c.slug))]

    def _cached_one(self, key: tuple[str, str], query: Any, parameters: dict[str, str]) -> Issuer | None:
        cached = self._cache.get(Region.ISSUERS, key)
        if cached is not None:
            return cast(Issuer, cached)
        row = self._db.execute(query, parameters).first()
        if row is None:
            return None
        issuer = _issuer(row)
        self._remember(Region.ISSUERS, key, issuer)
        return issuer


def _issuer(row: Row[Any]) -> Issuer:
    address = None
    if row.address:
        a = row.address
        address = Address(
            a.get("streetAddress"),
            a.get("addressLocality"),
            a.get("addressRegion"),
            a.get("postalCode"),
            a.get("addressCountry"),
        )
    return Issuer(
        slug=row.slug,
        did=row.did,
        name=row.name,
        url=row.url,
        email=row.email,
        image=row.image,
        description=row.description,
        address=address,
        is_root=row.is_root,
        default_format=row.default_format,
        status_purposes=tuple(p for p in row.status_purposes.split(",") if p),
        created_at=row.created_at,
    )


class SqlKeys(_Repository):
    def add(self, key: SigningKey) -> None:
        self._db.execute(
            signing_keys.insert().values(
                kid=key.kid,
                issuer_slug=key.issuer_slug,
                algorithm=key.algorithm.value,
                public_jwk=key.public_jwk,
                custody=key.custody,
                key_ref=key.key_ref,
                state=key.state.value,
                created_at=key.created_at,
                activated_at=key.activated_at,
                retired_at=key.retired_at,
                revoked_at=key.revoked_at,
                revocation_reason=key.revocation_reason,
            )
        )
        self._changed(Region.KEYS)

    def update(self, key: SigningKey) -> None:
        self._db.execute(
            update(signing_keys)
            .where(signing_keys.c.kid == key.kid)
            .values(
                state=key.state.value,
                activated_at=key.activated_at,
                retired_at=key.retired_at,
                revoked_at=key.revoked_at,
                revocation_reason=key.revocation_reason,
            )
        )
        self._changed(Region.KEYS)

    def get(self, kid: str) -> SigningKey | None:
        row = self._db.execute(_KEY_BY_KID, {"kid": kid}).first()
        return _key(row) if row else None

    def for_issuer(self, issuer_slug: str, *, fresh: bool = False) -> list[SigningKey]:
        cached = None if fresh else self._cache.get(Region.KEYS, issuer_slug)
        if cached is not None:
            return list(cast(tuple[SigningKey, ...], cached))
        keys = tuple(_key(row) for row in self._db.execute(_KEYS_OF_ISSUER, {"slug": issuer_slug}))
        self._remember(Region.KEYS, issuer_slug, keys)
        return list(keys)

    def all_published(self) -> list[SigningKey]:
        query = (
            select(signing_keys)
            .where(signing_keys.c.state != KeyState.REVOKED.value)
            .order_by(signing_keys.c.issuer_slug, signing_keys.c.created_at)
        )
        return [_key(row) for row in self._db.execute(query)]


def _key(row: Row[Any]) -> SigningKey:
    return SigningKey(
        kid=row.kid,
        issuer_slug=row.issuer_slug,
        algorithm=Algorithm(row.algorithm),
        public_jwk=row.public_jwk,
        custody=row.custody,
        key_ref=row.key_ref,
        state=KeyState(row.state),
        created_at=row.created_at,
        activated_at=row.activated_at,
        retired_at=row.retired_at,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
    )


class SqlClients(_Repository):
    def add(self, client: ApiClient) -> None:
        self._db.execute(
            api_clients.insert().values(
                id=client.id,
                name=client.name,
                token_hash=client.token_hash,
                issuer_scope=list(client.issuer_scope) if client.issuer_scope is not None else None,
                achievement_scope=list(client.achievement_scope) if client.achievement_scope is not None else None,
                is_admin=client.is_admin,
                disabled=client.disabled,
                created_at=client.created_at,
            )
        )
        self._changed(Region.CLIENTS)

    def get(self, client_id: str) -> ApiClient | None:
        cached = self._cache.get(Region.CLIENTS, ("id", client_id))
        if cached is not None:
            return cast(ApiClient, cached)
        row = self._db.execute(_CLIENT_BY_ID, {"id": client_id}).first()
        if row is None:
            return None
        client = _client(row)
        self._remember(Region.CLIENTS, ("id", client_id), client)
        return client

    def get_by_token_hash(self, token_hash: str) -> ApiClient | None:
        cached = self._cache.get(Region.CLIENTS, token_hash)
        if cached is not None:
            return cast(ApiClient, cached)
        row = self._db.execute(_CLIENT_BY_TOKEN_HASH, {"token_hash": token_hash}).first()
        if row is None:
            return None
        client = _client(row)
        self._remember(Region.CLIENTS, token_hash, client)
        return client

    def replace_token(self, client_id: str, token_hash: str) -> None:
        self._db.execute(update(api_clients).where(api_clients.c.id == client_id).values(token_hash=token_hash))
        self._changed(Region.CLIENTS)

    def all(self) -> list[ApiClient]:
        return [_client(row) for row in self._db.execute(select(api_clients).order_by(api_clients.c.created_at))]


def _client(row: Row[Any]) -> ApiClient:
    return ApiClient(
        id=row.id,
        name=row.name,
        token_hash=row.token_hash,
        issuer_scope=tuple(row.issuer_scope) if row.issuer_scope is not None else None,
        achievement_scope=tuple(row.achievement_scope) if row.achievement_scope is not None else None,
        is_admin=row.is_admin,
        disabled=row.disabled,
        created_at=row.created_at,
    )


class SqlCredentials(_Repository):
    def add(self, credential: IssuedCredential) -> None:
        row = {
            "id": credential.id,
            "issuer_slug": credential.issuer_slug,
            "family": credential.family,
            "format": credential.format,
            "format_version": credential.format_version,
            "payload": credential.payload,
            "signed": credential.signed,
            "kid": credential.kid,
            "status": credential.status.value,
            "issued_at": credential.issued_at,
            "valid_from": credential.valid_from,
            "valid_until": credential.valid_until,
            "client_id": credential.client_id,
            "subject_ref": credential.subject_ref,
            "achievement_id": credential.achievement_id,
            "idempotency_key": credential.idempotency_key,
            "request_hash": credential.request_hash,
            "companion_id": credential.companion_id,
            "download_token_hash": credential.download_token_hash,
            **_slot_columns(credential.status_slots),
        }
        try:
            if credential.idempotency_key is None:
                self._db.insert(_INSERT_CREDENTIAL, row)
            else:
                # The surrounding transaction must stay usable if the idempotency key is taken.
                with self._db.surviving_failure():
                    self._db.insert(_INSERT_CREDENTIAL, row)
        except IntegrityError as exc:
            violated = _violated_unique_constraint(exc)
            if violated == IDEMPOTENCY_CONSTRAINT and credential.idempotency_key is not None:
                raise DuplicateIdempotencyKey(credential.idempotency_key) from exc
            if violated == CREDENTIAL_PRIMARY_KEY:
                raise DuplicateCredentialId(credential.id) from exc
            raise

    def get(self, credential_id: str) -> IssuedCredential | None:
        row = self._db.execute(_CREDENTIAL_BY_ID, {"id": credential_id}).first()
        return credential_from_row(row) if row else None

    def get_by_download_token(self, token_hash: str) -> IssuedCredential | None:
        row = self._db.execute(
            select(issued_credentials).where(issued_credentials.c.download_token_hash == token_hash)
        ).first()
        return credential_from_row(row) if row else None

    def set_download_token(self, credential_id: str, token_hash: str) -> None:
        self._db.execute(
            update(issued_credentials)
            .where(issued_credentials.c.id == credential_id)
            .values(download_token_hash=token_hash)
        )

    def get_by_idempotency_key(self, client_id: str, key: str) -> IssuedCredential | None:
        query = select(issued_credentials).where(
            issued_credentials.c.client_id == client_id, issued_credentials.c.idempotency_key == key
        )
        row = self._db.execute(query).first()
        return credential_from_row(row) if row else None

    def page(self, where: CredentialFilter, after: PageCursor | None, limit: int) -> list[IssuedCredential]:
        t = issued_credentials
        query = select(t)
        if where.issuer_slugs is not None:
            query = query.where(t.c.issuer_slug.in_(where.issuer_slugs))
        if where.status is not None:
            query = query.where(t.c.status == where.status.value)
        if where.subject_ref is not None:
            query = query.where(t.c.subject_ref == where.subject_ref)
        if where.issued_after is not None:
            query = query.where(t.c.issued_at >= where.issued_after)
        if where.issued_before is not None:
            query = query.where(t.c.issued_at < where.issued_before)
        if after is not None:
            query = query.where(
                or_(t.c.issued_at < after.issued_at, and_(t.c.issued_at == after.issued_at, t.c.id < after.id))
            )
        query = query.order_by(t.c.issued_at.desc(), t.c.id.desc()).limit(limit)
        return [credential_from_row(row) for row in self._db.execute(query)]

    def change_status(self, credential_id: str, expected: CredentialStatus, new: CredentialStatus) -> bool:
        t = issued_credentials
        statement = (
            update(t)
            .where(t.c.id == credential_id, t.c.status == expected.value)
            .values(status=new.value)
            .returning(t.c.id)
        )
        return self._db.execute(statement).first() is not None

    def due_to_expire(self, now: datetime, limit: int) -> list[IssuedCredential]:
        t = issued_credentials
        query = (
            select(t)
            .where(t.c.valid_until <= now, t.c.status.in_(_EXPIRABLE))
            .order_by(t.c.valid_until)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite serializes writers anyway
        )
        return [credential_from_row(row) for row in self._db.execute(query)]


_EXPIRABLE = (CredentialStatus.ACTIVE.value, CredentialStatus.SUSPENDED.value)


def _violated_unique_constraint(exc: IntegrityError) -> str | None:
    """Which of issued_credentials' unique constraints was hit, judged by its name, never by the message
    as a whole: PostgreSQL's message quotes the offending values, which callers may choose."""
    diagnostics = getattr(exc.orig, "diag", None)  # psycopg names the violated constraint
    if diagnostics is not None:
        return getattr(diagnostics, "constraint_name", None)
    message = str(exc.orig)  # SQLite names the constrained columns and quotes no values
    if not message.startswith("UNIQUE constraint failed:"):
        return None
    columns = message.removeprefix("UNIQUE constraint failed:").strip()
    if columns == "issued_credentials.id":
        return CREDENTIAL_PRIMARY_KEY
    if "issued_credentials.idempotency_key" in columns:
        return IDEMPOTENCY_CONSTRAINT
    return None


def credential_from_row(row: Any) -> IssuedCredential:  # a Row, or a prepared one (storage/prepared.py)
    return IssuedCredential(
        id=row.id,
        issuer_slug=row.issuer_slug,
        family=row.family,
        format=row.format,
        format_version=row.format_version,
        payload=bytes(row.payload),
        signed=row.signed,
        kid=row.kid,
        status=CredentialStatus(row.status),
        issued_at=row.issued_at,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        client_id=row.client_id,
        subject_ref=row.subject_ref,
        achievement_id=row.achievement_id,
        idempotency_key=row.idempotency_key,
        request_hash=row.request_hash,
        status_slots=tuple(ref for ref in (row.revocation_slot, row.suspension_slot, row.token_slot) if ref),
        companion_id=row.companion_id,
        download_token_hash=row.download_token_hash,
    )


def _slot_columns(refs: tuple[str, ...]) -> dict[str, str | None]:
    """One column per list kind; a ref is "<issuer>/<kind>/<number>#<index>"."""
    columns: dict[str, str | None] = dict.fromkeys(_SLOT_COLUMNS)
    for ref in refs:
        column = f"{ref.split('/', 2)[1]}_slot"
        if column not in columns or columns[column] is not None:
            raise ValueError(f"status slot {ref!r} is of an unknown or repeated kind")
        columns[column] = ref
    return columns


_SLOT_COLUMNS = ("revocation_slot", "suspension_slot", "token_slot")
