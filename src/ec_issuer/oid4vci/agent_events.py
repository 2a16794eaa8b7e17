"""The external agent's events, mapped onto our offer states and events.

The agent pushes each event as `{"<EventName>": {…}}` (a serde externally tagged enum). Offer events name
the offer by our offer id (the agent's offers are made under it); credential events name the agent's
credential id, which the agent gave us when the award was added. Events arrive in any order and may be
repeated: states only move forward, and each outbox event is written once.

| agent event | our state | our event |
|---|---|---|
| TokenResponseCreated | token_issued | offer.redeemed |
| CredentialResponseCreated | credential_issued | (none: SignedCredentialCreated carries the detail) |
| SignedCredentialCreated, CredentialSigned | credential_issued | offer.delivered, once per credential |
| NotificationReceived | notified | offer.notified, once per credential |
| UnsignedCredentialCreated | (keeps its notification_id for offer.delivered) | |
| other offer events | noted only | |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from ec_issuer.core.errors import FieldError, InvalidInput
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.core.validation import ShortText, field_errors
from ec_issuer.events import catalogue as events
from ec_issuer.oid4vci.agent_model import AgentCredential, AgentEventRecord, AgentOffer, AgentOfferStore
from ec_issuer.oid4vci.metadata import IssuerEndpoints
from ec_issuer.oid4vci.model import Delivery, OfferState

_EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class Kind(Enum):
    NOTED = "noted"
    REDEEMED = "redeemed"
    RESPONDED = "responded"
    UNSIGNED = "unsigned"
    SIGNED = "signed"
    NOTIFIED = "notified"


KINDS: dict[str, Kind] = {
    "CredentialOfferCreated": Kind.NOTED,
    "FormUrlEncodedCredentialOfferCreated": Kind.NOTED,
    "CredentialsAdded": Kind.NOTED,
    "CredentialOfferSent": Kind.NOTED,
    "CredentialOfferEmailSent": Kind.NOTED,
    "TxCodeGenerated": Kind.NOTED,
    "CredentialRequestVerified": Kind.NOTED,
    "TokenResponseCreated": Kind.REDEEMED,
    "CredentialResponseCreated": Kind.RESPONDED,
    "UnsignedCredentialCreated": Kind.UNSIGNED,
    "SignedCredentialCreated": Kind.SIGNED,
    "CredentialSigned": Kind.SIGNED,
    "NotificationReceived": Kind.NOTIFIED,
}


class _Fields(BaseModel):
    # The agent's events carry much more (tokens, the signed credential): only what we map is read.
    model_config = ConfigDict(extra="ignore", strict=True)


class _OfferFields(_Fields):
    offer_id: ShortText


class _CredentialFields(_Fields):
    credential_id: ShortText
    notification_id: ShortText | None = None


class _Notification(_Fields):
    notification_id: ShortText
    event: Literal["credential_accepted", "credential_failure", "credential_deleted"]


class _NotificationFields(_Fields):
    credential_id: ShortText
    notification: _Notification


_FIELDS: dict[Kind, type[_Fields]] = {
    Kind.NOTED: _OfferFields,
    Kind.REDEEMED: _OfferFields,
    Kind.RESPONDED: _OfferFields,
    Kind.UNSIGNED: _CredentialFields,
    Kind.SIGNED: _CredentialFields,
    Kind.NOTIFIED: _NotificationFields,
}


@dataclass(frozen=True, slots=True)
class AgentEvent:
    name: str
    kind: Kind | None  # None: an event we do not map
    offer_id: str | None = None
    credential_id: str | None = None
    notification_id: str | None = None
    notification_event: str | None = None


def parse_agent_event(body: Any) -> AgentEvent:
    """The event in a webhook body; InvalidInput (422) naming the field when the body is not one."""
    members = cast(dict[str, Any], body) if isinstance(body, dict) else None
    if members is None or len(members) != 1:
        raise InvalidInput(
            "an agent event is a JSON object with one member, named for the event",
            [FieldError("", 'expected {"<EventName>": {…}}')],
        )
    [(name, payload)] = members.items()
    pointer = "/" + name.replace("~", "~0").replace("/", "~1")
    if not _EVENT_NAME.match(name):
        raise InvalidInput("the event name is not one", [FieldError(pointer, "letters, digits and _ (at most 64)")])
    if not isinstance(payload, dict):
        raise InvalidInput("the event's fields must be a JSON object", [FieldError(pointer, "expected an object")])
    kind = KINDS.get(name)
    if kind is None:
        return AgentEvent(name, None)
    try:
        fields = _FIELDS[kind].model_validate(payload)
    except ValidationError as exc:
        raise InvalidInput(f"the {name} event is not valid", field_errors(exc, (name,))) from None
    if isinstance(fields, _OfferFields):
        return AgentEvent(name, kind, offer_id=fields.offer_id)
    if isinstance(fields, _NotificationFields):
        notification = fields.notification
        return AgentEvent(
            name,
            kind,
            credential_id=fields.credential_id,
            notification_id=notification.notification_id,
            notification_event=notification.event,
        )
    credential = cast(_CredentialFields, fields)
    return AgentEvent(name, kind, credential_id=credential.credential_id, notification_id=credential.notification_id)


class AgentEvents:
    """Applies the agent's events to the offers it delivers. Every event is noted with its outcome."""

    def __init__(self, store: AgentOfferStore, endpoints: IssuerEndpoints, clock: Clock, ids: IdGenerator) -> None:
        self._store = store
        self._endpoints = endpoints
        self._clock = clock
        self._ids = ids

    def receive(self, body: Any) -> str:
        """What became of the event: applied, repeated, noted, or ignored (unknown-event, unknown-offer,
        unknown-credential: an agent may serve other systems too)."""
        event = parse_agent_event(body)
        now = self._clock.now()
        offer_id, outcome = self._apply(event, now)
        self._store.log(AgentEventRecord(event.name, offer_id, event.credential_id, outcome, now))
        return outcome

    def _apply(self, event: AgentEvent, now: datetime) -> tuple[str | None, str]:
        if event.kind is None:
            return event.offer_id, "unknown-event"
        if event.offer_id is not None:
            made = self._store.offer(event.offer_id)
            if made is None:
                return event.offer_id, "unknown-offer"
            return made.offer.id, self._apply_to_offer(event, made, now)
        credential = self._store.credential(event.credential_id or "")
        made = self._store.offer(credential.offer_id) if credential is not None else None
        if credential is None or made is None:
            return None, "unknown-credential"
        return made.offer.id, self._apply_to_credential(event, made, credential, now)

    def _apply_to_offer(self, event: AgentEvent, made: AgentOffer, now: datetime) -> str:
        offer = made.offer
        if event.kind is Kind.REDEEMED:
            redeemed = events.token_issued(self._ids, self._clock, offer, self._issuer_id(made))
            return _once(self._store.redeem(offer.id, now, redeemed))
        if event.kind is Kind.RESPONDED:
            self._store.advance(offer.id, OfferState.CREDENTIAL_ISSUED)
            return "applied"
        return "noted"

    def _apply_to_credential(
        self, event: AgentEvent, made: AgentOffer, credential: AgentCredential, now: datetime
    ) -> str:
        agent_id = credential.agent_credential_id or ""
        if event.kind is Kind.UNSIGNED:
            if event.notification_id is not None:
                self._store.note_notification_id(agent_id, event.notification_id)
            return "noted"
        if event.kind is Kind.SIGNED:
            notification_id = event.notification_id or credential.notification_id
            delivered = events.agent_credential_delivered(
                self._ids,
                self._clock,
                made.offer,
                credential.award_id,
                agent_id,
                notification_id,
                self._issuer_id(made),
            )
            return _once(self._store.deliver(agent_id, notification_id, now, delivered))
        delivery = Delivery(
            notification_id=event.notification_id or "",
            offer_id=made.offer.id,
            award_id=credential.award_id,
            credential_ids=(agent_id,),
            delivered_at=credential.delivered_at or now,
        )
        wallet_event = event.notification_event or ""
        notified = events.notification_received(
            self._ids, self._clock, made.offer, delivery, wallet_event, self._issuer_id(made)
        )
        return _once(self._store.notify(agent_id, wallet_event, now, notified))

    def _issuer_id(self, made: AgentOffer) -> str:
        return self._endpoints.issuer_id(made.offer.issuer_slug)


def _once(first: bool) -> str:
    return "applied" if first else "repeated"
