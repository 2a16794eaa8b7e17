"""An event exists exactly when its change was committed: both are written by one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ec_issuer.bootstrap import Container
from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.events.model import OutboxEvent
from ec_issuer.issuers.model import Issuer
from ec_issuer.status.model import LifecycleAction
from ec_issuer.storage.outbox import SqlOutbox
from ec_issuer.storage.tables import credential_history, issued_credentials, outbox_events
from tests.support import award_body


class Crash(Exception):
    """Stands for anything going wrong after the rows are written and before the commit."""


def counts(container: Container) -> tuple[int, int, int]:
    with container.engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (issued_credentials, outbox_events, credential_history)
        )


@pytest.fixture
def crash_after_writing_the_event(monkeypatch: pytest.MonkeyPatch) -> None:
    write = SqlOutbox.add

    def write_then_crash(self: SqlOutbox, event: OutboxEvent) -> None:
        write(self, event)  # the credential (or status change) and the event are both written now
        raise Crash(event.type)

    monkeypatch.setattr(SqlOutbox, "add", write_then_crash)


def test_a_failed_issue_leaves_neither_credential_nor_event(
    container: Container, issuer: Issuer, crash_after_writing_the_event: None
) -> None:
    operator = container.access.operator_client()
    before = counts(container)  # the issuer's key activations are events already
    with pytest.raises(Crash, match=r"credential\.issued"):
        container.issuing.issue(operator, parse_issue_request(award_body()))
    assert counts(container) == before
    assert before[0] == 0


def test_a_committed_issue_has_its_event(container: Container, issuer: Issuer) -> None:
    operator = container.access.operator_client()
    before = counts(container)
    credential = container.issuing.issue(operator, parse_issue_request(award_body())).credential
    assert counts(container) == (before[0] + 1, before[1] + 1, before[2])
    with container.engine.connect() as connection:
        row = connection.execute(select(outbox_events).where(outbox_events.c.subject == credential.id)).one()
    assert (row.type, row.state, row.attempts) == ("org.ec-issuer.credential.issued", "pending", 0)


def test_a_failed_status_change_leaves_status_history_and_events_as_they_were(
    container: Container, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = container.access.operator_client()
    credential = container.issuing.issue(operator, parse_issue_request(award_body())).credential
    before = counts(container)
    write = SqlOutbox.add

    def write_then_crash(self: SqlOutbox, event: OutboxEvent) -> None:
        write(self, event)
        raise Crash(event.type)

    monkeypatch.setattr(SqlOutbox, "add", write_then_crash)
    with pytest.raises(Crash, match=r"credential\.revoked"):
        container.lifecycle.change(operator, credential.id, LifecycleAction.REVOKE)
    assert counts(container) == before
    with container.engine.connect() as connection:
        status = connection.execute(
            select(issued_credentials.c.status).where(issued_credentials.c.id == credential.id)
        ).scalar_one()
    assert status == "active"
