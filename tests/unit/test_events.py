"""Events recorded in the outbox by the transaction of each change, wired to in-memory fakes."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ec_issuer.access.model import ApiClient
from ec_issuer.core.encoding import loads
from ec_issuer.core.errors import Conflict
from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.credentials.model import IssuedCredential
from ec_issuer.events import catalogue
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.status.model import LifecycleAction, RevocationReason
from tests.fakes import FakeServices, fake_services
from tests.support import award_body


@pytest.fixture
def services() -> FakeServices:
    return fake_services()


@pytest.fixture
def issuer(services: FakeServices) -> Issuer:
    created = services.issuers.create(CreateIssuer(slug="acme", name="ACME University"))
    services.keys.generate(created, Algorithm.ES256)
    return created


@pytest.fixture
def operator(services: FakeServices) -> ApiClient:
    return services.access.operator_client()


def envelopes(services: FakeServices, type_: str | None = None) -> list[dict[str, Any]]:
    found = [loads(event.envelope) for event in services.database.outbox.values()]
    return [envelope for envelope in found if type_ is None or envelope["type"] == type_]


def issue(services: FakeServices, client: ApiClient, **overrides: Any) -> IssuedCredential:
    return services.issuing.issue(client, parse_issue_request(award_body(**overrides))).credential


def test_issuing_records_a_credential_issued_cloudevent(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    credential = issue(services, operator)
    [envelope] = envelopes(services, catalogue.CREDENTIAL_ISSUED)
    assert set(envelope) == {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
    assert envelope["specversion"] == "1.0"
    assert (envelope["source"], envelope["subject"]) == (issuer.did, credential.id)
    assert envelope["data"]["recipientRef"] == credential.subject_ref
    assert "learner@example.org" not in str(envelope)  # the recipient's address never leaves the service


def test_status_changes_record_events_without_free_text(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    credential = issue(services, operator)
    services.lifecycle.change(operator, credential.id, LifecycleAction.SUSPEND, reason="call +44 20 7946 0000")
    services.lifecycle.change(operator, credential.id, LifecycleAction.REINSTATE)
    services.lifecycle.change(
        operator, credential.id, LifecycleAction.REVOKE, reason_code=RevocationReason.FRAUD, reason="J. Smith lied"
    )
    types = [e["type"] for e in envelopes(services) if e["subject"] == credential.id]
    assert types == [
        catalogue.CREDENTIAL_ISSUED,
        catalogue.CREDENTIAL_SUSPENDED,
        catalogue.CREDENTIAL_REINSTATED,
        catalogue.CREDENTIAL_REVOKED,
    ]
    [revoked] = envelopes(services, catalogue.CREDENTIAL_REVOKED)
    assert (revoked["data"]["reasonCode"], revoked["data"]["previousStatus"]) == ("fraud", "active")
    assert "Smith" not in str(envelopes(services)) and "7946" not in str(envelopes(services))


def test_no_change_and_refused_changes_record_nothing(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    credential = issue(services, operator)
    services.lifecycle.change(operator, credential.id, LifecycleAction.REVOKE)
    before = len(services.database.outbox)
    services.lifecycle.change(operator, credential.id, LifecycleAction.REVOKE)  # no change
    with pytest.raises(Conflict):
        services.lifecycle.change(operator, credential.id, LifecycleAction.REINSTATE)
    assert len(services.database.outbox) == before


def test_the_expiry_sweep_records_expired_events(services: FakeServices, issuer: Issuer, operator: ApiClient) -> None:
    now = services.clock.now()
    credential = issue(services, operator, validUntil=(now + timedelta(hours=1)).isoformat())
    services.clock.set(now + timedelta(hours=2))
    services.expiry.run()
    [expired] = envelopes(services, catalogue.CREDENTIAL_EXPIRED)
    assert (expired["subject"], expired["data"]["actor"]) == (credential.id, None)


def test_key_activation_rotation_and_revocation_are_events(services: FakeServices, issuer: Issuer) -> None:
    first = services.keys.for_issuer(issuer.slug)[0]
    second = services.keys.rotate(issuer, Algorithm.ES256)
    services.keys.revoke(issuer, first.kid, "backup tape lost")
    kinds = [
        (e["type"], e["subject"], e["data"]["replaces"])
        for e in envelopes(services)
        if e["type"].startswith("org.ec-issuer.key.")
    ]
    assert kinds == [
        (catalogue.KEY_ACTIVATED, first.kid, None),
        (catalogue.KEY_ROTATED, second.kid, first.kid),
        (catalogue.KEY_REVOKED, first.kid, None),
    ]
    assert "tape" not in str(envelopes(services))


def test_event_ids_are_unique_and_types_are_catalogued(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    for _ in range(5):
        issue(services, operator)
    found = envelopes(services)
    assert len({e["id"] for e in found}) == len(found)
    assert {e["type"] for e in found} <= set(catalogue.EVENT_TYPES)


DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_catalogue_the_events_page_and_the_asyncapi_document_agree() -> None:
    page = (DOCS / "events.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(org\.ec-issuer\.[a-z.]+)` \|", page, flags=re.MULTILINE))
    asyncapi = (DOCS / "asyncapi.yaml").read_text(encoding="utf-8")
    addresses = set(re.findall(r"^\s+address: (\S+)$", asyncapi, flags=re.MULTILINE))
    assert documented == set(catalogue.EVENT_TYPES)
    assert addresses == set(catalogue.EVENT_TYPES)


def test_every_data_field_an_event_carries_is_documented(
    services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    credential = issue(services, operator)
    services.lifecycle.change(operator, credential.id, LifecycleAction.REVOKE)
    services.keys.rotate(issuer, Algorithm.ES256)
    page = (DOCS / "events.md").read_text(encoding="utf-8")
    asyncapi = (DOCS / "asyncapi.yaml").read_text(encoding="utf-8")
    for envelope in envelopes(services):
        for field in envelope["data"]:
            assert f"`{field}`" in page, (envelope["type"], field)
            assert f"{field}:" in asyncapi, (envelope["type"], field)
