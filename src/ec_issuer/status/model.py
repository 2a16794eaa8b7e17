"""The credential lifecycle as a small state machine and its history records.

    active ──suspend──▶ suspended ──reinstate──▶ active
    active | suspended ──revoke──▶ revoked      (irreversible; reason code + free text)
    active | suspended ──expire──▶ expired      (validUntil has passed)

Asking for the state a credential is already in is "no change" (idempotent), not an error. Every other
transition is refused with Conflict (409): nothing leaves revoked or expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ec_issuer.core.errors import Conflict, FieldError, InvalidInput
from ec_issuer.credentials.model import CredentialStatus

MAX_REASON_LENGTH = 1000


class LifecycleAction(StrEnum):
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"
    EXPIRE = "expire"


class LifecycleEventType(StrEnum):
    """What a history row records; ``issued`` opens every credential's history."""

    ISSUED = "issued"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    REVOKED = "revoked"
    EXPIRED = "expired"


class RevocationReason(StrEnum):
    """Why a credential was revoked; a closed list, so that reports can count them."""

    UNSPECIFIED = "unspecified"
    ISSUED_IN_ERROR = "issued_in_error"
    SUPERSEDED = "superseded"
    PRIVILEGE_WITHDRAWN = "privilege_withdrawn"
    FRAUD = "fraud"
    HOLDER_REQUEST = "holder_request"
    KEY_COMPROMISE = "key_compromise"

    @classmethod
    def parse(cls, code: str, *, pointer: str = "/reasonCode") -> RevocationReason:
        """The reason for a code from a request; InvalidInput (422) naming the allowed codes otherwise."""
        try:
            return cls(code)
        except ValueError:
            allowed = ", ".join(reason.value for reason in cls)
            detail = f"unknown revocation reason code {code!r}; use one of: {allowed}"
            raise InvalidInput(detail, [FieldError(pointer, detail)]) from None


# action → (states it applies to, the state it leads to, the history event it writes)
_RULES: dict[LifecycleAction, tuple[frozenset[CredentialStatus], CredentialStatus, LifecycleEventType]] = {
    LifecycleAction.SUSPEND: (
        frozenset({CredentialStatus.ACTIVE}),
        CredentialStatus.SUSPENDED,
        LifecycleEventType.SUSPENDED,
    ),
    LifecycleAction.REINSTATE: (
        frozenset({CredentialStatus.SUSPENDED}),
        CredentialStatus.ACTIVE,
        LifecycleEventType.REINSTATED,
    ),
    LifecycleAction.REVOKE: (
        frozenset({CredentialStatus.ACTIVE, CredentialStatus.SUSPENDED}),
        CredentialStatus.REVOKED,
        LifecycleEventType.REVOKED,
    ),
    LifecycleAction.EXPIRE: (
        frozenset({CredentialStatus.ACTIVE, CredentialStatus.SUSPENDED}),
        CredentialStatus.EXPIRED,
        LifecycleEventType.EXPIRED,
    ),
}


@dataclass(frozen=True, slots=True)
class Transition:
    """The outcome of applying an action to a status: a change, or "no change" when already there."""

    action: LifecycleAction
    from_status: CredentialStatus
    to_status: CredentialStatus

    @property
    def changed(self) -> bool:
        return self.from_status is not self.to_status

    @property
    def event_type(self) -> LifecycleEventType:
        return _RULES[self.action][2]


def plan(current: CredentialStatus, action: LifecycleAction) -> Transition:
    """Where ``action`` takes a credential in status ``current``; Conflict when it may not.

    Pass the *effective* status (``IssuedCredential.effective_status``), so that a credential past its
    validUntil counts as expired even before the sweep has written that down.
    """
    sources, target, _ = _RULES[action]
    if current is target:
        return Transition(action, current, current)
    if current not in sources:
        raise Conflict(_refusal(current, action))
    return Transition(action, current, target)


def _refusal(current: CredentialStatus, action: LifecycleAction) -> str:
    if current is CredentialStatus.REVOKED:
        return f"cannot {action.value} a revoked credential: revocation is permanent"
    if current is CredentialStatus.EXPIRED:
        return f"cannot {action.value} an expired credential"
    if action is LifecycleAction.REINSTATE:
        return f"cannot reinstate a credential that is {current.value}: only suspended credentials can be"
    return f"cannot {action.value} a credential that is {current.value}"  # pragma: no cover - table is total


def suspend(current: CredentialStatus) -> Transition:
    return plan(current, LifecycleAction.SUSPEND)


def reinstate(current: CredentialStatus) -> Transition:
    return plan(current, LifecycleAction.REINSTATE)


def revoke(current: CredentialStatus) -> Transition:
    return plan(current, LifecycleAction.REVOKE)


def expire(current: CredentialStatus) -> Transition:
    return plan(current, LifecycleAction.EXPIRE)


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One row of a credential's append-only history."""

    credential_id: str
    event: LifecycleEventType
    from_status: CredentialStatus | None  # None for ``issued``
    to_status: CredentialStatus
    actor_client_id: str | None  # None when the service itself acted (the expiry sweep)
    at: datetime
    reason_code: RevocationReason | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("lifecycle events carry timezone-aware times")
        if self.event is LifecycleEventType.REVOKED and self.reason_code is None:
            raise ValueError("a revocation records a reason code")
        if self.event is not LifecycleEventType.REVOKED and self.reason_code is not None:
            raise ValueError("only revocations carry a reason code")
        if self.reason is not None and len(self.reason) > MAX_REASON_LENGTH:
            raise InvalidInput(
                f"reason is longer than {MAX_REASON_LENGTH} characters",
                [FieldError("/reason", f"at most {MAX_REASON_LENGTH} characters")],
            )

    @classmethod
    def issued(cls, credential_id: str, *, actor_client_id: str, at: datetime) -> LifecycleEvent:
        return cls(credential_id, LifecycleEventType.ISSUED, None, CredentialStatus.ACTIVE, actor_client_id, at)

    @classmethod
    def of(
        cls,
        transition: Transition,
        *,
        credential_id: str,
        actor_client_id: str | None,
        at: datetime,
        reason_code: RevocationReason | None = None,
        reason: str | None = None,
    ) -> LifecycleEvent:
        """The history row for a transition that changed something ("no change" writes no row)."""
        if not transition.changed:
            raise ValueError("an unchanged status writes no history")
        return cls(
            credential_id,
            transition.event_type,
            transition.from_status,
            transition.to_status,
            actor_client_id,
            at,
            reason_code,
            reason,
        )
