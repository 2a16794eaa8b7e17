"""Every event type the issuer publishes, and what each carries. docs/events.md describes the same set
(and docs/asyncapi.yaml in AsyncAPI 3.0); a test keeps the three in step.

Data carries identifiers, not people: the recipient appears only as the opaque, keyed reference the
service stores (``recipientRef``), never as an e-mail address or name; free-text reasons, which an
operator may fill with anything, are left out. No event carries key material beyond a key's id.
"""

from __future__ import annotations

from ec_issuer.core.encoding import format_datetime
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.credentials.model import IssuedCredential
from ec_issuer.events.model import TYPE_PREFIX, OutboxEvent, new_event
from ec_issuer.keys.model import SigningKey
from ec_issuer.oid4vci.model import Delivery, Offer
from ec_issuer.oid4vci.templates import CredentialTemplate
from ec_issuer.status.model import LifecycleEvent, LifecycleEventType

CREDENTIAL_ISSUED = TYPE_PREFIX + "credential.issued"
CREDENTIAL_SUSPENDED = TYPE_PREFIX + "credential.suspended"
CREDENTIAL_REINSTATED = TYPE_PREFIX + "credential.reinstated"
CREDENTIAL_REVOKED = TYPE_PREFIX + "credential.revoked"
CREDENTIAL_EXPIRED = TYPE_PREFIX + "credential.expired"
KEY_ACTIVATED = TYPE_PREFIX + "key.activated"
KEY_ROTATED = TYPE_PREFIX + "key.rotated"
KEY_REVOKED = TYPE_PREFIX + "key.revoked"
OFFER_CREATED = TYPE_PREFIX + "offer.created"
OFFER_REDEEMED = TYPE_PREFIX + "offer.redeemed"
OFFER_DELIVERED = TYPE_PREFIX + "offer.delivered"
OFFER_NOTIFIED = TYPE_PREFIX + "offer.notified"
TEMPLATE_PUBLISHED = TYPE_PREFIX + "template.published"
TEMPLATE_RETIRED = TYPE_PREFIX + "template.retired"

EVENT_TYPES = (
    CREDENTIAL_ISSUED,
    CREDENTIAL_SUSPENDED,
    CREDENTIAL_REINSTATED,
    CREDENTIAL_REVOKED,
    CREDENTIAL_EXPIRED,
    KEY_ACTIVATED,
    KEY_ROTATED,
    KEY_REVOKED,
    OFFER_CREATED,
    OFFER_REDEEMED,
    OFFER_DELIVERED,
    OFFER_NOTIFIED,
    TEMPLATE_PUBLISHED,
    TEMPLATE_RETIRED,
)

_LIFECYCLE_TYPES = {
    LifecycleEventType.SUSPENDED: CREDENTIAL_SUSPENDED,
    LifecycleEventType.REINSTATED: CREDENTIAL_REINSTATED,
    LifecycleEventType.REVOKED: CREDENTIAL_REVOKED,
    LifecycleEventType.EXPIRED: CREDENTIAL_EXPIRED,
}


def credential_issued(ids: IdGenerator, clock: Clock, credential: IssuedCredential, issuer_did: str) -> OutboxEvent:
    return new_event(
        ids,
        clock,
        type_=CREDENTIAL_ISSUED,
        source=issuer_did,
        subject=credential.id,
        data={
            "credentialId": credential.id,
            "issuer": credential.issuer_slug,
            "family": credential.family,
            "format": credential.format,
            "achievementId": credential.achievement_id,
            "recipientRef": credential.subject_ref,
            "issuedAt": format_datetime(credential.issued_at),
            "validUntil": format_datetime(credential.valid_until) if credential.valid_until else None,
            "client": credential.client_id,
        },
    )


def credential_status_changed(
    ids: IdGenerator, clock: Clock, credential: IssuedCredential, issuer_did: str, change: LifecycleEvent
) -> OutboxEvent:
    """suspended, reinstated, revoked or expired (``issued`` has its own event)."""
    return new_event(
        ids,
        clock,
        type_=_LIFECYCLE_TYPES[change.event],
        source=issuer_did,
        subject=credential.id,
        data={
            "credentialId": credential.id,
            "issuer": credential.issuer_slug,
            "achievementId": credential.achievement_id,
            "recipientRef": credential.subject_ref,
            "previousStatus": change.from_status.value if change.from_status else None,
            "status": change.to_status.value,
            "reasonCode": change.reason_code.value if change.reason_code else None,
            "actor": change.actor_client_id,
            "at": format_datetime(change.at),
        },
    )


