"""What the OID4VCI capability needs stored.

`OfferStore` methods are each one transaction of their own; events passed in are written to the outbox in
that same transaction. `WalletRequestRepository` works inside a unit of work instead: a used nonce, a
deferred transaction and a delivery record stand or fall with the credentials signed in it. `TemplateStore`
is like `OfferStore`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ec_issuer.events.model import OutboxEvent
from ec_issuer.oid4vci.model import AccessGrant, AuthorizationRequest, DeferredTransaction, Delivery, Offer
from ec_issuer.oid4vci.templates import CredentialTemplate


class OfferStore(Protocol):
    def add_offer(self, offer: Offer, event: OutboxEvent) -> None: ...

    def offer(self, offer_id: str) -> Offer | None: ...

    def offer_by_reference(self, reference: str) -> Offer | None: ...

    def offer_by_code(self, code_hash: str) -> Offer | None: ...

    def record_tx_failure(self, offer_id: str, failures: int, retry_after: datetime | None) -> None: ...

    def redeem_code(
        self, offer_id: str, now: datetime, token_hash: str, grant: AccessGrant, event: OutboxEvent
    ) -> bool:
        """Mark the code used and store the token, only if the code was not redeemed before (False then)."""
        ...

    def offer_of_token(self, token_hash: str) -> tuple[AccessGrant, Offer] | None:
        """The access token's grant and the offer it is for, in one read."""
        ...

    def purge(self, now: datetime, tokens_before: datetime) -> int:
        """Delete used nonces that have expired and access tokens that expired before `tokens_before`."""
        ...

    def transaction(self, transaction_id: str) -> DeferredTransaction | None: ...

    def release(self, offer_id: str, now: datetime) -> None: ...

    def add_authorization_request(self, request: AuthorizationRequest) -> None: ...

    def authorization_request(self, request_uri_hash: str) -> AuthorizationRequest | None: ...

    def authorization_by_code(self, code_hash: str) -> AuthorizationRequest | None: ...

    def authorize(self, request_uri_hash: str, code_hash: str, code_expires_at: datetime, now: datetime) -> bool:
        """Attach a code to a pushed request that is live and has none yet (False otherwise)."""
        ...

    def delivery(self, notification_id: str) -> Delivery | None: ...

    def deliveries_in(self, offer_id: str, award_ids: set[str]) -> int:
        """How many credential responses of the offer handed out one of these awards."""
        ...

    def record_notification(self, notification_id: str, event: str, now: datetime, outbox_event: OutboxEvent) -> bool:
        """Note the wallet's event once; False when this notification was already recorded."""
        ...


class WalletRequestRepository(Protocol):
    """The writes of a credential request, in the unit of work that stores its credentials."""

    def use_nonce(self, nonce: str, expires_at: datetime) -> bool:
        """Note a nonce as used until it expires; False when it was used before (also concurrently)."""
        ...

    def add_transaction(self, transaction: DeferredTransaction) -> None: ...

    def record_delivery(self, delivery: Delivery, transaction_id: str | None = None) -> bool:
        """Store a credential response; the offer's state becomes credential_issued unless already notified.
        With a transaction_id, also mark that deferred transaction delivered, unless it already was (False,
        and nothing is stored)."""
        ...


class TemplateStore(Protocol):
    """Credential templates; each method is one transaction, with the event passed in."""

    def template(self, issuer_slug: str, template_id: str) -> CredentialTemplate | None:
        """The template under that id, retired or not."""
        ...

    def active(self, issuer_slug: str) -> list[CredentialTemplate]:
        """The issuer's templates that are not retired, by id."""
        ...

    def listed(self, issuer_slug: str, now: datetime) -> list[CredentialTemplate]:
        """The templates the metadata lists at `now`: read often, so possibly a few seconds old."""
        ...

    def put(self, template: CredentialTemplate, event: OutboxEvent) -> None:
        """Store the template, replacing the one under its id."""
        ...

    def retire(self, issuer_slug: str, template_id: str, now: datetime, event: OutboxEvent) -> bool:
        """Retire the template unless it is retired already (False then, and the event is not recorded)."""
        ...

    def keep_listed(self, issuer_slug: str, template_ids: set[str], until: datetime) -> None:
        """Keep these templates in the metadata at least until then, should they be retired."""
        ...
