"""The SQL repositories and unit of work on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError

from ec_issuer.access.model import ApiClient, hash_token, new_token
from ec_issuer.bootstrap import Container
from ec_issuer.core.errors import Conflict
from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.credentials.issuing import IssueOutcome
from ec_issuer.credentials.model import CredentialFilter, CredentialStatus, IssuedCredential, PageCursor
from ec_issuer.credentials.ports import DuplicateCredentialId, DuplicateIdempotencyKey
from ec_issuer.issuers.model import Address, Issuer
from ec_issuer.keys.model import Algorithm, KeyState, SigningKey
from ec_issuer.storage.tables import issued_credentials
from ec_issuer.storage.unit_of_work import SqlUnitOfWork
from tests.support import award_body

T0 = datetime(2026, 5, 17, 9, 30, 0, tzinfo=UTC)


def make_issuer(slug: str = "acme", *, root: bool = False, address: Address | None = None) -> Issuer:
    return Issuer(
        slug=slug,
        did="did:web:issuer.test" + ("" if root else f":issuers:{slug}"),
        name=f"{slug.upper()} University",
        url=f"https://{slug}.example",
        email=f"badges@{slug}.example",
        image="https://acme.example/logo.png",
        description="Zürich ✓ — a description with non-ASCII text",
        address=address,
        is_root=root,
        created_at=T0,
    )


def make_key(issuer: Issuer, *, created_at: datetime = T0, state: KeyState = KeyState.ACTIVE) -> SigningKey:
    jwk = {"kty": "EC", "crv": "P-256", "x": uuid.uuid4().hex, "y": uuid.uuid4().hex}
    return SigningKey(
        kid=f"{issuer.did}#{uuid.uuid4().hex}",
        issuer_slug=issuer.slug,
        algorithm=Algorithm.ES256,
        public_jwk=jwk,
        custody="local",
        key_ref=str(uuid.uuid4()),
        state=state,
        created_at=created_at,
    )


def make_client(
    client_id: str = "client-1",
    *,
    issuers: tuple[str, ...] | None = None,
    achievements: tuple[str, ...] | None = None,
) -> ApiClient:
    return ApiClient(
        id=client_id,
        name=f"client {client_id}",
        token_hash=hash_token(new_token()),
        issuer_scope=issuers,
        achievement_scope=achievements,
        is_admin=False,
        created_at=T0,
    )


def make_credential(
    key: SigningKey,
    client: ApiClient,
    *,
    issued_at: datetime = T0,
    credential_id: str | None = None,
    payload: bytes = b'{"name":"x"}',
    status: CredentialStatus = CredentialStatus.ACTIVE,
    subject_ref: str = "a" * 64,
    idempotency_key: str | None = None,
    **fields: Any,
) -> IssuedCredential:
    values: dict[str, Any] = {
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "issuer_slug": key.issuer_slug,
        "family": "open-badges-3.0",
        "format": "vc+jwt",
        "format_version": "ob-3.0.3+vcdm-2.0",
        "payload": payload,
        "signed": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
        "kid": key.kid,
        "status": status,
        "issued_at": issued_at,
        "valid_from": issued_at,
        "valid_until": None,
        "client_id": client.id,
        "subject_ref": subject_ref,
        "achievement_id": "https://acme.example/achievements/1",
        "idempotency_key": idempotency_key,
        "request_hash": "f" * 64 if idempotency_key else None,
    }
    values.update(fields)
    return IssuedCredential(**values)


@pytest.fixture
def uow(container: Container) -> SqlUnitOfWork:
    return SqlUnitOfWork(container.engine)


@pytest.fixture
def seeded(container: Container) -> tuple[Issuer, SigningKey, ApiClient]:
    """One issuer with one key, and one client, committed."""
    issuer, client = make_issuer(), make_client()
    key = make_key(issuer)
    with SqlUnitOfWork(container.engine) as uow:
        uow.issuers.add(issuer)
        uow.keys.add(key)
        uow.clients.add(client)
        uow.commit()
    return issuer, key, client


# ------------------------------------------------------------------------------------------ round trips


def test_issuer_round_trip_with_address(uow: SqlUnitOfWork) -> None:
    address = Address("Rämistrasse 71", "Zürich", "ZH", "8006", "CH")
    issuer = make_issuer(address=address)
    with uow:
        uow.issuers.add(issuer)
        uow.commit()
    with uow:
        loaded = uow.issuers.get("acme")
        by_did = uow.issuers.get_by_did(issuer.did)
        listed = uow.issuers.all()

    assert loaded == issuer
    assert loaded is not None
    assert loaded.address == address
    assert loaded.description == "Zürich ✓ — a description with non-ASCII text"
    assert loaded.created_at == T0
    assert loaded.created_at is not None
    assert loaded.created_at.tzinfo is not None
    assert by_did == issuer
    assert listed == [issuer]


def test_issuer_without_optional_fields(uow: SqlUnitOfWork) -> None:
    bare = Issuer(slug="bare", did="did:web:issuer.test:issuers:bare", name="Bare", created_at=T0)
    with uow:
        uow.issuers.add(bare)
        uow.commit()
    with uow:
        assert uow.issuers.get("bare") == bare
        assert uow.issuers.get("missing") is None
        assert uow.issuers.get_by_did("did:web:nowhere") is None
        assert uow.issuers.get_root() is None


def test_issuers_are_listed_by_slug_and_the_root_is_found(uow: SqlUnitOfWork) -> None:
    with uow:
        for slug in ("zeta", "alpha", "mid"):
            uow.issuers.add(make_issuer(slug))
        uow.issuers.add(make_issuer("root", root=True))
        uow.commit()
    with uow:
        assert [i.slug for i in uow.issuers.all()] == ["alpha", "mid", "root", "zeta"]
        root = uow.issuers.get_root()
    assert root is not None
    assert root.slug == "root"
    assert root.did == "did:web:issuer.test"


def test_key_round_trip_keeps_the_jwk(uow: SqlUnitOfWork) -> None:
    issuer = make_issuer()
    older = make_key(issuer, created_at=T0)
    newer = make_key(issuer, created_at=T0 + timedelta(hours=1), state=KeyState.RETIRED)
    revoked = make_key(issuer, created_at=T0 + timedelta(hours=2), state=KeyState.REVOKED)
    with uow:
        uow.issuers.add(issuer)
        for key in (revoked, newer, older):
            uow.keys.add(key)
        uow.commit()
    with uow:
        loaded = uow.keys.get(older.kid)
        for_issuer = uow.keys.for_issuer("acme")
        published = uow.keys.all_published()
        assert uow.keys.for_issuer("other") == []
        assert uow.keys.get("did:web:nowhere#x") is None

    assert loaded == older
    assert loaded is not None
    assert loaded.public_jwk == older.public_jwk
    assert list(loaded.public_jwk) == ["kty", "crv", "x", "y"]  # member order is kept too
    assert loaded.algorithm is Algorithm.ES256
    assert loaded.state is KeyState.ACTIVE
    assert [k.kid for k in for_issuer] == [older.kid, newer.kid, revoked.kid]
    assert [k.kid for k in published] == [older.kid, newer.kid]
    assert all(k.created_at is not None and k.created_at.tzinfo is not None for k in for_issuer)


def test_a_key_needs_its_issuer(uow: SqlUnitOfWork) -> None:
    with uow, pytest.raises(IntegrityError):
        uow.keys.add(make_key(make_issuer("ghost")))
        uow.commit()


@pytest.mark.parametrize(
    ("issuers", "achievements"),
    [
        (None, None),
        (("acme", "beta"), ("https://acme.example/a/1",)),
        ((), ()),
    ],
    ids=["all", "scoped", "none"],
)
def test_client_round_trip_with_scopes(
    uow: SqlUnitOfWork, issuers: tuple[str, ...] | None, achievements: tuple[str, ...] | None
) -> None:
    client = make_client(issuers=issuers, achievements=achievements)
    with uow:
        uow.clients.add(client)
        uow.commit()
    with uow:
        loaded = uow.clients.get(client.id)
        by_hash = uow.clients.get_by_token_hash(client.token_hash)
        assert uow.clients.get_by_token_hash(hash_token("wrong")) is None

    assert loaded == client
    assert by_hash == client
    assert loaded is not None
    assert loaded.issuer_scope == issuers
    assert loaded.achievement_scope == achievements


def test_client_token_replacement_and_listing(uow: SqlUnitOfWork) -> None:
    first = make_client("first")
    second = ApiClient(id="second", name="second", token_hash=hash_token(new_token()), created_at=T0 + timedelta(1))
    with uow:
        uow.clients.add(second)
        uow.clients.add(first)
        uow.commit()
    new_hash = hash_token(new_token())
    with uow:
        uow.clients.replace_token("first", new_hash)
        uow.commit()
    with uow:
        assert [c.id for c in uow.clients.all()] == ["first", "second"]
        assert uow.clients.get_by_token_hash(first.token_hash) is None
        replaced = uow.clients.get_by_token_hash(new_hash)
    assert replaced is not None
    assert replaced.id == "first"


def test_credential_round_trip_keeps_payload_bytes_and_times(
    uow: SqlUnitOfWork, seeded: tuple[Issuer, SigningKey, ApiClient]
) -> None:
    _, key, client = seeded
    # Not what orjson would write (spacing, key order, escapes): the stored bytes must still come back exactly.
    payload = '{"name": "Zürich ✓",  "b":1, "a":"\\u00fc", "emoji":"🎓"}'.encode()
    plus_two = timezone(timedelta(hours=2))
    credential = make_credential(
        key,
        client,
        payload=payload,
        issued_at=datetime(2026, 5, 17, 11, 30, 0, 123456, tzinfo=plus_two),
        valid_from=datetime(2026, 5, 17, 9, 0, tzinfo=UTC),
        valid_until=datetime(2031, 5, 17, 9, 0, tzinfo=UTC),
        idempotency_key="key-1",
    )
    with uow:
        uow.credentials.add(credential)
        uow.commit()
    with uow:
        loaded = uow.credentials.get(credential.id)
        by_key = uow.credentials.get_by_idempotency_key(client.id, "key-1")
        assert uow.credentials.get_by_idempotency_key(client.id, "key-2") is None
        assert uow.credentials.get_by_idempotency_key("other-client", "key-1") is None
        assert uow.credentials.get("urn:uuid:missing") is None

    assert loaded is not None
    assert loaded.payload == payload
    assert isinstance(loaded.payload, bytes)
    assert loaded.payload.decode("utf-8") == '{"name": "Zürich ✓",  "b":1, "a":"\\u00fc", "emoji":"🎓"}'
    assert loaded == credential
    assert by_key == credential
    for moment in (loaded.issued_at, loaded.valid_from, loaded.valid_until):
        assert moment is not None
        assert moment.tzinfo is not None
        assert moment.utcoffset() == timedelta(0)
    assert loaded.issued_at == datetime(2026, 5, 17, 9, 30, 0, 123456, tzinfo=UTC)
    assert loaded.status is CredentialStatus.ACTIVE


def test_naive_datetimes_are_refused(uow: SqlUnitOfWork, seeded: tuple[Issuer, SigningKey, ApiClient]) -> None:
    _, key, client = seeded
    with uow, pytest.raises(StatementError, match="naive"):
        uow.credentials.add(make_credential(key, client, issued_at=datetime(2026, 1, 1)))


# ------------------------------------------------------------------------------------------ transactions


def test_leaving_without_commit_stores_nothing(
    uow: SqlUnitOfWork, seeded: tuple[Issuer, SigningKey, ApiClient]
) -> None:
    issuer, key, client = seeded
    other = make_issuer("beta")
    with uow:
        uow.issuers.add(other)
        uow.keys.add(make_key(other))
        uow.clients.add(make_client("client-2"))
        uow.credentials.add(make_credential(key, client, credential_id="urn:uuid:rolled-back"))
        uow.clients.replace_token(client.id, hash_token("replaced"))
        assert uow.issuers.get("beta") == other  # visible inside the transaction
    with uow:
        assert uow.issuers.get("beta") is None
        assert uow.keys.for_issuer("beta") == []
        assert uow.clients.get("client-2") is None
        assert uow.credentials.get("urn:uuid:rolled-back") is None
        assert uow.clients.get(client.id) == client
        assert [i.slug for i in uow.issuers.all()] == [issuer.slug]


def test_an_exception_rolls_back(uow: SqlUnitOfWork) -> None:
    with pytest.raises(RuntimeError), uow:
        uow.issuers.add(make_issuer("beta"))
        raise RuntimeError("boom")
    with uow:
        assert uow.issuers.get("beta") is None


def test_the_unit_of_work_refuses_use_outside_its_block(uow: SqlUnitOfWork) -> None:
    with pytest.raises(RuntimeError):
        uow.commit()


def test_a_taken_idempotency_key_raises_and_the_transaction_goes_on(
    uow: SqlUnitOfWork, seeded: tuple[Issuer, SigningKey, ApiClient]
) -> None:
    _, key, client = seeded
    other_client = make_client("client-2")
    first = make_credential(key, client, idempotency_key="once")
    with uow:
        uow.clients.add(other_client)
        uow.credentials.add(first)
        uow.commit()

    duplicate = make_credential(key, client, idempotency_key="once")
    after = make_credential(key, client, idempotency_key="twice")
    same_key_other_client = make_credential(key, other_client, idempotency_key="once")
    unkeyed = [make_credential(key, client), make_credential(key, client)]
    with uow:
        with pytest.raises(DuplicateIdempotencyKey):
            uow.credentials.add(duplicate)
        # The transaction is still usable: reads and writes go on, and commit keeps them.
        assert uow.credentials.get_by_idempotency_key(client.id, "once") == first
        uow.credentials.add(after)
        uow.credentials.add(same_key_other_client)
        for credential in unkeyed:  # NULL keys never collide
            uow.credentials.add(credential)
        uow.commit()

    with uow:
        assert uow.credentials.get(duplicate.id) is None
        assert uow.credentials.get(after.id) == after
        assert uow.credentials.get(same_key_other_client.id) == same_key_other_client
        assert all(uow.credentials.get(c.id) == c for c in unkeyed)
        assert uow.credentials.get_by_idempotency_key(client.id, "once") == first


def test_a_keyed_credential_is_undone_with_the_rest_of_its_transaction(
    uow: SqlUnitOfWork, seeded: tuple[Issuer, SigningKey, ApiClient]
) -> None:
    # On SQLite a savepoint around the keyed INSERT used to commit it on release, apart from what followed.
    _, key, client = seeded
    keyed, after = make_credential(key, client, idempotency_key="undone"), make_credential(key, client)
    with uow:
        uow.credentials.add(keyed)
        uow.credentials.add(after)
        # left without commit: the unit of work rolls back
    with uow:
        assert uow.credentials.get(keyed.id) is None
        assert uow.credentials.get(after.id) is None
        assert uow.credentials.get_by_idempotency_key(client.id, "undone") is None


def test_a_duplicate_idempotency_key_within_one_transaction_is_refused(
    uow: SqlUnitOfWork, seeded: tuple[Issuer, SigningKey, ApiClient]
) -> None:
    _, key, client = seeded
    first = make_credential(key, client, idempotency_key="once")
    with uow:
        uow.credentials.add(first)
        with pytest.raises(DuplicateIdempotencyKey):
            uow.credentials.add(make_credential(key, client, idempotency_key="once"))
        uow.commit()
    with uow:
        assert uow.credentials.get(first.id) == first


def test_other_integrity_errors_are_not_mistaken_for_idempotency(
    uow: SqlUnitOfWork, seeded: tuple[Issuer, SigningKey, ApiClient]
) -> None:
    _, key, client = seeded
    first = make_credential(key, client, idempotency_key="a")
    with uow:
        uow.credentials.add(first)
        uow.commit()
    with uow, pytest.raises(DuplicateCredentialId):
        uow.credentials.add(make_credential(key, client, credential_id=first.id, idempotency_key="b"))


def test_a_duplicate_id_is_not_mistaken_for_a_taken_idempotency_key(
    uow: SqlUnitOfWork, seeded: tuple[Issuer, SigningKey, ApiClient]
) -> None:
    # Callers choose the ids of their own documents; PostgreSQL quotes them in its error message.
    _, key, client = seeded
    first = make_credential(key, client, credential_id="https://acme.example/idempotency/1", idempotency_key="a")
    with uow:
        uow.credentials.add(first)
        uow.commit()
    with uow, pytest.raises(DuplicateCredentialId):
        uow.credentials.add(make_credential(key, client, credential_id=first.id, idempotency_key="b"))


def test_the_database_refuses_a_second_root_issuer(uow: SqlUnitOfWork) -> None:
    with uow:
        uow.issuers.add(make_issuer("first", root=True))
        uow.commit()
    second = Issuer(slug="second", did="did:web:other.test", name="Second root", is_root=True, created_at=T0)
    with uow, pytest.raises(IntegrityError):
        uow.issuers.add(second)
        uow.commit()
    with uow:
        # Any number of non-root issuers is fine.
        uow.issuers.add(make_issuer("third"))
        uow.issuers.add(make_issuer("fourth"))
        uow.commit()
        root = uow.issuers.get_root()
        assert root is not None
        assert root.slug == "first"
        assert uow.issuers.get("second") is None


# ------------------------------------------------------------------------------------------ listing


@pytest.fixture
def listed(container: Container) -> list[IssuedCredential]:
    """25 credentials of two issuers over ~7 seconds: most seconds hold four of them."""
    acme, beta = make_issuer("acme"), make_issuer("beta")
    acme_key, beta_key = make_key(acme), make_key(beta)
    client = make_client()
    credentials: list[IssuedCredential] = []
    for index in range(25):
        key = acme_key if index % 3 else beta_key
        credentials.append(
            make_credential(
                key,
                client,
                issued_at=T0 + timedelta(seconds=index // 4),
                status=CredentialStatus.REVOKED if index % 5 == 0 else CredentialStatus.ACTIVE,
                subject_ref=("b" if index % 2 else "c") * 64,
            )
        )
    with SqlUnitOfWork(container.engine) as uow:
        uow.issuers.add(acme)
        uow.issuers.add(beta)
        uow.keys.add(acme_key)
        uow.keys.add(beta_key)
        uow.clients.add(client)
        for credential in reversed(credentials):  # insertion order must not matter
            uow.credentials.add(credential)
        uow.commit()
    return credentials


def _newest_first(credentials: list[IssuedCredential]) -> list[str]:
    return [c.id for c in sorted(credentials, key=lambda c: (c.issued_at, c.id), reverse=True)]


def test_cursor_pages_return_every_credential_once_in_order(uow: SqlUnitOfWork, listed: list[IssuedCredential]) -> None:
    pages: list[list[IssuedCredential]] = []
    after: PageCursor | None = None
    with uow:
        while True:
            page = uow.credentials.page(CredentialFilter(), after, 10)
            pages.append(page)
            if not page:
                break
            after = PageCursor(page[-1].issued_at, page[-1].id)
    seen = [c.id for page in pages for c in page]
    assert [len(page) for page in pages] == [10, 10, 5, 0]
    assert len(set(seen)) == 25
    assert seen == _newest_first(listed)
    # Both page boundaries cut through a second that several credentials share: the id breaks the tie.
    assert pages[0][-1].issued_at == pages[1][0].issued_at
    assert pages[1][-1].issued_at == pages[2][0].issued_at


@pytest.mark.parametrize(
    "where",
    [
        CredentialFilter(issuer_slugs=("acme",)),
        CredentialFilter(issuer_slugs=("acme", "beta")),
        CredentialFilter(issuer_slugs=()),
        CredentialFilter(issuer_slugs=("nobody",)),
        CredentialFilter(status=CredentialStatus.REVOKED),
        CredentialFilter(status=CredentialStatus.ACTIVE, issuer_slugs=("beta",)),
        CredentialFilter(subject_ref="b" * 64),
        CredentialFilter(issued_after=T0 + timedelta(seconds=2)),
        CredentialFilter(issued_before=T0 + timedelta(seconds=2)),
        CredentialFilter(issued_after=T0 + timedelta(seconds=1), issued_before=T0 + timedelta(seconds=3)),
        CredentialFilter(subject_ref="c" * 64, status=CredentialStatus.ACTIVE, issued_after=T0 + timedelta(seconds=1)),
    ],
    ids=[
        "issuer",
        "issuers",
        "no-issuers",
        "unknown-issuer",
        "status",
        "status-and-issuer",
        "subject",
        "issued-after",
        "issued-before",
        "issued-range",
        "combined",
    ],
)
def test_filters(uow: SqlUnitOfWork, listed: list[IssuedCredential], where: CredentialFilter) -> None:
    def matches(c: IssuedCredential) -> bool:
        return (
            (where.issuer_slugs is None or c.issuer_slug in where.issuer_slugs)
            and (where.status is None or c.status is where.status)
            and (where.subject_ref is None or c.subject_ref == where.subject_ref)
            and (where.issued_after is None or c.issued_at >= where.issued_after)
            and (where.issued_before is None or c.issued_at < where.issued_before)
        )

    expected = _newest_first([c for c in listed if matches(c)])
    with uow:
        everything = [c.id for c in uow.credentials.page(where, None, 100)]
        # And the same through pages of 3, to combine filters with the cursor.
        paged: list[str] = []
        after: PageCursor | None = None
        while page := uow.credentials.page(where, after, 3):
            paged.extend(c.id for c in page)
            after = PageCursor(page[-1].issued_at, page[-1].id)
    assert everything == expected
    assert paged == expected
    if where.issuer_slugs not in ((), ("nobody",)):
        assert expected, "the filter should match something"


# ------------------------------------------------------------------------------------------ concurrency

THREADS = 8


def test_concurrent_retries_with_one_idempotency_key_store_one_credential(container: Container, issuer: Issuer) -> None:
    client = container.access.operator_client()
    request = parse_issue_request(award_body())
    barrier = threading.Barrier(THREADS)
    outcomes: list[IssueOutcome] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait(timeout=10)
            outcome = container.issuing.issue(client, request, "one-key-for-all")
        except BaseException as exc:  # noqa: BLE001 - reported below, with every other failure
            with lock:
                failures.append(exc)
        else:
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert failures == [], [repr(f) for f in failures]
    assert len(outcomes) == THREADS
    assert len({o.credential.id for o in outcomes}) == 1
    assert len({o.credential.signed for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    with container.engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(issued_credentials)).scalar_one()
    assert rows == 1


def test_reissuing_a_caller_document_with_a_stored_id_conflicts(container: Container, issuer: Issuer) -> None:
    operator = container.access.operator_client()
    document = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "https://acme.example/credentials/idempotency-7",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "id": "did:example:learner",
            "achievement": {
                "id": "https://acme.example/achievements/1",
                "type": ["Achievement"],
                "name": "One",
                "description": "The first.",
                "criteria": {"narrative": "Do it."},
            },
        },
    }
    first = container.issuing.issue(operator, parse_issue_request({"issuer": "acme", "credential": document}))

    for idempotency_key in (None, "another-key"):
        with pytest.raises(Conflict) as raised:
            container.issuing.issue(
                operator, parse_issue_request({"issuer": "acme", "credential": document}), idempotency_key
            )
        assert [e.pointer for e in raised.value.errors] == ["/credential/id"]
    assert container.reading.get(operator, document["id"]) == first.credential


def test_payload_bytes_of_an_issued_credential_are_stored_exactly(container: Container, issuer: Issuer) -> None:
    body = award_body()
    body["achievement"] = {**body["achievement"], "name": "Zürich ✓ Datenkompetenz", "description": "Ünïcödé 🎓"}
    outcome = container.issuing.issue(container.access.operator_client(), parse_issue_request(body))
    with container.engine.connect() as connection:
        raw = connection.execute(
            select(issued_credentials.c.payload).where(issued_credentials.c.id == outcome.credential.id)
        ).scalar_one()
    assert bytes(raw) == outcome.credential.payload
    assert "Zürich ✓ Datenkompetenz".encode() in bytes(raw)


@pytest.mark.parametrize("idempotency_key", [None, "keyed"])
def test_a_taken_credential_id_raises_its_own_error(
    uow: SqlUnitOfWork, seeded: tuple[Issuer, SigningKey, ApiClient], idempotency_key: str | None
) -> None:
    _, key, client = seeded
    first = make_credential(key, client, credential_id="https://acme.example/credentials/7")
    with uow:
        uow.credentials.add(first)
        uow.commit()

    again = make_credential(key, client, credential_id=first.id, idempotency_key=idempotency_key)
    with uow, pytest.raises(DuplicateCredentialId):
        uow.credentials.add(again)
    with uow:
        assert uow.credentials.get(first.id) == first
