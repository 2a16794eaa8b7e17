"""The delivery port: who hands an offer's awards to the learner's wallet.

The admin API makes and reads offers through this port alone. The built-in issuer is the default adapter;
with SSI_AGENT_URL set, an external OID4VCI agent is (oid4vci/agent.py). Both answer with an `OfferView`, so
the API reports an offer the same way whoever delivers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ec_issuer.access.model import ApiClient
from ec_issuer.oid4vci.commands import CreateOffer
from ec_issuer.oid4vci.model import Offer
from ec_issuer.oid4vci.service import CreatedOffer, Oid4vciIssuer

BUILT_IN = "built-in"


@dataclass(frozen=True, slots=True)
class WalletEndpoints:
    """Where the wallet goes with an offer, and who answers there."""

    delivered_by: str  # "built-in" or "ssi-agent"
    nonce_endpoint: str
    credential_endpoint: str


@dataclass(frozen=True, slots=True)
class OfferView:
    offer: Offer
    link: str  # what the wallet opens: the QR code's content
    link_by_value: str | None
    offer_uri: str | None  # credential_offer_uri, when the link is by reference
    document: dict[str, Any] | None  # the credential offer object, when we know it
    qr_base: str  # our QR endpoints are this + /qr.png and /qr.svg
    credential_issuer: str | None
    wallet: WalletEndpoints
    tx_code: str | None = None  # only when the offer is made: the code is never shown again


class OfferDelivery(Protocol):
    def create_offer(self, client: ApiClient, command: CreateOffer) -> OfferView: ...

    def offer_for(self, client: ApiClient, offer_id: str) -> OfferView:
        """The offer, if the client may see it; NotFound otherwise."""
        ...

    def release(self, client: ApiClient, offer_id: str) -> OfferView: ...

    def qr_link(self, slug: str, reference: str) -> str:
        """The link the QR code of the offer with this reference shows; NotFound once it has expired."""
        ...


class BuiltInDelivery:
    def __init__(self, issuer: Oid4vciIssuer) -> None:
        self._issuer = issuer

    def create_offer(self, client: ApiClient, command: CreateOffer) -> OfferView:
        return self._view(self._issuer.create_offer(client, command))

    def offer_for(self, client: ApiClient, offer_id: str) -> OfferView:
        return self._view(self._issuer.created(self._issuer.offer_for(client, offer_id)))

    def release(self, client: ApiClient, offer_id: str) -> OfferView:
        return self._view(self._issuer.created(self._issuer.release(client, offer_id)))

    def qr_link(self, slug: str, reference: str) -> str:
        self._issuer.offer_document(slug, reference)  # NotFound for an unknown or expired offer
        return self._issuer.link_by_reference(slug, reference)

    def _view(self, created: CreatedOffer) -> OfferView:
        endpoints = self._issuer.endpoints
        slug = created.offer.issuer_slug
        return OfferView(
            offer=created.offer,
            link=created.link_by_reference,
            link_by_value=created.link_by_value,
            offer_uri=created.offer_uri,
            document=created.document,
            qr_base=created.offer_uri,
            credential_issuer=endpoints.issuer_id(slug),
            wallet=WalletEndpoints(BUILT_IN, endpoints.endpoint(slug, "nonce"), endpoints.endpoint(slug, "credential")),
            tx_code=created.tx_code,
        )
