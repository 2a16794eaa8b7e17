"""Offers handed to an external OID4VCI agent: what we keep of them, and the ports to the agent and the store.

The agent (the UniCore ssi-agent) signs the credentials and speaks OID4VCI to the wallet; we keep the offer
with its awards and state, so that the admin API reports it as it reports the built-in issuer's offers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, urlsplit

from ec_issuer.core.encoding import loads
from ec_issuer.events.model import OutboxEvent
from ec_issuer.oid4vci.model import Offer, OfferState

MAX_LINK_LENGTH = 8192


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """The credential template we ask the agent to keep for one of our credential configurations."""

    id: str
    title: str
    credential_format: str  # the OID4VCI format identifier, e.g. jwt_vc_json
    types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AgentTemplate:
    id: str
    title: str | None


@dataclass(frozen=True, slots=True)
class AgentCredential:
    """One award as handed to the agent. The agent's events name it by the agent's credential id."""

    offer_id: str
    award_id: str
    agent_credential_id: str | None  # None when the agent did not say (no Location header)
    notification_id: str | None = None
    delivered_at: datetime | None = None
    notified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AgentOffer:
    # The offer as the built-in issuer keeps one, without its secrets: the agent holds the codes.
    offer: Offer
    link: str  # the agent's openid-credential-offer:// link
    template_ids: dict[str, str]  # our configuration id → the agent's template id
    credentials: tuple[AgentCredential, ...]


@dataclass(frozen=True, slots=True)
class AgentEventRecord:
    """A received agent event, as noted: its name and the ids it carried, never its payload (which holds
    pre-authorized codes, access tokens and signed credentials)."""

    name: str
    offer_id: str | None
    agent_credential_id: str | None
    outcome: str
    received_at: datetime


class AgentClient(Protocol):
    """The agent's admin API. Each call raises Unavailable when the agent cannot be reached, UpstreamTimeout
    when it does not answer in time and UpstreamFailed when it answers with an error or nonsense."""

    def templates(self) -> list[AgentTemplate]: ...

    def create_template(self, spec: TemplateSpec) -> str:
        """The id of the template made (or found made meanwhile) for this spec."""
        ...

    def add_credential(self, offer_id: str, credential: dict[str, Any], template_id: str) -> str | None:
        """Hand the agent one award's credential data; the agent's id for it, when it tells."""
        ...

    def create_offer(self, offer_id: str, template_ids: list[str]) -> str:
        """The offer link for the credentials added under this offer id."""
        ...


class AgentOfferStore(Protocol):
    """Each method is one transaction; events passed in are written to the outbox in it."""

    def add(self, offer: AgentOffer, event: OutboxEvent) -> None: ...

    def offer(self, offer_id: str) -> AgentOffer | None: ...

    def offer_by_reference(self, reference: str) -> AgentOffer | None: ...

    def credential(self, agent_credential_id: str) -> AgentCredential | None: ...

    def redeem(self, offer_id: str, now: datetime, event: OutboxEvent) -> bool:
        """Note the token the agent issued, once (False when noted before); the state becomes at least
        token_issued."""
        ...

    def advance(self, offer_id: str, state: OfferState) -> None:
        """Move the offer's state forward to `state`; never back."""
        ...

    def note_notification_id(self, agent_credential_id: str, notification_id: str) -> None: ...

    def deliver(self, agent_credential_id: str, notification_id: str | None, now: datetime, event: OutboxEvent) -> bool:
        """Note the credential signed and handed out, once (False when noted before)."""
        ...

    def notify(self, agent_credential_id: str, event_name: str, now: datetime, outbox_event: OutboxEvent) -> bool:
        """Note the wallet's notification about the credential, once (False when noted before)."""
        ...

    def log(self, record: AgentEventRecord) -> None: ...


def read_offer_link(link: str) -> tuple[str | None, dict[str, Any] | None]:
    """The credential_offer_uri of an offer link, or its offer object when by value. ValueError when the
    text is not an offer link."""
    if len(link) > MAX_LINK_LENGTH or any(character.isspace() for character in link):
        raise ValueError("not a single URL of reasonable length")
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    if not parts.scheme or parts.scheme in ("http", "https"):
        raise ValueError("not a wallet link (openid-credential-offer://)")
    by_reference = query.get("credential_offer_uri")
    by_value = query.get("credential_offer")
    if by_reference is not None and by_value is None and len(by_reference) == 1:
        return by_reference[0], None
    if by_value is not None and by_reference is None and len(by_value) == 1:
        try:
            document: object = loads(by_value[0])
        except ValueError:
            raise ValueError("credential_offer is not JSON") from None
        if isinstance(document, dict):
            return None, cast(dict[str, Any], document)
        raise ValueError("credential_offer is not a JSON object")
    raise ValueError("the link carries neither one credential_offer_uri nor one credential_offer")
