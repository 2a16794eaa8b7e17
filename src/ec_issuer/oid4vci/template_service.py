"""Publishing, reading and retiring credential templates; the templates the metadata lists and offers use.

A client may manage an issuer's templates when it may make offers for them: its scopes must cover the issuer
and the template's achievement (the old one too, when it replaces a template).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from ec_issuer.access.model import ApiClient
from ec_issuer.core.errors import Forbidden, NotFound
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.events import catalogue as events
from ec_issuer.issuers.model import Issuer
from ec_issuer.oid4vci.ports import TemplateStore
from ec_issuer.oid4vci.template_commands import PutCredentialTemplate, checked_template_id
from ec_issuer.oid4vci.templates import CredentialTemplate


@dataclass(frozen=True, slots=True)
class PublishedTemplate:
    template: CredentialTemplate
    created: bool  # no template had this id before, retired or not


class CredentialTemplates:
    def __init__(self, store: TemplateStore, clock: Clock, ids: IdGenerator) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids

    def publish(
        self, client: ApiClient, issuer: Issuer, template_id: str, command: PutCredentialTemplate
    ) -> PublishedTemplate:
        """Create the template, or replace it (a retired one is published again); unchanged, nothing is written."""
        checked_template_id(template_id)
        _check_achievement(client, command.achievement.id)
        existing = self._store.template(issuer.slug, template_id)
        if existing is not None:
            _check_achievement(client, existing.achievement_id)
        now = self._clock.now()
        template = CredentialTemplate(
            issuer_slug=issuer.slug,
            id=template_id,
            achievement=command.achievement.model_dump(mode="json", exclude_none=True),
            defaults=command.credential_defaults(),
            display=command.wallet_display(),
            formats=tuple(command.formats),
            created_at=existing.created_at if existing else now,
            updated_at=now,
            listed_until=existing.listed_until if existing else None,
        )
        if existing is not None and existing.retired_at is None and existing.says_the_same_as(template):
            return PublishedTemplate(existing, created=False)
        event = events.template_published(
            self._ids, self._clock, template, issuer.did, client.id, replaced=existing is not None
        )
        self._store.put(template, event)
        return PublishedTemplate(template, created=existing is None)

    def get(self, issuer: Issuer, template_id: str) -> CredentialTemplate:
        template = self._store.template(issuer.slug, template_id)
        if template is None or template.retired_at is not None:
            raise _no_such(issuer, template_id)
        return template

    def active(self, issuer: Issuer) -> list[CredentialTemplate]:
        return self._store.active(issuer.slug)

    def retire(self, client: ApiClient, issuer: Issuer, template_id: str) -> None:
        """No new offers from it; offers made already stay redeemable. Retiring twice changes nothing."""
        template = self._store.template(issuer.slug, template_id)
        if template is None:
            raise _no_such(issuer, template_id)
        _check_achievement(client, template.achievement_id)
        if template.retired_at is not None:
            return
        now = self._clock.now()
        event = events.template_retired(self._ids, self._clock, template, issuer.did, client.id)
        self._store.retire(issuer.slug, template_id, now, event)

    # --- for the metadata and for offers -----------------------------------------------------------------

    def listed(self, issuer_slug: str) -> list[CredentialTemplate]:
        now = self._clock.now()
        # The store may answer from a cache filled a little earlier: a listing may have ended since.
        return [template for template in self._store.listed(issuer_slug, now) if template.listed_at(now)]

    def offerable(self, issuer_slug: str, template_ids: Collection[str]) -> dict[str, CredentialTemplate]:
        """The templates of these ids that new offers may use: those not retired."""
        found = (self._store.template(issuer_slug, template_id) for template_id in set(template_ids))
        return {template.id: template for template in found if template is not None and template.retired_at is None}

    def note_offered(self, issuer_slug: str, template_ids: Collection[str], until: datetime) -> None:
        """An offer made with these templates can be redeemed until then: keep them listed, should they retire."""
        if template_ids:
            self._store.keep_listed(issuer_slug, set(template_ids), until)


def _no_such(issuer: Issuer, template_id: str) -> NotFound:
    return NotFound(f"issuer '{issuer.slug}' has no credential template '{template_id[:80]}'")


def _check_achievement(client: ApiClient, achievement_id: str | None) -> None:
    if not client.may_issue_achievement(achievement_id):
        raise Forbidden(f"client may not issue achievement '{achievement_id}'")
