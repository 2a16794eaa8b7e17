"""The delivery adapter for an external OID4VCI agent: awards go to the agent, which signs and delivers them.

An offer is made in the agent first and stored here only once the agent has returned its link, so a failing
agent leaves nothing half-made on our side. The agent may keep credentials added under an offer id whose offer
it never made: no link to them was handed out, and the id is never reused.
"""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta

from ec_issuer.access.model import ApiClient
from ec_issuer.core.errors import Conflict, FieldError, InvalidInput, NotFound
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.core.unit_of_work import UnitOfWorkFactory
from ec_issuer.events import catalogue as events
from ec_issuer.oid4vci.agent_model import (
    AgentClient,
    AgentCredential,
    AgentOffer,
    AgentOfferStore,
    TemplateSpec,
    read_offer_link,
)
from ec_issuer.oid4vci.commands import CreateOffer, checked_awards
from ec_issuer.oid4vci.configurations import CONFIGURATIONS, OB3_TYPES
from ec_issuer.oid4vci.delivery import OfferDelivery, OfferView, WalletEndpoints
from ec_issuer.oid4vci.metadata import IssuerEndpoints
from ec_issuer.oid4vci.model import Award, Offer, OfferState
from ec_issuer.oid4vci.permissions import check_achievements, offer_issuer

SSI_AGENT = "ssi-agent"
TEMPLATE_PREFIX = "ec-issuer."  # our templates' ids and titles in the agent: one per credential configuration


class AgentDelivery:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        store: AgentOfferStore,
        agent: AgentClient,
        earlier: OfferDelivery,
        endpoints: IssuerEndpoints,
        wallet: WalletEndpoints,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._store = store
        self._agent = agent
        # Offers made by the built-in issuer before the deployment switched to the agent stay readable.
        self._earlier = earlier
        self._endpoints = endpoints
        self._wallet = wallet
        self._clock = clock
        self._ids = ids
        self._templates: dict[str, str] = {}  # configuration id → the agent's template id
        self._template_lock = threading.Lock()

    def create_offer(self, client: ApiClient, command: CreateOffer) -> OfferView:
        _refuse_what_the_agent_decides(command)
        issuer = offer_issuer(self._uow, client, command)
        awards = checked_awards(command, {})
        check_achievements(client, awards)
        offer_id = self._ids.new_id()
        templates = {award.configuration_id: self._template_for(award.configuration_id) for award in awards}
        credentials: list[AgentCredential] = []
        for position, award in enumerate(awards):
            agent_id = self._agent.add_credential(offer_id, award.credential, templates[award.configuration_id])
            credentials.append(AgentCredential(offer_id, f"{offer_id}/{position}", agent_id))
        link = self._agent.create_offer(offer_id, list(dict.fromkeys(templates.values())))
        now = self._clock.now()
        offer = Offer(
            id=offer_id,
            issuer_slug=issuer.slug,
            client_id=client.id,
            reference=secrets.token_urlsafe(24),  # names the QR code endpoints only
            awards=tuple(
                Award(credential.award_id, award.configuration_id, award.credential)
                for credential, award in zip(credentials, awards, strict=True)
            ),
            code_hash="",  # the agent holds the pre-authorized code
            tx_code=None,
            tx_code_hash=None,
            state=OfferState.CREATED,
            created_at=now,
            expires_at=now + timedelta(seconds=command.expires_in),
        )
        made = AgentOffer(offer, link, templates, tuple(credentials))
        self._store.add(made, events.offer_created(self._ids, self._clock, offer, issuer.did))
        return self._view(made)

    def offer_for(self, client: ApiClient, offer_id: str) -> OfferView:
        made = self._store.offer(offer_id)
        if made is None:
            return self._earlier.offer_for(client, offer_id)
        if not client.may_use_issuer(made.offer.issuer_slug):
            raise NotFound("no such offer")
        return self._view(made)

    def release(self, client: ApiClient, offer_id: str) -> OfferView:
        if self._store.offer(offer_id) is None:
            return self._earlier.release(client, offer_id)
        self.offer_for(client, offer_id)  # NotFound for a client that may not see it
        raise Conflict("the external agent delivers this offer: it has no deferred awards to release")

    def qr_link(self, slug: str, reference: str) -> str:
        made = self._store.offer_by_reference(reference)
        if made is None:
            return self._earlier.qr_link(slug, reference)
        offer = made.offer
        if offer.issuer_slug != slug or offer.state_at(self._clock.now()) is OfferState.EXPIRED:
            raise NotFound("no such offer, or it has expired")
        return made.link

    def _template_for(self, configuration_id: str) -> str:
        """The agent's template for a configuration: found in its list or made, once per process. Made with
        a fixed id and title, so that other workers and later processes find it rather than make another."""
        with self._template_lock:
            known = self._templates.get(configuration_id)
            if known is not None:
                return known
            configuration = CONFIGURATIONS[configuration_id]
            spec = TemplateSpec(
                TEMPLATE_PREFIX + configuration.id,
                TEMPLATE_PREFIX + configuration.id,
                configuration.format,
                tuple(OB3_TYPES),
            )
            found = next((t.id for t in self._agent.templates() if spec.id in (t.id, t.title)), None)
            template_id = found or self._agent.create_template(spec)
            self._templates[configuration_id] = template_id
            return template_id

    def _view(self, made: AgentOffer) -> OfferView:
        offer = made.offer
        offer_uri, document = read_offer_link(made.link)  # checked when the agent returned it
        issuer: object = document.get("credential_issuer") if document is not None else None
        return OfferView(
            offer=offer,
            link=made.link,
            link_by_value=made.link if document is not None else None,
            offer_uri=offer_uri,
            document=document,
            qr_base=self._endpoints.offer_uri(offer.issuer_slug, offer.reference),
            credential_issuer=issuer if isinstance(issuer, str) else None,
            wallet=self._wallet,
        )


def _refuse_what_the_agent_decides(command: CreateOffer) -> None:
    """The agent makes the offer's grant and codes itself, and signs when the wallet asks: options that the
    built-in issuer honours and the agent would silently ignore are refused instead."""
    errors: list[FieldError] = []
    if command.tx_code is not None:
        errors.append(FieldError("/tx_code", "the external agent makes its own offers: it cannot be asked for a code"))
    if set(command.grants) != {"pre-authorized_code"}:
        errors.append(FieldError("/grants", "the external agent's offers carry its pre-authorized code grant only"))
    errors += [
        FieldError(f"/awards/{position}/deferred", "the external agent signs when the wallet asks: nothing to defer")
        for position, award in enumerate(command.awards)
        if award.deferred
    ]
    # The wallet sees the agent's metadata, not ours: a template's display would not reach it.
    errors += [
        FieldError(f"/awards/{position}/template", "the external agent shows credentials its own way: no templates")
        for position, award in enumerate(command.awards)
        if award.template is not None
    ]
    if errors:
        raise InvalidInput("the offer asks for what the external agent decides", errors)
