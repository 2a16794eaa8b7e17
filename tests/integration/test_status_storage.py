"""The database itself refuses a status list slot handed out twice, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.exc import IntegrityError

from ec_issuer.bootstrap import Container
from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.issuers.model import Issuer
from ec_issuer.storage.unit_of_work import SqlUnitOfWork
from tests.support import award_body


@pytest.mark.parametrize("kind", ["revocation", "token"])
def test_a_slot_cannot_be_stored_twice(container: Container, issuer: Issuer, kind: str) -> None:
    operator = container.access.operator_client()
    first = container.issuing.issue(operator, parse_issue_request(award_body())).credential
    assert len(first.status_slots) == 2
    taken = next(ref for ref in first.status_slots if f"/{kind}/" in ref)
    clash = replace(first, id="urn:uuid:00000000-0000-4000-8000-00000000c1a5", status_slots=(taken,))
    with SqlUnitOfWork(container.engine) as uow, pytest.raises(IntegrityError):
        uow.credentials.add(clash)
    without_slots = replace(clash, status_slots=())
    with SqlUnitOfWork(container.engine) as uow:  # the same row without the slot is accepted
        uow.credentials.add(without_slots)
        uow.commit()