def key_changed(
    ids: IdGenerator, clock: Clock, key: SigningKey, issuer_did: str, *, replaced: SigningKey | None = None
) -> OutboxEvent:
    """activated (the issuer's first key of its algorithm), rotated (it replaces one) or revoked."""
    type_ = _key_event_type(key, replaced)
    return new_event(
        ids,
        clock,
        type_=type_,
        source=issuer_did,
        subject=key.kid,
        data={
            "kid": key.kid,
            "issuer": key.issuer_slug,
            "algorithm": key.algorithm.value,
            "state": key.state.value,
            "replaces": replaced.kid if replaced is not None else None,
        },
    )


def _key_event_type(key: SigningKey, replaced: SigningKey | None) -> str:
    if key.revoked_at is not None:
        return KEY_REVOKED
    return KEY_ROTATED if replaced is not None else KEY_ACTIVATED


def offer_created(ids: IdGenerator, clock: Clock, offer: Offer, issuer_did: str) -> OutboxEvent:
    """An OID4VCI offer was made. The subject of every offer event is the offer id."""
    return new_event(
        ids,
        clock,
        type_=OFFER_CREATED,
        source=issuer_did,
        subject=offer.id,
        data={
            "offerId": offer.id,
            "issuer": offer.issuer_slug,
            "configurationIds": offer.configuration_ids,
            "awards": len(offer.awards),
            "txCode": offer.tx_code is not None,
            "expiresAt": format_datetime(offer.expires_at),
            "client": offer.client_id,
        },
    )


def token_issued(ids: IdGenerator, clock: Clock, offer: Offer, issuer_id: str) -> OutboxEvent:
    """A wallet redeemed the offer's pre-authorized code for an access token."""
    return new_event(ids, clock, type_=OFFER_REDEEMED, source=issuer_id, subject=offer.id, data={"offerId": offer.id})


def credentials_delivered(
    ids: IdGenerator, clock: Clock, offer: Offer, delivery: Delivery, configuration_id: str, issuer_id: str
) -> OutboxEvent:
    """A credential response carried these credentials to a wallet."""
    return new_event(
        ids,
        clock,
        type_=OFFER_DELIVERED,
        source=issuer_id,
        subject=offer.id,
        data={
            "offerId": offer.id,
            "awardId": delivery.award_id,
            "configurationId": configuration_id,
            "credentialIds": list(delivery.credential_ids),
            "notificationId": delivery.notification_id,
        },
    )


def agent_credential_delivered(
    ids: IdGenerator,
    clock: Clock,
    offer: Offer,
    award_id: str,
    agent_credential_id: str,
    notification_id: str | None,
    issuer_id: str,
) -> OutboxEvent:
    """An external agent reported one of the offer's credentials signed and handed to the wallet. The agent
    keeps the credential: its id is the agent's, and no credential.issued accompanies it."""
    configuration_id = next(award.configuration_id for award in offer.awards if award.id == award_id)
    return new_event(
        ids,
        clock,
        type_=OFFER_DELIVERED,
        source=issuer_id,
        subject=offer.id,
        data={
            "offerId": offer.id,
            "awardId": award_id,
            "configurationId": configuration_id,
            "credentialIds": [agent_credential_id],
            "notificationId": notification_id,
        },
    )


def notification_received(
    ids: IdGenerator, clock: Clock, offer: Offer, delivery: Delivery, event: str, issuer_id: str
) -> OutboxEvent:
    """The wallet's notification about a delivery (its free-text description is left out)."""
    return new_event(
        ids,
        clock,
        type_=OFFER_NOTIFIED,
        source=issuer_id,
        subject=offer.id,
        data={
            "offerId": offer.id,
            "notificationId": delivery.notification_id,
            "credentialIds": list(delivery.credential_ids),
            "event": event,
        },
    )


def template_published(
    ids: IdGenerator, clock: Clock, template: CredentialTemplate, issuer_did: str, client_id: str, *, replaced: bool
) -> OutboxEvent:
    """A credential template was created or replaced: its configurations are in the metadata. The subject of
    template events is the template id."""
    return new_event(
        ids,
        clock,
        type_=TEMPLATE_PUBLISHED,
        source=issuer_did,
        subject=template.id,
        data={**_template_data(template, client_id), "replaced": replaced},
    )


def template_retired(
    ids: IdGenerator, clock: Clock, template: CredentialTemplate, issuer_did: str, client_id: str
) -> OutboxEvent:
    """A credential template was retired: no new offers, and its configurations leave the metadata once the
    offers made with it have expired."""
    return new_event(
        ids,
        clock,
        type_=TEMPLATE_RETIRED,
        source=issuer_did,
        subject=template.id,
        data=_template_data(template, client_id),
    )


def _template_data(template: CredentialTemplate, client_id: str) -> dict[str, object]:
    return {
        "templateId": template.id,
        "issuer": template.issuer_slug,
        "achievementId": template.achievement_id,
        "configurationIds": [configuration.id for configuration in template.configurations],
        "client": client_id,
    }
