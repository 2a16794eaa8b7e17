"""Offers and what a wallet redeems them for.

An offer holds one or more awards: the credential data (an Open Badges `IssueCredential` request without
its recipient) to be signed when the wallet asks, bound then to the holder's key. The wallet redeems the
offer's pre-authorized code once for a short-lived access token, and spends the token on credential requests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
AUTHORIZATION_CODE_GRANT = "authorization_code"
OFFER_SCHEME = "openid-credential-offer://"


class OfferState(StrEnum):
    CREATED = "created"
    TOKEN_ISSUED = "token_issued"  # noqa: S105 - a state name, not a secret
    CREDENTIAL_ISSUED = "credential_issued"
    NOTIFIED = "notified"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class TxCodeSpec:
    """What the wallet tells its user about the transaction code it must type (OID4VCI 1.0 §4.1.1)."""

    input_mode: Literal["numeric", "text"]
    length: int
    description: str | None

    def as_offer(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"input_mode": self.input_mode, "length": self.length}
        if self.description:
            shown["description"] = self.description
        return shown


@dataclass(frozen=True, slots=True)
class Award:
    id: str
    configuration_id: str
    request: dict[str, Any]  # IssueCredential fields, less `recipient` (the holder's DID) and `format`
    # A deferred award is signed only once the operator releases the offer: until then the wallet gets a
    # transaction_id (OID4VCI §9) and asks again at the deferred credential endpoint.
    deferred: bool = False


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    issuer_slug: str
    client_id: str  # the API client that made the offer; credentials are issued on its authority
    reference: str  # the unguessable last segment of credential_offer_uri
    awards: tuple[Award, ...]
    code_hash: str
    tx_code: TxCodeSpec | None
    tx_code_hash: str | None
    state: OfferState
    created_at: datetime
    expires_at: datetime
    code_redeemed_at: datetime | None = None
    tx_failures: int = 0
    tx_retry_after: datetime | None = None
    credentials_issued: int = 0
    notification_event: str | None = None
    released_at: datetime | None = None  # when the operator released its deferred awards
    # The grants the offer carries: the pre-authorized code, the authorization code flow (with an
    # issuer_state the wallet sends along), or both; a wallet redeems the offer once, either way.
    grant_types: tuple[str, ...] = (PRE_AUTHORIZED_GRANT,)

    @property
    def configuration_ids(self) -> list[str]:
        return list(dict.fromkeys(award.configuration_id for award in self.awards))

    def state_at(self, now: datetime) -> OfferState:
        """The state as reported: an offer whose code was never redeemed expires with it."""
        if self.state is OfferState.CREATED and now >= self.expires_at:
            return OfferState.EXPIRED
        return self.state

    def with_state(self, state: OfferState) -> Offer:
        return replace(self, state=state)


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What an access token allows: credential requests for one offer, until it expires."""

    offer_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One credential response: what the notification_id it carried refers to."""

    notification_id: str
    offer_id: str
    award_id: str
    credential_ids: tuple[str, ...]
    delivered_at: datetime
    event: str | None = None


@dataclass(frozen=True, slots=True)
class DeferredTransaction:
    """A credential request for a deferred award: the holders it proved, waiting for the award's release."""

    id: str
    offer_id: str
    award_id: str
    holder_dids: tuple[str, ...]
    created_at: datetime
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A pushed authorization request (RFC 9126) for an offer, and the authorization code it led to."""

    request_uri_hash: str
    offer_id: str
    client_id: str
    redirect_uri: str
    code_challenge: str  # PKCE S256 (RFC 7636)
    state: str | None
    expires_at: datetime  # of the request_uri, then of the code
    code_hash: str | None = None
