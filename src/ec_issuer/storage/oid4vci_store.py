"""SQLAlchemy Core implementation of the OID4VCI offer store; every method is one short transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Engine,
    Result,
    Row,
    Select,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ec_issuer.events.model import OutboxEvent
from ec_issuer.oid4vci.model import (
    PRE_AUTHORIZED_GRANT,
    AccessGrant,
    AuthorizationRequest,
    Award,
    DeferredTransaction,
    Delivery,
    Offer,
    OfferState,
    TxCodeSpec,
)
from ec_issuer.storage.failures import connected, transaction
from ec_issuer.storage.outbox import record_events
from ec_issuer.storage.session import LazyConnection
from ec_issuer.storage.tables import (
    oid4vci_access_tokens,
    oid4vci_authorizations,
    oid4vci_deliveries,
    oid4vci_nonces,
    oid4vci_offers,
    oid4vci_transactions,
)

_offers = oid4vci_offers
_deliveries = oid4vci_deliveries
_tokens = oid4vci_access_tokens

# Statements on the wallet's path are built once: building them per call cost more than running them.
_OFFER_BY_ID = select(_offers).where(_offers.c.id == bindparam("key"))
_OFFER_BY_REFERENCE = select(_offers).where(_offers.c.reference == bindparam("key"))
_OFFER_BY_CODE = select(_offers).where(_offers.c.code_hash == bindparam("key"))
_OFFER_BY_TOKEN = (
    select(_offers, _tokens.c.expires_at.label("token_expires_at"))
    .join(_tokens, _tokens.c.offer_id == _offers.c.id)
    .where(_tokens.c.token_hash == bindparam("token_hash"))
)
_REDEEM_CODE = (
    update(_offers)
    .where(_offers.c.id == bindparam("offer_id"), _offers.c.code_redeemed_at.is_(None))
    .values(code_redeemed_at=bindparam("now"), state=OfferState.TOKEN_ISSUED.value)
)
_INSERT_TOKEN = insert(_tokens)
_INSERT_OFFER = insert(_offers)
# A nonce used twice at once: the second insert waits for the first to commit, then does nothing and
# returns no row (psycopg reports no rowcount for it).
_USE_NONCE = {
    "sqlite": sqlite_insert(oid4vci_nonces).on_conflict_do_nothing().returning(oid4vci_nonces.c.nonce),
    "postgresql": postgresql_insert(oid4vci_nonces).on_conflict_do_nothing().returning(oid4vci_nonces.c.nonce),
}
_SETTLE_TRANSACTION = (
    update(oid4vci_transactions)
    .where(oid4vci_transactions.c.id == bindparam("transaction_id"), oid4vci_transactions.c.delivered_at.is_(None))
    .values(delivered_at=bindparam("delivered_at"))
)
_INSERT_DELIVERY = insert(_deliveries)
_COUNT_DELIVERED = (
    update(_offers)
    .where(_offers.c.id == bindparam("offer_id"))
    .values(
        credentials_issued=_offers.c.credentials_issued + bindparam("count"),
        # credential_issued, unless the wallet has notified already: a later delivery does not undo that
        state=case(
            (_offers.c.state == OfferState.NOTIFIED.value, OfferState.NOTIFIED.value),
            else_=OfferState.CREDENTIAL_ISSUED.value,
        ),
    )
)


class SqlOfferStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_offer(self, offer: Offer, event: OutboxEvent) -> None:
        with transaction(self._engine) as connection:
            connection.execute(_INSERT_OFFER, _offer_row(offer))
            record_events(connection, [event])

    def offer(self, offer_id: str) -> Offer | None:
        return self._one_offer(_OFFER_BY_ID, offer_id)

    def offer_by_reference(self, reference: str) -> Offer | None:
        return self._one_offer(_OFFER_BY_REFERENCE, reference)

    def offer_by_code(self, code_hash: str) -> Offer | None:
        return self._one_offer(_OFFER_BY_CODE, code_hash)

    def offer_of_token(self, token_hash: str) -> tuple[AccessGrant, Offer] | None:
        with connected(self._engine) as connection:
            row = connection.execute(_OFFER_BY_TOKEN, {"token_hash": token_hash}).first()
        return (AccessGrant(row.id, row.token_expires_at), _offer(row)) if row is not None else None

    def record_tx_failure(self, offer_id: str, failures: int, retry_after: datetime | None) -> None:
        with transaction(self._engine) as connection:
            connection.execute(
                update(_offers).where(_offers.c.id == offer_id).values(tx_failures=failures, tx_retry_after=retry_after)
            )

    def redeem_code(
        self, offer_id: str, now: datetime, token_hash: str, grant: AccessGrant, event: OutboxEvent
    ) -> bool:
        with transaction(self._engine) as connection:
            redeemed = connection.execute(_REDEEM_CODE, {"offer_id": offer_id, "now": now})
            if redeemed.rowcount != 1:
                return False  # a concurrent request redeemed it first
            connection.execute(
                _INSERT_TOKEN, {"token_hash": token_hash, "offer_id": grant.offer_id, "expires_at": grant.expires_at}
            )
            record_events(connection, [event])
        return True

    def purge(self, now: datetime, tokens_before: datetime) -> int:
        with transaction(self._engine) as connection:
            nonces = connection.execute(delete(oid4vci_nonces).where(oid4vci_nonces.c.expires_at <= now))
            tokens = connection.execute(
                delete(oid4vci_access_tokens).where(oid4vci_access_tokens.c.expires_at < tokens_before)
            )
            return nonces.rowcount + tokens.rowcount

    def transaction(self, transaction_id: str) -> DeferredTransaction | None:
        with connected(self._engine) as connection:
            row = connection.execute(
                select(oid4vci_transactions).where(oid4vci_transactions.c.id == transaction_id)
            ).first()
        if row is None:
            return None
        return DeferredTransaction(
            row.id, row.offer_id, row.award_id, tuple(row.holder_dids), row.created_at, row.delivered_at
        )

    def add_authorization_request(self, request: AuthorizationRequest) -> None:
        with transaction(self._engine) as connection:
            connection.execute(
                insert(oid4vci_authorizations).values(
                    request_uri_hash=request.request_uri_hash,
                    offer_id=request.offer_id,
                    client_id=request.client_id,
                    redirect_uri=request.redirect_uri,
                    code_challenge=request.code_challenge,
                    state=request.state,
                    expires_at=request.expires_at,
                )
            )

    def authorization_request(self, request_uri_hash: str) -> AuthorizationRequest | None:
        return self._one_authorization(oid4vci_authorizations.c.request_uri_hash == request_uri_hash)

    def authorization_by_code(self, code_hash: str) -> AuthorizationRequest | None:
        return self._one_authorization(oid4vci_authorizations.c.code_hash == code_hash)

    def authorize(self, request_uri_hash: str, code_hash: str, code_expires_at: datetime, now: datetime) -> bool:
        with transaction(self._engine) as connection:
            done = connection.execute(
                update(oid4vci_authorizations)
                .where(
                    oid4vci_authorizations.c.request_uri_hash == request_uri_hash,
                    oid4vci_authorizations.c.code_hash.is_(None),
                    oid4vci_authorizations.c.expires_at > now,
                )
                .values(code_hash=code_hash, expires_at=code_expires_at)
            )
            return done.rowcount == 1

    def _one_authorization(self, condition: Any) -> AuthorizationRequest | None:
        with connected(self._engine) as connection:
            row = connection.execute(select(oid4vci_authorizations).where(condition)).first()
        if row is None:
            return None
        return AuthorizationRequest(
            row.request_uri_hash,
            row.offer_id,
            row.client_id,
            row.redirect_uri,
            row.code_challenge,
            row.state,
            row.expires_at,
            row.code_hash,
        )

    def release(self, offer_id: str, now: datetime) -> None:
        with transaction(self._engine) as connection:
            connection.execute(
                update(_offers).where(_offers.c.id == offer_id, _offers.c.released_at.is_(None)).values(released_at=now)
            )

    def delivery(self, notification_id: str) -> Delivery | None:
        with connected(self._engine) as connection:
            row = connection.execute(
                select(_deliveries).where(_deliveries.c.notification_id == notification_id)
            ).first()
        if row is None:
            return None
        return Delivery(
            row.notification_id, row.offer_id, row.award_id, tuple(row.credential_ids), row.delivered_at, row.event
        )

    def deliveries_in(self, offer_id: str, award_ids: set[str]) -> int:
        with connected(self._engine) as connection:
            return connection.execute(
                select(func.count()).where(_deliveries.c.offer_id == offer_id, _deliveries.c.award_id.in_(award_ids))
            ).scalar_one()

    def record_notification(self, notification_id: str, event: str, now: datetime, outbox_event: OutboxEvent) -> bool:
        with transaction(self._engine) as connection:
            first = connection.execute(
                update(_deliveries)
                .where(_deliveries.c.notification_id == notification_id, _deliveries.c.notified_at.is_(None))
                .values(event=event, notified_at=now)
                .returning(_deliveries.c.offer_id)
            ).first()
            if first is None:
                return False
            connection.execute(
                update(_offers)
                .where(_offers.c.id == first.offer_id)
                .values(state=OfferState.NOTIFIED.value, notification_event=event)
            )
            record_events(connection, [outbox_event])
        return True

    def _one_offer(self, statement: Select[Any], key: str) -> Offer | None:
        with connected(self._engine) as connection:
            row = connection.execute(statement, {"key": key}).first()
        return _offer(row) if row is not None else None


class SqlWalletRequests:
    """The credential request's writes, on the connection of the unit of work that stores its credentials."""

    def __init__(self, connection: LazyConnection) -> None:
        self._db = connection

    def use_nonce(self, nonce: str, expires_at: datetime) -> bool:
        statement = _USE_NONCE[self._db.dialect_name]
        return self._db.execute(statement, {"nonce": nonce, "expires_at": expires_at}).first() is not None

    def add_transaction(self, transaction: DeferredTransaction) -> None:
        self._db.execute(
            insert(oid4vci_transactions).values(
                id=transaction.id,
                offer_id=transaction.offer_id,
                award_id=transaction.award_id,
                holder_dids=list(transaction.holder_dids),
                created_at=transaction.created_at,
            )
        )

    def record_delivery(self, delivery: Delivery, transaction_id: str | None = None) -> bool:
        if transaction_id is not None:
            settled = self._db.execute(
                _SETTLE_TRANSACTION, {"transaction_id": transaction_id, "delivered_at": delivery.delivered_at}
            )
            if _changed(settled) != 1:
                return False  # another request picked it up first
        self._db.execute(
            _INSERT_DELIVERY,
            {
                "notification_id": delivery.notification_id,
                "offer_id": delivery.offer_id,
                "award_id": delivery.award_id,
                "credential_ids": list(delivery.credential_ids),
                "delivered_at": delivery.delivered_at,
            },
        )
        self._db.execute(_COUNT_DELIVERED, {"offer_id": delivery.offer_id, "count": len(delivery.credential_ids)})
        return True


