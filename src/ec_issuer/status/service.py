"""Lifecycle use cases: revoke, suspend, reinstate, expire, and reading a credential's history.

A status change, its history row and the values its status lists publish are written in one
transaction. The change itself is a compare-and-set on the stored status, so two concurrent requests
for the same credential cannot both act on the same starting state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ec_issuer.access.model import ApiClient
from ec_issuer.access.policy import AuthorizationPolicy, IssueIntent
from ec_issuer.core.errors import Conflict, Forbidden, NotFound
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from ec_issuer.credentials.model import CredentialStatus, IssuedCredential
from ec_issuer.events import catalogue
from ec_issuer.status.lists import StatusEntry, list_value
from ec_issuer.status.model import LifecycleAction, LifecycleEvent, RevocationReason, Transition, plan

_CHANGE_ATTEMPTS = 5
DEFAULT_SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class EventStamp:
    """Where new events get their ids and times."""

    ids: IdGenerator
    clock: Clock


@dataclass(frozen=True, slots=True)
class LifecycleOutcome:
    credential: IssuedCredential
    transition: Transition

    @property
    def changed(self) -> bool:
        return self.transition.changed


class CredentialLifecycle:
    def __init__(self, uow: UnitOfWorkFactory, policy: AuthorizationPolicy, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock
        self._events = EventStamp(ids, clock)

    def change(
        self,
        client: ApiClient,
        credential_id: str,
        action: LifecycleAction,
        *,
        reason_code: RevocationReason | None = None,
        reason: str | None = None,
    ) -> LifecycleOutcome:
        """Apply the action; asking for the state the credential is already in changes nothing."""
        if action is LifecycleAction.REVOKE and reason_code is None:
            reason_code = RevocationReason.UNSPECIFIED
        if action is not LifecycleAction.REVOKE:
            reason_code = None
        with self._uow() as uow:
            for _ in range(_CHANGE_ATTEMPTS):
                credential = self._authorized(uow, client, credential_id)
                now = self._clock.now()
                transition = plan(credential.effective_status(now), action)
                if not transition.changed:
                    return LifecycleOutcome(credential, transition)
                # The stored status, not the effective one: an active credential past validUntil is
                # refused by plan() above, so the two differ only for expiry, which is no transition here.
                if uow.credentials.change_status(credential.id, credential.status, transition.to_status):
                    event = LifecycleEvent.of(
                        transition,
                        credential_id=credential.id,
                        actor_client_id=client.id,
                        at=now,
                        reason_code=reason_code,
                        reason=reason,
                    )
                    record_change(uow, credential, transition.to_status, event, self._events)
                    self._follow_companion(uow, credential, action, event)
                    uow.commit()
                    return LifecycleOutcome(_with_status(credential, transition.to_status), transition)
        raise RuntimeError("the credential kept changing under this request")  # pragma: no cover

    def _follow_companion(
        self, uow: UnitOfWork, credential: IssuedCredential, action: LifecycleAction, cause: LifecycleEvent
    ) -> None:
        """An Open Badge and the European Digital Credential issued with it are one award in two forms: a
        revocation, suspension or reinstatement of either applies to both, in the same transaction, each
        with its own history event and outbox event."""
        companion = uow.credentials.get(credential.companion_id) if credential.companion_id else None
        if companion is None:
            return
        try:
            transition = plan(companion.effective_status(cause.at), action)
        except Conflict:
            return  # e.g. an expired companion: it keeps its own status, the requested change still stands
        if transition.changed and uow.credentials.change_status(companion.id, companion.status, transition.to_status):
            event = LifecycleEvent.of(
                transition,
                credential_id=companion.id,
                actor_client_id=cause.actor_client_id,
                at=cause.at,
                reason_code=cause.reason_code,
                reason=cause.reason,
            )
            record_change(uow, companion, transition.to_status, event, self._events)

    def history(self, client: ApiClient, credential_id: str) -> list[LifecycleEvent]:
        """Issuance first, then every change. The issuance is read from the credential record itself
        (who issued it, when), which is written once like a log row; storing it twice would cost every
        issue a second insert."""
        with self._uow() as uow:
            credential = self._readable(uow, client, credential_id)
            changes = uow.history.for_credential(credential.id)
        issued = LifecycleEvent.issued(credential.id, actor_client_id=credential.client_id, at=credential.issued_at)
        return [issued, *changes]

    def _readable(self, uow: UnitOfWork, client: ApiClient, credential_id: str) -> IssuedCredential:
        credential = uow.credentials.get(credential_id)
        if credential is None or not client.may_use_issuer(credential.issuer_slug):
            raise NotFound(f"no credential '{credential_id}'")  # another issuer's credential is not shown
        return credential

    def _authorized(self, uow: UnitOfWork, client: ApiClient, credential_id: str) -> IssuedCredential:
        """The credential, when this client could have issued it: the same rule governs changing it."""
        credential = self._readable(uow, client, credential_id)
        intent = IssueIntent(client, credential.issuer_slug, credential.achievement_id, credential.subject_ref)
        decision = self._policy.decide(intent)
        if not decision.allowed:
            raise Forbidden(decision.reason)
        return credential


class ExpirySweep:
    """Writes down that credentials past their validUntil are expired. Several sweeps may run at once:
    each locks its batch and skips rows another holds (PostgreSQL), and the compare-and-set on the
    status keeps a credential from being expired, and logged, twice."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._clock = clock
        self._events = EventStamp(ids, clock)

    def run(self, *, batch: int = DEFAULT_SWEEP_BATCH) -> int:
        """Expire everything due now; the number of credentials this sweep expired."""
        expired = 0
        while True:
            with self._uow() as uow:
                now = self._clock.now()
                due = uow.credentials.due_to_expire(now, batch)
                for credential in due:
                    transition = plan(credential.status, LifecycleAction.EXPIRE)
                    if uow.credentials.change_status(credential.id, credential.status, transition.to_status):
                        event = LifecycleEvent.of(
                            transition,
                            credential_id=credential.id,
                            actor_client_id=None,
                            at=now,
                            reason="validUntil has passed",
                        )
                        record_change(uow, credential, transition.to_status, event, self._events)
                        expired += 1
                uow.commit()
            if len(due) < batch:
                return expired


def record_change(
    uow: UnitOfWork,
    credential: IssuedCredential,
    new: CredentialStatus,
    event: LifecycleEvent,
    events: EventStamp,
) -> None:
    """Log the change, publish it through the outbox and update what the credential's lists publish.

    ``credential`` is the record as it was before the change: what its lists published follows from
    its old status, so only the entries whose value changes are written.
    """
    uow.history.append(event)
    issuer = uow.issuers.get(credential.issuer_slug)
    issuer_did = issuer.did if issuer is not None else credential.issuer_slug
    uow.outbox.add(catalogue.credential_status_changed(events.ids, events.clock, credential, issuer_did, event))
    changed_lists: list[str] = []
    for ref in credential.status_slots:
        entry = StatusEntry.from_ref(credential.id, ref)
        wanted = list_value(entry.kind, new)
        if wanted != list_value(entry.kind, credential.status):
            uow.status_lists.set_value(entry, wanted)
            changed_lists.append(entry.list_id)
    uow.status_lists.touch(changed_lists)


def _with_status(credential: IssuedCredential, status: CredentialStatus) -> IssuedCredential:
    return replace(credential, status=status)
