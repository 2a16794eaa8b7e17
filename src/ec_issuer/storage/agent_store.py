"""SQLAlchemy Core implementation of the store of offers handed to an external agent; each method is one
short transaction, and the updates are conditional so that concurrent or repeated agent events count once."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, case, insert, select, update

from ec_issuer.events.model import OutboxEvent
from ec_issuer.oid4vci.agent_model import AgentCredential, AgentEventRecord, AgentOffer
from ec_issuer.oid4vci.model import Award, Offer, OfferState
from ec_issuer.storage.failures import connected, transaction
from ec_issuer.storage.outbox import record_events
from ec_issuer.storage.tables import (
    oid4vci_agent_credentials,
    oid4vci_agent_events,
    oid4vci_agent_offers,
)

_offers = oid4vci_agent_offers
_credentials = oid4vci_agent_credentials
_ORDER = [OfferState.CREATED, OfferState.TOKEN_ISSUED, OfferState.CREDENTIAL_ISSUED, OfferState.NOTIFIED]


class SqlAgentOfferStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, offer: AgentOffer, event: OutboxEvent) -> None:
        with transaction(self._engine) as connection:
            connection.execute(insert(_offers).values(_offer_row(offer)))
            connection.execute(
                insert(_credentials),
                [
                    {
                        "offer_id": credential.offer_id,
                        "award_id": credential.award_id,
                        "agent_credential_id": credential.agent_credential_id,
                    }
                    for credential in offer.credentials
                ],
            )
            record_events(connection, [event])

    def offer(self, offer_id: str) -> AgentOffer | None:
        return self._one(_offers.c.id == offer_id)

    def offer_by_reference(self, reference: str) -> AgentOffer | None:
        return self._one(_offers.c.reference == reference)

    def credential(self, agent_credential_id: str) -> AgentCredential | None:
        with connected(self._engine) as connection:
            row = connection.execute(
                select(_credentials).where(_credentials.c.agent_credential_id == agent_credential_id)
            ).first()
        return _credential(row) if row is not None else None

    def redeem(self, offer_id: str, now: datetime, event: OutboxEvent) -> bool:
        with transaction(self._engine) as connection:
            first = connection.execute(
                update(_offers)
                .where(_offers.c.id == offer_id, _offers.c.redeemed_at.is_(None))
                .values(redeemed_at=now, state=_at_least(OfferState.TOKEN_ISSUED))
            )
            if first.rowcount != 1:
                return False
            record_events(connection, [event])
        return True

    def advance(self, offer_id: str, state: OfferState) -> None:
        with transaction(self._engine) as connection:
            connection.execute(update(_offers).where(_offers.c.id == offer_id).values(state=_at_least(state)))

    def note_notification_id(self, agent_credential_id: str, notification_id: str) -> None:
        with transaction(self._engine) as connection:
            connection.execute(
                update(_credentials)
                .where(_credentials.c.agent_credential_id == agent_credential_id)
                .values(notification_id=notification_id)
            )

    def deliver(self, agent_credential_id: str, notification_id: str | None, now: datetime, event: OutboxEvent) -> bool:
        with transaction(self._engine) as connection:
            first = connection.execute(
                update(_credentials)
                .where(_credentials.c.agent_credential_id == agent_credential_id, _credentials.c.delivered_at.is_(None))
                .values(delivered_at=now, **({"notification_id": notification_id} if notification_id else {}))
                .returning(_credentials.c.offer_id)
            ).first()
            if first is None:
                return False
            connection.execute(
                update(_offers)
                .where(_offers.c.id == first.offer_id)
                .values(
                    credentials_issued=_offers.c.credentials_issued + 1,
                    state=_at_least(OfferState.CREDENTIAL_ISSUED),
                )
            )
            record_events(connection, [event])
        return True

    def notify(self, agent_credential_id: str, event_name: str, now: datetime, outbox_event: OutboxEvent) -> bool:
        with transaction(self._engine) as connection:
            first = connection.execute(
                update(_credentials)
                .where(_credentials.c.agent_credential_id == agent_credential_id, _credentials.c.notified_at.is_(None))
                .values(notified_at=now, event=event_name)
                .returning(_credentials.c.offer_id)
            ).first()
            if first is None:
                return False
            connection.execute(
                update(_offers)
                .where(_offers.c.id == first.offer_id)
                .values(state=OfferState.NOTIFIED.value, notification_event=event_name)
            )
            record_events(connection, [outbox_event])
        return True

    def log(self, record: AgentEventRecord) -> None:
        with transaction(self._engine) as connection:
            connection.execute(
                insert(oid4vci_agent_events).values(
                    name=record.name,
                    offer_id=record.offer_id,
                    agent_credential_id=record.agent_credential_id,
                    outcome=record.outcome,
                    received_at=record.received_at,
                )
            )

    def _one(self, condition: Any) -> AgentOffer | None:
        with connected(self._engine) as connection:
            row = connection.execute(select(_offers).where(condition)).first()
            if row is None:
                return None
            rows = connection.execute(select(_credentials).where(_credentials.c.offer_id == row.id)).all()
        made = _offer(row, ())
        position = {award.id: index for index, award in enumerate(made.offer.awards)}
        credentials = sorted((_credential(found) for found in rows), key=lambda c: position.get(c.award_id, 0))
        return replace(made, credentials=tuple(credentials))


def _at_least(state: OfferState) -> Any:
    """The offer's state, moved forward to `state` if it is behind: agent events arrive in any order."""
    behind = [earlier.value for earlier in _ORDER[: _ORDER.index(state)]]
    return case((_offers.c.state.in_(behind), state.value), else_=_offers.c.state)


def _offer_row(made: AgentOffer) -> dict[str, Any]:
    offer = made.offer
    return {
        "id": offer.id,
        "issuer_slug": offer.issuer_slug,
        "client_id": offer.client_id,
        "reference": offer.reference,
        "awards": [
            {"id": award.id, "configuration_id": award.configuration_id, "request": award.request}
            for award in offer.awards
        ],
        "template_ids": made.template_ids,
        "link": made.link,
        "state": offer.state.value,
        "created_at": offer.created_at,
        "expires_at": offer.expires_at,
        "redeemed_at": offer.code_redeemed_at,
        "credentials_issued": offer.credentials_issued,
        "notification_event": offer.notification_event,
    }


def _offer(row: Row[Any], credentials: tuple[AgentCredential, ...]) -> AgentOffer:
    offer = Offer(
        id=row.id,
        issuer_slug=row.issuer_slug,
        client_id=row.client_id,
        reference=row.reference,
        awards=tuple(Award(a["id"], a["configuration_id"], a["request"]) for a in row.awards),
        code_hash="",
        tx_code=None,
        tx_code_hash=None,
        state=OfferState(row.state),
        created_at=row.created_at,
        expires_at=row.expires_at,
        code_redeemed_at=row.redeemed_at,
        credentials_issued=row.credentials_issued,
        notification_event=row.notification_event,
    )
    return AgentOffer(offer, row.link, dict(row.template_ids), credentials)


def _credential(row: Row[Any]) -> AgentCredential:
    return AgentCredential(
        row.offer_id, row.award_id, row.agent_credential_id, row.notification_id, row.delivered_at, row.notified_at
    )