def _changed(result: Result[Any]) -> int:
    return cast(CursorResult[Any], result).rowcount


def _offer_row(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "issuer_slug": offer.issuer_slug,
        "client_id": offer.client_id,
        "reference": offer.reference,
        "code_hash": offer.code_hash,
        "tx_code": (
            {
                "input_mode": offer.tx_code.input_mode,
                "length": offer.tx_code.length,
                "description": offer.tx_code.description,
            }
            if offer.tx_code
            else None
        ),
        "tx_code_hash": offer.tx_code_hash,
        "awards": [
            {
                "id": award.id,
                "configuration_id": award.configuration_id,
                "request": award.request,
                "deferred": award.deferred,
            }
            for award in offer.awards
        ],
        "state": offer.state.value,
        "created_at": offer.created_at,
        "expires_at": offer.expires_at,
        "code_redeemed_at": offer.code_redeemed_at,
        "tx_failures": offer.tx_failures,
        "tx_retry_after": offer.tx_retry_after,
        "credentials_issued": offer.credentials_issued,
        "notification_event": offer.notification_event,
        "released_at": offer.released_at,
        "grant_types": list(offer.grant_types),
    }


def _offer(row: Row[Any]) -> Offer:
    tx_code = row.tx_code
    return Offer(
        id=row.id,
        issuer_slug=row.issuer_slug,
        client_id=row.client_id,
        reference=row.reference,
        awards=tuple(Award(a["id"], a["configuration_id"], a["request"], a.get("deferred", False)) for a in row.awards),
        code_hash=row.code_hash,
        tx_code=TxCodeSpec(tx_code["input_mode"], tx_code["length"], tx_code["description"]) if tx_code else None,
        tx_code_hash=row.tx_code_hash,
        state=OfferState(row.state),
        created_at=row.created_at,
        expires_at=row.expires_at,
        code_redeemed_at=row.code_redeemed_at,
        tx_failures=row.tx_failures,
        tx_retry_after=row.tx_retry_after,
        credentials_issued=row.credentials_issued,
        notification_event=row.notification_event,
        released_at=row.released_at,
        grant_types=tuple(row.grant_types) if row.grant_types else (PRE_AUTHORIZED_GRANT,),
    )
