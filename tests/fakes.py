"""In-memory implementations of every port, for tests of the domain services without a database.

`FakeDatabase` holds the committed state. Each `FakeUnitOfWork` is one transaction over it: its
repositories stage their writes, `commit` publishes them, and leaving the with-block without a commit
discards them. Reads see the committed state plus the transaction's own staged writes. Uniqueness is
checked against the committed state of every transaction, as a database constraint would be: a
`(client_id, idempotency_key)` pair that is taken raises `DuplicateIdempotencyKey`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Generic, Self, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ec_issuer.access.model import ApiClient
from ec_issuer.access.policy import AuthorizationPolicy, Decision, IssueIntent, ScopePolicy
from ec_issuer.access.ports import ClientRepository
from ec_issuer.access.service import AccessService
from ec_issuer.attestations.model import AttestationRecord, OrganizationPrivacy
from ec_issuer.attestations.ports import AttestationRepository, DuplicateAttestation
from ec_issuer.core.errors import Unavailable
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from ec_issuer.credentials.issuing import CredentialIssuer
from ec_issuer.credentials.model import CredentialFilter, CredentialStatus, IssuedCredential, PageCursor
from ec_issuer.credentials.ports import CredentialRepository, DuplicateCredentialId, DuplicateIdempotencyKey
from ec_issuer.credentials.reading import CredentialReader
from ec_issuer.credentials.recipient import RecipientReferencer
from ec_issuer.credentials.schema import credential_schemas
from ec_issuer.custody.formats import sign_with
from ec_issuer.events.model import OutboxEvent
from ec_issuer.events.ports import OutboxRepository
from ec_issuer.issuers.model import DidWebLayout, Issuer
from ec_issuer.issuers.ports import IssuerRepository
from ec_issuer.issuers.service import IssuerService
from ec_issuer.keys.jwk import public_jwk
from ec_issuer.keys.model import Algorithm, GeneratedKey, KeyState, SigningKey
from ec_issuer.keys.ports import KeyCustody, KeyRepository
from ec_issuer.keys.service import KeyService
from ec_issuer.oid4vci.model import DeferredTransaction, Delivery
from ec_issuer.oid4vci.ports import WalletRequestRepository
from ec_issuer.status.lists import StatusEntry, StatusListKind, StatusListRecord, StatusListUrls, StatusSlot
from ec_issuer.status.model import LifecycleEvent
from ec_issuer.status.permutation import KEY_BYTES, shuffled_index
from ec_issuer.status.ports import HistoryRepository, StatusListRepository, StatusSlotAllocator
from ec_issuer.status.service import CredentialLifecycle, ExpirySweep

FIXED_NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)


class FakeIntegrityError(Exception):
    """A uniqueness rule other than the idempotency key was broken (a database would refuse the row)."""


# --------------------------------------------------------------------------------------------- clock, ids


class FixedClock:
    """Always answers the same instant, until a test moves it explicitly."""

    def __init__(self, now: datetime = FIXED_NOW) -> None:
        if now.tzinfo is None:
            raise ValueError("the clock answers timezone-aware instants")
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now


class SequentialIds:
    """UUID-shaped ids 00000000-0000-4000-8000-000000000001, …002, … in order."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def new_id(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._counter):012d}"


# --------------------------------------------------------------------------------------------- key custody


class FakeKeyCustody:
    """Real keys, kept in memory: signatures verify against the public JWKs it hands out."""

    def __init__(self, name: str = "memory") -> None:
        self._name = name
        self._keys: dict[str, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey] = {}
        self._refs = itertools.count(1)
        self.unavailable: str | None = None  # set to a reason to make every operation fail
        self.signed: list[tuple[str, Algorithm, bytes]] = []  # (key_ref, algorithm, data) per signature

    @property
    def name(self) -> str:
        return self._name

    def generate(self, algorithm: Algorithm) -> GeneratedKey:
        self._ensure_available()
        private = (
            ec.generate_private_key(ec.SECP256R1())
            if algorithm is Algorithm.ES256
            else ed25519.Ed25519PrivateKey.generate()
        )
        key_ref = f"{self._name}-key-{next(self._refs)}"
        self._keys[key_ref] = private
        return GeneratedKey(key_ref=key_ref, public_jwk=public_jwk(private.public_key()))

    def sign(self, key_ref: str, algorithm: Algorithm, data: bytes) -> bytes:
        self._ensure_available()
        private = self._keys.get(key_ref)
        if private is None:
            raise Unavailable(f"key {key_ref} is not held by custody '{self._name}'")
        self.signed.append((key_ref, algorithm, data))
        return sign_with(private, algorithm, data)

    def sign_many(self, key_ref: str, algorithm: Algorithm, items: Sequence[bytes]) -> list[bytes]:
        return [self.sign(key_ref, algorithm, data) for data in items]

    def import_key(self, algorithm: Algorithm, material: str) -> GeneratedKey:
        raise NotImplementedError("the in-memory custody only generates keys")

    def check(self) -> None:
        self._ensure_available()

    def _ensure_available(self) -> None:
        if self.unavailable is not None:
            raise Unavailable(self.unavailable)


