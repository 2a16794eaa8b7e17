"""The credential lifecycle state machine, and its history rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ec_issuer.core.errors import Conflict, InvalidInput
from ec_issuer.credentials.model import CredentialStatus
from ec_issuer.status.model import (
    MAX_REASON_LENGTH,
    LifecycleAction,
    LifecycleEvent,
    LifecycleEventType,
    RevocationReason,
    Transition,
    expire,
    plan,
    reinstate,
    revoke,
    suspend,
)

ACTIVE, SUSPENDED = CredentialStatus.ACTIVE, CredentialStatus.SUSPENDED
REVOKED, EXPIRED = CredentialStatus.REVOKED, CredentialStatus.EXPIRED
SUSPEND, REINSTATE = LifecycleAction.SUSPEND, LifecycleAction.REINSTATE
REVOKE, EXPIRE = LifecycleAction.REVOKE, LifecycleAction.EXPIRE
AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

# (from, action) → to, "same" for an idempotent no change, or None for a refusal (409)
TABLE: dict[tuple[CredentialStatus, LifecycleAction], CredentialStatus | str | None] = {
    (ACTIVE, SUSPEND): SUSPENDED,
    (ACTIVE, REINSTATE): "same",
    (ACTIVE, REVOKE): REVOKED,
    (ACTIVE, EXPIRE): EXPIRED,
    (SUSPENDED, SUSPEND): "same",
    (SUSPENDED, REINSTATE): ACTIVE,
    (SUSPENDED, REVOKE): REVOKED,
    (SUSPENDED, EXPIRE): EXPIRED,
    (REVOKED, SUSPEND): None,
    (REVOKED, REINSTATE): None,
    (REVOKED, REVOKE): "same",
    (REVOKED, EXPIRE): None,
    (EXPIRED, SUSPEND): None,
    (EXPIRED, REINSTATE): None,
    (EXPIRED, REVOKE): None,
    (EXPIRED, EXPIRE): "same",
}


def test_the_table_covers_every_status_and_action() -> None:
    assert set(TABLE) == {(status, action) for status in CredentialStatus for action in LifecycleAction}


@pytest.mark.parametrize(("current", "action"), list(TABLE))
def test_transitions(current: CredentialStatus, action: LifecycleAction) -> None:
    expected = TABLE[current, action]
    if expected is None:
        with pytest.raises(Conflict) as refused:
            plan(current, action)
        assert current.value in refused.value.detail
        assert action.value in refused.value.detail
        return
    transition = plan(current, action)
    assert transition.from_status is current
    if expected == "same":
        assert transition.to_status is current
        assert not transition.changed
    else:
        assert transition.to_status is expected
        assert transition.changed


def test_shortcuts_match_plan() -> None:
    assert suspend(ACTIVE) == Transition(SUSPEND, ACTIVE, SUSPENDED)
    assert reinstate(SUSPENDED) == Transition(REINSTATE, SUSPENDED, ACTIVE)
    assert revoke(SUSPENDED) == Transition(REVOKE, SUSPENDED, REVOKED)
    assert expire(ACTIVE) == Transition(EXPIRE, ACTIVE, EXPIRED)


def test_reinstating_a_revoked_credential_is_refused_with_a_clear_message() -> None:
    with pytest.raises(Conflict, match="cannot reinstate a revoked credential: revocation is permanent"):
        reinstate(REVOKED)


def test_revoking_twice_is_no_change() -> None:
    first = revoke(ACTIVE)
    assert first.changed
    again = revoke(first.to_status)
    assert not again.changed
    assert again.to_status is REVOKED


def test_suspend_reinstate_round_trip() -> None:
    there = suspend(ACTIVE)
    back = reinstate(there.to_status)
    assert back.to_status is ACTIVE
    assert [there.event_type, back.event_type] == [LifecycleEventType.SUSPENDED, LifecycleEventType.REINSTATED]


# ------------------------------------------------------------------------------------------ history


def test_events_record_who_changed_what_when_and_why() -> None:
    event = LifecycleEvent.of(
        revoke(SUSPENDED),
        credential_id="urn:uuid:1",
        actor_client_id="registrar",
        at=AT,
        reason_code=RevocationReason.ISSUED_IN_ERROR,
        reason="wrong learner",
    )
    assert (event.event, event.from_status, event.to_status) == (LifecycleEventType.REVOKED, SUSPENDED, REVOKED)
    assert (event.actor_client_id, event.at, event.reason_code, event.reason) == (
        "registrar",
        AT,
        RevocationReason.ISSUED_IN_ERROR,
        "wrong learner",
    )
    issued = LifecycleEvent.issued("urn:uuid:1", actor_client_id="registrar", at=AT)
    assert (issued.event, issued.from_status, issued.to_status) == (LifecycleEventType.ISSUED, None, ACTIVE)
    swept = LifecycleEvent.of(expire(ACTIVE), credential_id="urn:uuid:1", actor_client_id=None, at=AT)
    assert swept.actor_client_id is None


def test_no_change_writes_no_history() -> None:
    with pytest.raises(ValueError, match="no history"):
        LifecycleEvent.of(revoke(REVOKED), credential_id="c", actor_client_id="a", at=AT, reason_code=None)


def test_revocations_need_a_reason_code_and_only_they_carry_one() -> None:
    with pytest.raises(ValueError, match="reason code"):
        LifecycleEvent.of(revoke(ACTIVE), credential_id="c", actor_client_id="a", at=AT)
    with pytest.raises(ValueError, match="only revocations"):
        LifecycleEvent.of(
            suspend(ACTIVE), credential_id="c", actor_client_id="a", at=AT, reason_code=RevocationReason.FRAUD
        )


def test_reasons_are_bounded_and_times_aware() -> None:
    with pytest.raises(InvalidInput, match="longer than"):
        LifecycleEvent.of(suspend(ACTIVE), credential_id="c", actor_client_id="a", at=AT, reason="x" * 1001)
    assert LifecycleEvent.of(
        suspend(ACTIVE), credential_id="c", actor_client_id="a", at=AT, reason="x" * MAX_REASON_LENGTH
    )
    with pytest.raises(ValueError, match="timezone"):
        LifecycleEvent.issued("c", actor_client_id="a", at=datetime(2026, 1, 1))


def test_reason_codes_parse_and_unknown_ones_are_invalid_input() -> None:
    assert RevocationReason.parse("superseded") is RevocationReason.SUPERSEDED
    with pytest.raises(InvalidInput) as refused:
        RevocationReason.parse("because")
    assert refused.value.errors[0].pointer == "/reasonCode"
    assert "unspecified" in refused.value.detail


# ------------------------------------------------------------------------------------------ allocation
