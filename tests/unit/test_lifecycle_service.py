"""The lifecycle use cases through the service layer, wired to in-memory fakes (no database)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from ec_issuer.access.model import ApiClient
from ec_issuer.core.errors import Conflict, Forbidden, NotFound
from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.credentials.model import CredentialStatus, IssuedCredential
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.status.lists import StatusEntry, StatusListKind
from ec_issuer.status.model import LifecycleAction, LifecycleEventType, RevocationReason
from ec_issuer.status.schedule import PeriodicSweep
from tests.fakes import FakeServices, RecordingPolicy, fake_services
from tests.support import award_body


@pytest.fixture
def services() -> FakeServices:
    built = fake_services()
    issuer = built.issuers.create(CreateIssuer(slug="acme", name="ACME University", url="https://acme.example"))
    built.keys.generate(issuer, Algorithm.ES256)
    built.keys.generate(issuer, Algorithm.EDDSA)
    return built


@pytest.fixture
def operator(services: FakeServices) -> ApiClient:
    return services.access.operator_client()


def issue(services: FakeServices, client: ApiClient, **overrides: Any) -> IssuedCredential:
    return services.issuing.issue(client, parse_issue_request(award_body(**overrides))).credential


def values(services: FakeServices, credential_id: str) -> dict[StatusListKind, int]:
    """What each of the credential's lists publishes for it (entries never changed publish 0)."""
    published = services.database.status_entries
    found: dict[StatusListKind, int] = {}
    for ref in services.database.credentials[credential_id].status_slots:
        entry = StatusEntry.from_ref(credential_id, ref)
        found[entry.kind] = published.get((entry.list_id, entry.index), (entry, 0))[1]
    return found


def test_issuing_assigns_a_revocation_and_a_token_entry_and_logs_issued(
    services: FakeServices, operator: ApiClient
) -> None:
    credential = issue(services, operator)
    assert values(services, credential.id) == {StatusListKind.REVOCATION: 0, StatusListKind.TOKEN: 0}
    [event] = services.lifecycle.history(operator, credential.id)
    assert (event.event, event.actor_client_id, event.at) == (
        LifecycleEventType.ISSUED,
        operator.id,
        credential.issued_at,
    )


def test_a_change_updates_status_values_and_history_together(services: FakeServices, operator: ApiClient) -> None:
    credential = issue(services, operator)
    outcome = services.lifecycle.change(operator, credential.id, LifecycleAction.SUSPEND, reason="review")
    assert outcome.changed
    assert values(services, credential.id) == {StatusListKind.REVOCATION: 0, StatusListKind.TOKEN: 2}
    services.lifecycle.change(
        operator, credential.id, LifecycleAction.REVOKE, reason_code=RevocationReason.FRAUD, reason="forged"
    )
    assert values(services, credential.id) == {StatusListKind.REVOCATION: 1, StatusListKind.TOKEN: 1}
    revisions = {record.id: record.revision for record in services.database.status_lists.values()}
    assert revisions == {"acme/revocation/1": 1, "acme/token/1": 2}
    events = services.lifecycle.history(operator, credential.id)
    assert [(e.event, e.reason_code, e.reason) for e in events][1:] == [
        (LifecycleEventType.SUSPENDED, None, "review"),
        (LifecycleEventType.REVOKED, RevocationReason.FRAUD, "forged"),
    ]


def test_a_refused_change_writes_nothing(services: FakeServices, operator: ApiClient) -> None:
    credential = issue(services, operator)
    services.lifecycle.change(operator, credential.id, LifecycleAction.REVOKE)
    commits = services.database.commits
    with pytest.raises(Conflict):
        services.lifecycle.change(operator, credential.id, LifecycleAction.REINSTATE)
    assert services.database.commits == commits
    assert len(services.lifecycle.history(operator, credential.id)) == 2


def test_revocation_without_a_code_is_recorded_as_unspecified(services: FakeServices, operator: ApiClient) -> None:
    credential = issue(services, operator)
    services.lifecycle.change(operator, credential.id, LifecycleAction.REVOKE)
    assert services.lifecycle.history(operator, credential.id)[-1].reason_code is RevocationReason.UNSPECIFIED


def test_the_issuing_policy_governs_changes(operator: ApiClient) -> None:
    denying = RecordingPolicy()
    services = fake_services(policy=denying)
    issuer = services.issuers.create(CreateIssuer(slug="acme", name="ACME University"))
    services.keys.generate(issuer, Algorithm.ES256)
    credential = services.issuing.issue(services.access.operator_client(), parse_issue_request(award_body())).credential
    denying.deny_with = "achievement withdrawn from this client"
    with pytest.raises(Forbidden, match="withdrawn"):
        services.lifecycle.change(services.access.operator_client(), credential.id, LifecycleAction.SUSPEND)
    with pytest.raises(NotFound):
        services.lifecycle.change(services.access.operator_client(), "urn:uuid:missing", LifecycleAction.SUSPEND)


def test_the_sweep_expires_due_credentials_once(services: FakeServices, operator: ApiClient) -> None:
    now = services.clock.now()
    due = issue(services, operator, validUntil=(now + timedelta(hours=1)).isoformat())
    suspended = issue(services, operator, validUntil=(now + timedelta(hours=1)).isoformat())
    later = issue(services, operator, validUntil=(now + timedelta(days=30)).isoformat())
    services.lifecycle.change(operator, suspended.id, LifecycleAction.SUSPEND)
    services.clock.set(now + timedelta(hours=2))
    assert services.expiry.run(batch=1) == 2  # several batches
    assert services.expiry.run() == 0
    statuses = {c.id: c.status for c in services.database.credentials.values()}
    assert statuses == {
        due.id: CredentialStatus.EXPIRED,
        suspended.id: CredentialStatus.EXPIRED,
        later.id: CredentialStatus.ACTIVE,
    }
    assert values(services, suspended.id)[StatusListKind.TOKEN] == 0  # no longer suspended: expiry speaks for itself
    [expired] = [e for e in services.lifecycle.history(operator, suspended.id) if e.event is LifecycleEventType.EXPIRED]
    assert (expired.actor_client_id, expired.from_status) == (None, CredentialStatus.SUSPENDED)


def test_the_periodic_sweep_runs_until_stopped(services: FakeServices, operator: ApiClient) -> None:
    now = services.clock.now()
    credential = issue(services, operator, validUntil=(now + timedelta(minutes=1)).isoformat())
    services.clock.set(now + timedelta(minutes=2))
    schedule = PeriodicSweep(services.expiry.run, interval=0.01)
    schedule.start()
    try:
        deadline = time.monotonic() + 5
        while services.database.credentials[credential.id].status is not CredentialStatus.EXPIRED:
            assert time.monotonic() < deadline, "the scheduled sweep never ran"
            time.sleep(0.01)
    finally:
        schedule.stop()
    with pytest.raises(ValueError, match="positive"):
        PeriodicSweep(services.expiry.run, interval=0)