# --------------------------------------------------------------------------------------------- policy


class RecordingPolicy:
    """The scope policy, recording every intent; `deny_with` makes it refuse everything with that reason."""

    def __init__(self, deny_with: str | None = None) -> None:
        self.deny_with = deny_with
        self.intents: list[IssueIntent] = []
        self._scopes = ScopePolicy()

    def decide(self, intent: IssueIntent) -> Decision:
        self.intents.append(intent)
        if self.deny_with is not None:
            return Decision.deny(self.deny_with)
        return self._scopes.decide(intent)


# --------------------------------------------------------------------------------------------- storage


@dataclass
class FakeDatabase:
    """The committed state shared by every unit of work."""

    issuers: dict[str, Issuer] = field(default_factory=dict[str, Issuer])
    keys: dict[str, SigningKey] = field(default_factory=dict[str, SigningKey])
    clients: dict[str, ApiClient] = field(default_factory=dict[str, ApiClient])
    credentials: dict[str, IssuedCredential] = field(default_factory=dict[str, IssuedCredential])
    status_lists: dict[str, StatusListRecord] = field(default_factory=dict[str, StatusListRecord])
    status_entries: dict[tuple[str, int], tuple[StatusEntry, int]] = field(
        default_factory=dict[tuple[str, int], tuple[StatusEntry, int]]
    )
    history: dict[int, LifecycleEvent] = field(default_factory=dict[int, LifecycleEvent])
    outbox: dict[str, OutboxEvent] = field(default_factory=dict[str, OutboxEvent])
    used_nonces: dict[str, datetime] = field(default_factory=dict[str, datetime])
    deferred_transactions: dict[str, DeferredTransaction] = field(default_factory=dict[str, DeferredTransaction])
    deliveries: dict[str, Delivery] = field(default_factory=dict[str, Delivery])
    attestations: dict[str, AttestationRecord] = field(default_factory=dict[str, AttestationRecord])
    organization_privacy: dict[str, OrganizationPrivacy] = field(default_factory=dict[str, OrganizationPrivacy])
    commits: int = 0
    # Called at the start of every credential `add`: a test can commit a competing row there.
    before_credential_add: Callable[[IssuedCredential], None] | None = None

    def unit_of_work(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    @property
    def factory(self) -> UnitOfWorkFactory:
        return self.unit_of_work


K = TypeVar("K")
V = TypeVar("V")


class _Staged(Generic[K, V]):
    """Committed rows of one table plus one transaction's staged inserts and updates."""

    def __init__(self, committed: dict[K, V]) -> None:
        self.committed = committed
        self.pending: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        if key in self.pending:
            return self.pending[key]
        return self.committed.get(key)

    def contains(self, key: K) -> bool:
        return key in self.pending or key in self.committed

    def rows(self) -> list[V]:
        return list({**self.committed, **self.pending}.values())

    def put(self, key: K, value: V) -> None:
        self.pending[key] = value

    def publish(self) -> None:
        self.committed.update(self.pending)
        self.pending.clear()


class FakeIssuers:
    def __init__(self, table: _Staged[str, Issuer]) -> None:
        self._table = table

    def add(self, issuer: Issuer) -> None:
        if self._table.contains(issuer.slug):
            raise FakeIntegrityError(f"issuer slug {issuer.slug!r} exists")
        if any(row.did == issuer.did for row in self._table.rows()):
            raise FakeIntegrityError(f"issuer did {issuer.did!r} exists")
        if issuer.is_root and self.get_root() is not None:
            raise FakeIntegrityError("a root issuer exists")
        self._table.put(issuer.slug, issuer)

    def get(self, slug: str) -> Issuer | None:
        return self._table.get(slug)

    def get_by_did(self, did: str) -> Issuer | None:
        return next((row for row in self._table.rows() if row.did == did), None)

    def get_root(self) -> Issuer | None:
        return next((row for row in self._table.rows() if row.is_root), None)

    def all(self) -> list[Issuer]:
        return sorted(self._table.rows(), key=lambda row: row.slug)


class FakeKeys:
    def __init__(self, table: _Staged[str, SigningKey], issuers: _Staged[str, Issuer]) -> None:
        self._table = table
        self._issuers = issuers

    def add(self, key: SigningKey) -> None:
        if self._table.contains(key.kid):
            raise FakeIntegrityError(f"key {key.kid!r} exists")
        if not self._issuers.contains(key.issuer_slug):
            raise FakeIntegrityError(f"no issuer {key.issuer_slug!r} for key {key.kid!r}")
        self._table.put(key.kid, key)

    def update(self, key: SigningKey) -> None:
        stored = self._table.get(key.kid)
        if stored is None:
            raise FakeIntegrityError(f"no key {key.kid!r} to update")
        self._table.put(
            key.kid,
            replace(
                stored,
                state=key.state,
                activated_at=key.activated_at,
                retired_at=key.retired_at,
                revoked_at=key.revoked_at,
                revocation_reason=key.revocation_reason,
            ),
        )

    def get(self, kid: str) -> SigningKey | None:
        return self._table.get(kid)

    def for_issuer(self, issuer_slug: str, *, fresh: bool = False) -> list[SigningKey]:
        return _by_creation(row for row in self._table.rows() if row.issuer_slug == issuer_slug)

    def all_published(self) -> list[SigningKey]:
        published = _by_creation(row for row in self._table.rows() if row.state is not KeyState.REVOKED)
        return sorted(published, key=lambda row: row.issuer_slug)  # stable: creation order within an issuer


def _by_creation(keys: Iterable[SigningKey]) -> list[SigningKey]:
    return sorted(keys, key=lambda key: key.created_at or datetime.min.replace(tzinfo=UTC))


class FakeClients:
    def __init__(self, table: _Staged[str, ApiClient]) -> None:
        self._table = table

    def add(self, client: ApiClient) -> None:
        if self._table.contains(client.id):
            raise FakeIntegrityError(f"client {client.id!r} exists")
        if self.get_by_token_hash(client.token_hash) is not None:
            raise FakeIntegrityError("token hash exists")
        self._table.put(client.id, client)

    def get(self, client_id: str) -> ApiClient | None:
        return self._table.get(client_id)

    def get_by_token_hash(self, token_hash: str) -> ApiClient | None:
        return next((row for row in self._table.rows() if row.token_hash == token_hash), None)

    def replace_token(self, client_id: str, token_hash: str) -> None:
        client = self._table.get(client_id)
        if client is not None:
            self._table.put(client_id, replace(client, token_hash=token_hash))

    def all(self) -> list[ApiClient]:
        return sorted(self._table.rows(), key=lambda row: row.created_at or datetime.min.replace(tzinfo=UTC))


class FakeCredentials:
    def __init__(self, database: FakeDatabase, table: _Staged[str, IssuedCredential]) -> None:
        self._database = database
        self._table = table

    def add(self, credential: IssuedCredential) -> None:
        if self._database.before_credential_add is not None:
            self._database.before_credential_add(credential)
        if self._table.contains(credential.id):
            raise DuplicateCredentialId(credential.id)
        if credential.idempotency_key is not None:
            taken = self._find(credential.client_id, credential.idempotency_key)
            if taken is not None:
                raise DuplicateIdempotencyKey(credential.idempotency_key)
        self._table.put(credential.id, credential)

    def get(self, credential_id: str) -> IssuedCredential | None:
        return self._table.get(credential_id)

    def get_by_idempotency_key(self, client_id: str, key: str) -> IssuedCredential | None:
        return self._find(client_id, key)

    def get_by_download_token(self, token_hash: str) -> IssuedCredential | None:
        return next((row for row in self._table.rows() if row.download_token_hash == token_hash), None)

    def set_download_token(self, credential_id: str, token_hash: str) -> None:
        row = self._table.get(credential_id)
        if row is not None:
            self._table.put(credential_id, replace(row, download_token_hash=token_hash))

    def page(self, where: CredentialFilter, after: PageCursor | None, limit: int) -> list[IssuedCredential]:
        def matches(row: IssuedCredential) -> bool:
            return (
                (where.issuer_slugs is None or row.issuer_slug in where.issuer_slugs)
                and (where.status is None or row.status is where.status)
                and (where.subject_ref is None or row.subject_ref == where.subject_ref)
                and (where.issued_after is None or row.issued_at >= where.issued_after)
                and (where.issued_before is None or row.issued_at < where.issued_before)
                and (after is None or (row.issued_at, row.id) < (after.issued_at, after.id))
            )

        ordered = sorted(filter(matches, self._table.rows()), key=lambda row: (row.issued_at, row.id), reverse=True)
        return ordered[:limit]

    def _find(self, client_id: str, key: str) -> IssuedCredential | None:
        return next(
            (row for row in self._table.rows() if row.client_id == client_id and row.idempotency_key == key), None
        )

    def change_status(self, credential_id: str, expected: CredentialStatus, new: CredentialStatus) -> bool:
        row = self._table.get(credential_id)
        if row is None or row.status is not expected:
            return False
        self._table.put(credential_id, replace(row, status=new))
        return True

    def due_to_expire(self, now: datetime, limit: int) -> list[IssuedCredential]:
        due = [
            row
            for row in self._table.rows()
            if row.valid_until is not None
            and row.valid_until <= now
            and row.status in (CredentialStatus.ACTIVE, CredentialStatus.SUSPENDED)
        ]
        return sorted(due, key=lambda row: (row.valid_until or now, row.id))[:limit]


class FakeStatusLists:
    def __init__(
        self,
        lists: _Staged[str, StatusListRecord],
        entries: _Staged[tuple[str, int], tuple[StatusEntry, int]],
    ) -> None:
        self._lists = lists
        self._entries = entries

    def set_value(self, entry: StatusEntry, value: int) -> None:
        self._entries.put((entry.list_id, entry.index), (entry, value))

    def touch(self, list_ids: Iterable[str]) -> None:
        for list_id in set(list_ids):
            record = self._lists.get(list_id)
            if record is not None:
                self._lists.put(list_id, replace(record, revision=record.revision + 1))

    def get(self, list_id: str) -> StatusListRecord | None:
        return self._lists.get(list_id)

    def reported(self, list_id: str) -> list[tuple[int, int]]:
        return [(entry.index, value) for entry, value in self._entries.rows() if entry.list_id == list_id and value]

    def save_publication(self, list_id: str, revision: int, jwt: str, document: str | None, at: datetime) -> None:
        record = self._lists.get(list_id)
        if record is not None and (record.published_revision is None or record.published_revision < revision):
            self._lists.put(
                list_id, replace(record, published_revision=revision, published_jwt=jwt, published_document=document)
            )


class FakeHistory:
    def __init__(self, rows: _Staged[int, LifecycleEvent]) -> None:
        self._rows = rows

    def append(self, event: LifecycleEvent) -> None:
        self._rows.put(len(self._rows.rows()) + 1, event)

    def for_credential(self, credential_id: str) -> list[LifecycleEvent]:
        return [event for event in self._rows.rows() if event.credential_id == credential_id]


class FakeOutbox:
    def __init__(self, rows: _Staged[str, OutboxEvent]) -> None:
        self._rows = rows

    def add(self, event: OutboxEvent) -> None:
        if self._rows.contains(event.id):
            raise FakeIntegrityError(f"event {event.id} exists already")
        self._rows.put(event.id, event)


class FakeWalletRequests:
    def __init__(
        self,
        nonces: _Staged[str, datetime],
        transactions: _Staged[str, DeferredTransaction],
        deliveries: _Staged[str, Delivery],
    ) -> None:
        self._nonces = nonces
        self._transactions = transactions
        self._deliveries = deliveries

    def use_nonce(self, nonce: str, expires_at: datetime) -> bool:
        if self._nonces.contains(nonce):
            return False
        self._nonces.put(nonce, expires_at)
        return True

    def add_transaction(self, transaction: DeferredTransaction) -> None:
        self._transactions.put(transaction.id, transaction)

    def record_delivery(self, delivery: Delivery, transaction_id: str | None = None) -> bool:
        if transaction_id is not None:
            waiting = self._transactions.get(transaction_id)
            if waiting is None or waiting.delivered_at is not None:
                return False
            self._transactions.put(transaction_id, replace(waiting, delivered_at=delivery.delivered_at))
        self._deliveries.put(delivery.notification_id, delivery)
        return True


class FakeAttestations:
    def __init__(
        self,
        records: _Staged[str, AttestationRecord],
        privacy: _Staged[str, OrganizationPrivacy],
        credentials: _Staged[str, IssuedCredential],
    ) -> None:
        self._records = records
        self._privacy = privacy
        self._credentials = credentials

    def add(self, record: AttestationRecord) -> None:
        if self._find(record.run_id, record.step_run_id) is not None:
            raise DuplicateAttestation(f"{record.run_id}/{record.step_run_id}")
        self._records.put(record.credential_id, record)

    def for_run(self, run_id: str, step_run_id: str) -> tuple[AttestationRecord, IssuedCredential] | None:
        record = self._find(run_id, step_run_id)
        credential = self._credentials.get(record.credential_id) if record is not None else None
        return (record, credential) if record is not None and credential is not None else None

    def for_credential(self, credential_id: str) -> AttestationRecord | None:
        return self._records.get(credential_id)

    def privacy(self, organization_id: str) -> OrganizationPrivacy | None:
        return self._privacy.get(organization_id)

    def set_privacy(self, privacy: OrganizationPrivacy) -> None:
        self._privacy.put(privacy.organization_id, privacy)

    def _find(self, run_id: str, step_run_id: str) -> AttestationRecord | None:
        # Against the committed rows too, as the database's unique constraint is.
        return next((r for r in self._records.rows() if (r.run_id, r.step_run_id) == (run_id, step_run_id)), None)


class FakeSlotAllocator:
    """Opens lists in the fake database directly (as the real allocator does, outside any transaction)."""

    def __init__(self, database: FakeDatabase, urls: StatusListUrls, list_size: int = 131_072) -> None:
        self._database = database
        self._urls = urls
        self._size = list_size
        self._positions: dict[str, int] = {}
        self._key = bytes(KEY_BYTES)

    def allocate(self, issuer_slug: str, kind: StatusListKind) -> StatusSlot:
        number = 1
        while True:
            list_id = StatusListUrls.list_id(issuer_slug, kind, number)
            if self._positions.get(list_id, 0) < self._size:
                break
            number += 1
        if list_id not in self._database.status_lists:
            self._database.status_lists[list_id] = StatusListRecord(list_id, issuer_slug, kind, number, self._size, 0)
        position = self._positions.get(list_id, 0)
        self._positions[list_id] = position + 1
        return StatusSlot(list_id, kind, shuffled_index(self._key, self._size, position), self._urls.url(list_id))


class FakeUnitOfWork:
    """One transaction over a FakeDatabase."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self._open = False
        self._issuer_rows = _Staged(database.issuers)
        self._key_rows = _Staged(database.keys)
        self._client_rows = _Staged(database.clients)
        self._credential_rows = _Staged(database.credentials)
        self._list_rows = _Staged(database.status_lists)
        self._entry_rows = _Staged(database.status_entries)
        self._history_rows = _Staged(database.history)
        self._status_lists = FakeStatusLists(self._list_rows, self._entry_rows)
        self._history = FakeHistory(self._history_rows)
        self._outbox_rows = _Staged(database.outbox)
        self._outbox = FakeOutbox(self._outbox_rows)
        self._oid4vci_rows = (
            _Staged(database.used_nonces),
            _Staged(database.deferred_transactions),
            _Staged(database.deliveries),
        )
        self._wallet_requests = FakeWalletRequests(*self._oid4vci_rows)
        self._attestation_rows = (_Staged(database.attestations), _Staged(database.organization_privacy))
        self._issuers = FakeIssuers(self._issuer_rows)
        self._keys = FakeKeys(self._key_rows, self._issuer_rows)
        self._clients = FakeClients(self._client_rows)
        self._credentials = FakeCredentials(database, self._credential_rows)
        self._attestations = FakeAttestations(*self._attestation_rows, self._credential_rows)

    @property
    def issuers(self) -> IssuerRepository:
        self._require_open()
        return self._issuers

    @property
    def keys(self) -> KeyRepository:
        self._require_open()
        return self._keys

    @property
    def clients(self) -> ClientRepository:
        self._require_open()
        return self._clients

    @property
    def credentials(self) -> CredentialRepository:
        self._require_open()
        return self._credentials

    @property
    def status_lists(self) -> StatusListRepository:
        self._require_open()
        return self._status_lists

    @property
    def history(self) -> HistoryRepository:
        self._require_open()
        return self._history

    @property
    def outbox(self) -> OutboxRepository:
        self._require_open()
        return self._outbox

    @property
    def wallet_requests(self) -> WalletRequestRepository:
        self._require_open()
        return self._wallet_requests

    @property
    def attestations(self) -> AttestationRepository:
        self._require_open()
        return self._attestations

    def __enter__(self) -> Self:
        self._open = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._discard()
        self._open = False

    def commit(self) -> None:
        self._require_open()
        for rows in self._tables():
            rows.publish()
        for status_rows in (self._list_rows, self._entry_rows, self._history_rows):
            status_rows.publish()
        for capability_rows in (*self._oid4vci_rows, *self._attestation_rows):
            capability_rows.publish()
        self._outbox_rows.publish()
        self._database.commits += 1

    def _discard(self) -> None:
        for rows in self._tables():
            rows.pending.clear()
        for status_rows in (self._list_rows, self._entry_rows, self._history_rows):
            status_rows.pending.clear()
        for capability_rows in (*self._oid4vci_rows, *self._attestation_rows):
            capability_rows.pending.clear()
        self._outbox_rows.pending.clear()

    def _tables(
        self,
    ) -> tuple[_Staged[str, Issuer], _Staged[str, SigningKey], _Staged[str, ApiClient], _Staged[str, IssuedCredential]]:
        return self._issuer_rows, self._key_rows, self._client_rows, self._credential_rows

    def _require_open(self) -> None:
        if not self._open:
            raise RuntimeError("the unit of work is used outside its with-block")


# --------------------------------------------------------------------------------------------- the graph


@dataclass
class FakeServices:
    """The domain services wired to fakes, as bootstrap.build wires them to real adapters."""

    database: FakeDatabase
    custody: FakeKeyCustody
    clock: FixedClock
    ids: SequentialIds
    policy: RecordingPolicy
    recipients: RecipientReferencer
    layout: DidWebLayout
    issuers: IssuerService
    keys: KeyService
    access: AccessService
    issuing: CredentialIssuer
    reading: CredentialReader
    lifecycle: CredentialLifecycle
    expiry: ExpirySweep


RECIPIENT_KEY = b"fake-recipient-reference-key-032"


def fake_services(
    *,
    base_url: str = "https://issuer.test",
    clock: FixedClock | None = None,
    policy: RecordingPolicy | None = None,
    extra_custodians: Mapping[str, KeyCustody] | None = None,
) -> FakeServices:
    database = FakeDatabase()
    custody = FakeKeyCustody()
    clock = clock or FixedClock()
    ids = SequentialIds()
    policy = policy or RecordingPolicy()
    recipients = RecipientReferencer(RECIPIENT_KEY)
    layout = DidWebLayout(base_url)
    uow = database.factory
    custodians: dict[str, KeyCustody] = {custody.name: custody, **(extra_custodians or {})}
    keys = KeyService(uow, custodians, clock, default_custody=custody.name, ids=ids)
    return FakeServices(
        database=database,
        custody=custody,
        clock=clock,
        ids=ids,
        policy=policy,
        recipients=recipients,
        layout=layout,
        issuers=IssuerService(uow, layout, clock, keys),
        keys=keys,
        access=AccessService(uow, clock, ids),
        issuing=CredentialIssuer(
            uow,
            policy,
            custodians,
            credential_schemas(),
            recipients,
            clock,
            ids,
            FakeSlotAllocator(database, StatusListUrls(base_url)),
        ),
        reading=CredentialReader(uow, recipients),
        lifecycle=CredentialLifecycle(uow, policy, clock, ids),
        expiry=ExpirySweep(uow, clock, ids),
    )


# The fakes satisfy the ports; basedpyright checks these assignments structurally.
def _conforms(database: FakeDatabase) -> None:
    unit: UnitOfWork = FakeUnitOfWork(database)
    factory: UnitOfWorkFactory = database.unit_of_work
    custody: KeyCustody = FakeKeyCustody()
    policy: AuthorizationPolicy = RecordingPolicy()
    clock: Clock = FixedClock()
    ids: IdGenerator = SequentialIds()
    issuers: IssuerRepository = FakeIssuers(_Staged[str, Issuer]({}))
    keys: KeyRepository = FakeKeys(_Staged[str, SigningKey]({}), _Staged[str, Issuer]({}))
    clients: ClientRepository = FakeClients(_Staged[str, ApiClient]({}))
    credentials: CredentialRepository = FakeCredentials(database, _Staged[str, IssuedCredential]({}))
    slots: StatusSlotAllocator = FakeSlotAllocator(database, StatusListUrls("https://issuer.test"))
    del unit, factory, custody, policy, clock, ids, issuers, keys, clients, credentials, slots
