"""The issuing use case through the service layer, wired to in-memory fakes (no database)."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from ec_issuer.access.commands import CreateClient
from ec_issuer.access.model import ApiClient
from ec_issuer.core.encoding import format_datetime, loads, parse_datetime
from ec_issuer.core.errors import Conflict, DomainError, Forbidden, InvalidInput, MalformedInput, Unavailable
from ec_issuer.credentials import ob3
from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.credentials.issuing import IssueOutcome
from ec_issuer.credentials.model import CredentialStatus, IssuedCredential
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm, KeyState, SigningKey
from ec_issuer.signing.jose import parse_compact, verify_signature
from tests.fakes import FakeServices, fake_services
from tests.support import award_body, caller_document

UUID_URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def services() -> FakeServices:
    return fake_services()


@pytest.fixture
def issuer(services: FakeServices) -> Issuer:
    """Issuer 'acme' with one ES256 and one EdDSA key."""
    created = services.issuers.create(
        CreateIssuer(slug="acme", name="ACME University", url="https://acme.example", email="badges@acme.example")
    )
    services.keys.generate(created, Algorithm.ES256)
    services.keys.generate(created, Algorithm.EDDSA)
    return created


@pytest.fixture
def operator(services: FakeServices) -> ApiClient:
    return services.access.operator_client()


def issue(
    services: FakeServices, client: ApiClient, body: dict[str, Any], idempotency_key: str | None = None
) -> IssueOutcome:
    return services.issuing.issue(client, parse_issue_request(body), idempotency_key)


def document_of(credential: IssuedCredential) -> dict[str, Any]:
    return loads(credential.payload)


def key_of(services: FakeServices, kid: str | None) -> SigningKey:
    assert kid is not None, "an Open Badge names its signing key"
    key = services.database.keys.get(kid)
    assert key is not None, kid
    return key


def stored(services: FakeServices) -> list[IssuedCredential]:
    return list(services.database.credentials.values())


def scoped_client(services: FakeServices, **scope: Any) -> ApiClient:
    return services.access.create(CreateClient(name="scoped", **scope)).client


# ------------------------------------------------------------------------------------------ the document


def test_builds_an_open_badges_3_credential(services: FakeServices, issuer: Issuer, operator: ApiClient) -> None:
    outcome = issue(services, operator, award_body(recipient={"email": "  Learner@Example.ORG "}))

    assert outcome.replayed is False
    credential = outcome.credential
    document = document_of(credential)
    assert document["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert UUID_URN.match(document["id"]), document["id"]
    assert document["id"] == credential.id
    assert document["type"] == ["VerifiableCredential", "AchievementCredential"]
    assert document["name"] == "Python 101"
    assert document["validFrom"] == format_datetime(services.clock.now())
    assert "validUntil" not in document
    assert "awardedDate" not in document
    assert document["issuer"] == {
        "id": issuer.did,
        "type": ["Profile"],
        "name": "ACME University",
        "url": "https://acme.example",
        "email": "badges@acme.example",
    }
    assert issuer.did == "did:web:issuer.test:issuers:acme"

    subject = document["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert "id" not in subject
    [identity] = subject["identifier"]
    assert identity["type"] == "IdentityObject"
    assert identity["hashed"] is True
    assert identity["identityType"] == "emailAddress"
    salt = identity["salt"]
    assert isinstance(salt, str)
    assert len(salt) >= 16
    expected = hashlib.sha256(("learner@example.org" + salt).encode()).hexdigest()
    assert identity["identityHash"] == f"sha256${expected}"
    assert "learner@example.org" not in credential.payload.decode().lower()

    achievement = subject["achievement"]
    assert achievement == {
        "id": "https://acme.example/achievements/python-101",
        "type": ["Achievement"],
        "name": "Python 101",
        "description": "Completed the introductory Python course.",
        "criteria": {"narrative": "Pass all six assignments and the final project."},
        "achievementType": "Certificate",
    }


def test_the_stored_record_describes_what_was_signed(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    credential = issue(services, operator, award_body()).credential

    assert stored(services) == [credential]
    assert credential.issuer_slug == issuer.slug
    assert credential.family == ob3.FAMILY
    assert credential.format == "vc+jwt"
    assert credential.status is CredentialStatus.ACTIVE
    assert credential.issued_at == services.clock.now()
    assert credential.valid_from == services.clock.now()
    assert credential.valid_until is None
    assert credential.client_id == operator.id
    assert credential.achievement_id == "https://acme.example/achievements/python-101"
    assert credential.subject_ref == services.recipients.ref_for_email("learner@example.org")
    assert credential.idempotency_key is None

    jws = parse_compact(credential.signed)
    assert jws.payload == credential.payload  # the bytes that are signed are the bytes that are stored
    assert jws.header == {"alg": "ES256", "typ": "vc+jwt", "cty": "vc", "kid": credential.kid}
    assert (credential.kid or "").startswith(issuer.did + "#")
    assert verify_signature(jws, key_of(services, credential.kid).public_jwk)


def test_a_did_recipient_becomes_the_subject_id(services: FakeServices, issuer: Issuer, operator: ApiClient) -> None:
    did = "did:example:learner-42"
    credential = issue(services, operator, award_body(recipient={"did": did})).credential

    subject = document_of(credential)["credentialSubject"]
    assert subject["id"] == did
    assert "identifier" not in subject
    assert credential.subject_ref == services.recipients.ref_for_did(did)


def test_validity_and_award_dates_are_carried(services: FakeServices, issuer: Issuer, operator: ApiClient) -> None:
    body = award_body(
        validFrom="2026-01-01T00:00:00Z",
        validUntil="2030-01-01T12:30:00+02:00",
        awardedDate="2025-12-24T18:00:00Z",
    )
    credential = issue(services, operator, body).credential

    document = document_of(credential)
    assert document["validFrom"] == "2026-01-01T00:00:00Z"
    assert document["validUntil"] == "2030-01-01T10:30:00Z"
    assert document["awardedDate"] == "2025-12-24T18:00:00Z"
    assert credential.valid_from == parse_datetime("2026-01-01T00:00:00Z")
    assert credential.valid_until == parse_datetime("2030-01-01T10:30:00Z")
    assert credential.issued_at == services.clock.now()


# ------------------------------------------------------------------------------------------ keys


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(None, Algorithm.ES256), ("ES256", Algorithm.ES256), ("EdDSA", Algorithm.EDDSA)],
)
def test_the_algorithm_is_es256_unless_eddsa_is_asked_for(
    services: FakeServices, issuer: Issuer, operator: ApiClient, requested: str | None, expected: Algorithm
) -> None:
    body = award_body() if requested is None else award_body(algorithm=requested)
    credential = issue(services, operator, body).credential

    jws = parse_compact(credential.signed)
    key = key_of(services, credential.kid)
    assert key.algorithm is expected
    assert jws.header["alg"] == expected.value
    assert verify_signature(jws, key.public_jwk)
    [(key_ref, algorithm, data)] = services.custody.signed
    assert (key_ref, algorithm, data) == (key.key_ref, expected, jws.signing_input)


def test_after_a_rotation_the_new_key_signs_and_pending_or_retired_keys_never_do(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    [older] = [k for k in services.keys.for_issuer("acme") if k.algorithm is Algorithm.ES256]
    services.clock.set(services.clock.now() + timedelta(days=30))
    rotated = services.keys.rotate(issuer, Algorithm.ES256)
    services.clock.set(services.clock.now() + timedelta(days=30))
    pending = services.keys.generate(issuer, Algorithm.ES256)  # newer still, but the issuer has an active key

    credential = issue(services, operator, award_body()).credential

    assert credential.kid == rotated.kid
    assert verify_signature(parse_compact(credential.signed), rotated.public_jwk)
    states = {k.kid: k.state for k in services.keys.for_issuer("acme")}
    assert states == {
        older.kid: KeyState.RETIRED,
        rotated.kid: KeyState.ACTIVE,
        pending.kid: KeyState.PENDING,
        **{k.kid: k.state for k in services.keys.for_issuer("acme") if k.algorithm is Algorithm.EDDSA},
    }


# ------------------------------------------------------------------------------------------ idempotency


def test_a_retry_with_the_same_key_and_body_answers_the_stored_credential(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    first = issue(services, operator, award_body(), "retry-1")
    services.clock.set(services.clock.now() + timedelta(minutes=5))
    second = issue(services, operator, award_body(), "retry-1")

    assert first.replayed is False
    assert second.replayed is True
    assert second.credential == first.credential
    assert stored(services) == [first.credential]
    assert first.credential.idempotency_key == "retry-1"
    assert len(services.custody.signed) == 1


def test_only_a_keyed_credential_keeps_the_hash_of_its_request(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    keyed = issue(services, operator, award_body(), "retry-1").credential
    unkeyed = issue(services, operator, award_body()).credential

    assert keyed.request_hash is not None and len(keyed.request_hash) == 64
    assert unkeyed.request_hash is None  # nothing a retry could be compared with


def test_the_same_key_with_another_body_conflicts(services: FakeServices, issuer: Issuer, operator: ApiClient) -> None:
    first = issue(services, operator, award_body(), "retry-1")

    with pytest.raises(Conflict) as raised:
        issue(services, operator, award_body(recipient={"email": "someone-else@example.org"}), "retry-1")

    assert [e.pointer for e in raised.value.errors] == ["Idempotency-Key"]
    assert stored(services) == [first.credential]


def test_idempotency_keys_belong_to_one_client(services: FakeServices, issuer: Issuer, operator: ApiClient) -> None:
    other = scoped_client(services)
    mine = issue(services, operator, award_body(), "shared-key")
    theirs = issue(services, other, award_body(), "shared-key")

    assert mine.replayed is False
    assert theirs.replayed is False
    assert mine.credential.id != theirs.credential.id
    assert {c.client_id for c in stored(services)} == {operator.id, other.id}


def test_a_lost_race_for_the_idempotency_key_answers_the_winner(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    # Another request with the same key and body is issued (and committed) while ours is being prepared:
    # our lookup found nothing, our insert then hits the unique constraint.
    competing: list[IssuedCredential] = []

    def concurrent_commit(ours: IssuedCredential) -> None:
        if not competing:
            winner = replace(ours, id="urn:uuid:11111111-1111-4111-8111-111111111111")
            competing.append(winner)
            services.database.credentials[winner.id] = winner  # committed by "another transaction"

    services.database.before_credential_add = concurrent_commit
    outcome = issue(services, operator, award_body(), "race")

    assert outcome.replayed is True
    assert outcome.credential == competing[0]
    assert stored(services) == competing


def test_a_lost_race_with_another_body_conflicts(services: FakeServices, issuer: Issuer, operator: ApiClient) -> None:
    def concurrent_commit(ours: IssuedCredential) -> None:
        row = replace(ours, id="urn:uuid:22222222-2222-4222-8222-222222222222", request_hash="0" * 64)
        services.database.credentials.setdefault(row.id, row)

    services.database.before_credential_add = concurrent_commit
    with pytest.raises(Conflict):
        issue(services, operator, award_body(), "race")
    assert [c.id for c in stored(services)] == ["urn:uuid:22222222-2222-4222-8222-222222222222"]


def test_a_lost_race_for_a_caller_chosen_id_conflicts(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    # Our duplicate-id check found nothing; another transaction then commits the same id before our insert.
    body = {"issuer": "acme", "credential": {**caller_document(), "id": "https://acme.example/credentials/9"}}

    def concurrent_commit(ours: IssuedCredential) -> None:
        services.database.credentials.setdefault(ours.id, replace(ours, client_id="someone-else"))

    services.database.before_credential_add = concurrent_commit
    with pytest.raises(Conflict) as raised:
        issue(services, operator, body, "race")
    assert [e.pointer for e in raised.value.errors] == ["/credential/id"]
    assert [c.client_id for c in stored(services)] == ["someone-else"]


def test_an_idempotency_key_must_be_short(services: FakeServices, issuer: Issuer, operator: ApiClient) -> None:
    with pytest.raises(InvalidInput) as raised:
        issue(services, operator, award_body(), "k" * 256)
    assert [e.pointer for e in raised.value.errors] == ["Idempotency-Key"]
    assert issue(services, operator, award_body(), "k" * 255).replayed is False


# ------------------------------------------------------------------------------------------ caller documents


def test_a_caller_document_is_completed_and_signed(services: FakeServices, issuer: Issuer, operator: ApiClient) -> None:
    credential = issue(services, operator, {"issuer": "acme", "credential": caller_document()}).credential

    document = document_of(credential)
    assert UUID_URN.match(document["id"])
    assert document["id"] == credential.id
    assert document["validFrom"] == format_datetime(services.clock.now())
    assert document["issuer"] == issuer.profile()
    assert document["credentialSubject"] == caller_document()["credentialSubject"]
    assert credential.achievement_id == "https://acme.example/achievements/data-literacy"
    assert credential.subject_ref == services.recipients.ref_for_did("did:example:learner-7")
    assert verify_signature(parse_compact(credential.signed), key_of(services, credential.kid).public_jwk)


def test_a_caller_document_keeps_what_it_gives(services: FakeServices, issuer: Issuer, operator: ApiClient) -> None:
    given = {
        **caller_document(),
        "id": "https://acme.example/credentials/7",
        "issuer": issuer.did,
        "validFrom": "2026-02-01T00:00:00Z",
    }
    credential = issue(services, operator, {"issuer": issuer.did, "credential": given}).credential

    document = document_of(credential)
    assert document["id"] == "https://acme.example/credentials/7"
    assert document["issuer"] == issuer.did
    assert document["validFrom"] == "2026-02-01T00:00:00Z"
    assert credential.id == "https://acme.example/credentials/7"


def test_a_caller_document_reusing_a_stored_id_conflicts(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    body = {"issuer": "acme", "credential": {**caller_document(), "id": "https://acme.example/credentials/7"}}
    first = issue(services, operator, body, "first-try")

    with pytest.raises(Conflict) as raised:
        issue(services, operator, body, "second-try")

    assert [e.pointer for e in raised.value.errors] == ["/credential/id"]
    assert stored(services) == [first.credential]
    assert len(services.custody.signed) == 1  # refused before signing
    # A retry with the first idempotency key is still answered with the stored credential.
    assert issue(services, operator, body, "first-try") == IssueOutcome(first.credential, replayed=True)


@pytest.mark.parametrize("claimed", ["did:web:elsewhere.example", {"id": "did:web:elsewhere.example"}])
def test_a_caller_document_naming_another_issuer_is_refused(
    services: FakeServices, issuer: Issuer, operator: ApiClient, claimed: object
) -> None:
    with pytest.raises(MalformedInput) as raised:
        issue(services, operator, {"issuer": "acme", "credential": {**caller_document(), "issuer": claimed}})
    assert [e.pointer for e in raised.value.errors] == ["/credential/issuer"]
    assert stored(services) == []


@pytest.mark.parametrize(
    ("extra", "error", "pointer"),
    [
        ({"vc": {"type": ["VerifiableCredential"]}}, InvalidInput, "/credential/vc"),
        ({"vp": {}}, InvalidInput, "/credential/vp"),
        ({"iss": "did:web:elsewhere.example"}, MalformedInput, "/credential/iss"),
    ],
    ids=["vc-wrapper", "vp-wrapper", "foreign-iss"],
)
def test_a_caller_document_with_conflicting_jwt_claims_is_refused(
    services: FakeServices,
    issuer: Issuer,
    operator: ApiClient,
    extra: dict[str, Any],
    error: type[DomainError],
    pointer: str,
) -> None:
    with pytest.raises(error) as raised:
        issue(services, operator, {"issuer": "acme", "credential": {**caller_document(), **extra}})
    assert [e.pointer for e in raised.value.errors] == [pointer]
    assert stored(services) == []
    assert services.custody.signed == []


def test_a_caller_document_may_name_its_own_issuer_as_iss(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    credential = issue(services, operator, {"issuer": "acme", "credential": {**caller_document(), "iss": issuer.did}})
    assert document_of(credential.credential)["iss"] == issuer.did


def test_schema_violations_point_into_the_credential(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    broken = copy.deepcopy(caller_document())
    del broken["credentialSubject"]["achievement"]["criteria"]
    broken["credentialSubject"]["achievement"]["name"] = 42

    with pytest.raises(InvalidInput) as raised:
        issue(services, operator, {"issuer": "acme", "credential": broken})

    pointers = [e.pointer for e in raised.value.errors]
    assert pointers, raised.value
    assert all(p.startswith("/credential/") for p in pointers), pointers
    assert "/credential/credentialSubject/achievement" in pointers
    assert "/credential/credentialSubject/achievement/name" in pointers
    assert stored(services) == []


# ------------------------------------------------------------------------------------------ authorization


def test_a_policy_denial_is_forbidden_and_stores_nothing(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    services.policy.deny_with = "recipient is not enrolled"

    with pytest.raises(Forbidden) as raised:
        issue(services, operator, award_body(), "denied")

    assert raised.value.detail == "recipient is not enrolled"
    [intent] = services.policy.intents
    assert intent.client == operator
    assert intent.issuer_slug == "acme"
    assert intent.achievement_id == "https://acme.example/achievements/python-101"
    assert intent.recipient_ref == services.recipients.ref_for_email("learner@example.org")
    assert "@" not in intent.recipient_ref
    assert stored(services) == []
    assert services.custody.signed == []


def test_an_achievement_outside_the_scope_is_forbidden(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    client = scoped_client(services, achievements=["https://acme.example/achievements/other"])
    with pytest.raises(Forbidden):
        issue(services, client, award_body())
    assert stored(services) == []


def test_an_unknown_issuer_is_invalid_for_an_all_scopes_client(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    with pytest.raises(InvalidInput) as raised:
        issue(services, operator, award_body(issuer="nobody"))
    assert [e.pointer for e in raised.value.errors] == ["/issuer"]


@pytest.mark.parametrize("reference", ["nobody", "acme"])
def test_a_scoped_client_is_forbidden_outside_its_scope_whether_the_issuer_exists_or_not(
    services: FakeServices, issuer: Issuer, reference: str
) -> None:
    services.issuers.create(CreateIssuer(slug="beta", name="Beta"))
    client = scoped_client(services, issuers=["beta"])
    with pytest.raises(Forbidden):
        issue(services, client, award_body(issuer=reference))
    assert stored(services) == []


# ------------------------------------------------------------------------------------------ failures


def _no_eddsa_key(services: FakeServices) -> dict[str, Any]:
    es_only = services.issuers.create(CreateIssuer(slug="es-only", name="ES only"))
    services.keys.generate(es_only, Algorithm.ES256)
    return award_body(issuer="es-only", algorithm="EdDSA")


def _custody_down(services: FakeServices) -> dict[str, Any]:
    services.custody.unavailable = "HSM offline"
    return award_body()


def _denied(services: FakeServices) -> dict[str, Any]:
    services.policy.deny_with = "no"
    return award_body()


def _schema_violation(services: FakeServices) -> dict[str, Any]:
    document = caller_document()
    document["credentialSubject"]["achievement"].pop("description")
    return {"issuer": "acme", "credential": document}


def _bad_validity(services: FakeServices) -> dict[str, Any]:
    return {"issuer": "acme", "credential": {**caller_document(), "validFrom": "yesterday"}}


def _mismatched_issuer(services: FakeServices) -> dict[str, Any]:
    return {"issuer": "acme", "credential": {**caller_document(), "issuer": "did:web:elsewhere.example"}}


def _unknown_issuer(services: FakeServices) -> dict[str, Any]:
    return award_body(issuer="nobody")


@pytest.mark.parametrize(
    ("arrange", "error"),
    [
        (_unknown_issuer, InvalidInput),
        (_denied, Forbidden),
        (_schema_violation, InvalidInput),
        (_bad_validity, InvalidInput),
        (_mismatched_issuer, MalformedInput),
        (_no_eddsa_key, InvalidInput),
        (_custody_down, Unavailable),
    ],
    ids=lambda value: getattr(value, "__name__", "").strip("_"),
)
def test_nothing_is_stored_when_a_step_fails(
    services: FakeServices,
    issuer: Issuer,
    operator: ApiClient,
    arrange: Callable[[FakeServices], dict[str, Any]],
    error: type[DomainError],
) -> None:
    body = arrange(services)
    commits = services.database.commits

    with pytest.raises(error):
        issue(services, operator, body, "failing-request")

    assert stored(services) == []
    assert services.database.commits == commits
    # The idempotency key was not taken: once the cause is gone, a valid request with it is issued afresh.
    services.policy.deny_with = None
    services.custody.unavailable = None
    retried = issue(services, operator, award_body(), "failing-request")
    assert retried.replayed is False
    assert stored(services) == [retried.credential]
