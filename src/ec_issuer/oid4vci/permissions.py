"""Who may make an offer: the checks `Oid4vciIssuer.create_offer` makes, for every delivery adapter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from ec_issuer.access.model import ApiClient
from ec_issuer.core.errors import Forbidden
from ec_issuer.core.unit_of_work import UnitOfWorkFactory
from ec_issuer.issuers.model import Issuer
from ec_issuer.issuers.service import require_issuer_for
from ec_issuer.oid4vci.commands import CheckedAward, CreateOffer


def offer_issuer(uow: UnitOfWorkFactory, client: ApiClient, command: CreateOffer) -> Issuer:
    """The offer's issuer, once the client is known to be allowed it."""
    with uow() as work:
        issuer = require_issuer_for(work, client, command.issuer, "/issuer")
    if not client.may_use_issuer(issuer.slug):
        raise Forbidden(f"client may not issue for issuer '{issuer.slug}'")
    return issuer


def check_achievements(client: ApiClient, awards: Sequence[CheckedAward]) -> None:
    """Refuse the offer unless the client may issue every award's achievement."""
    for award in awards:
        achievement_id = _achievement_of(award.credential)
        if not client.may_issue_achievement(achievement_id):
            raise Forbidden(f"client may not issue achievement '{achievement_id}'")


def _achievement_of(credential: dict[str, Any]) -> str | None:
    achievement: object = credential.get("achievement")
    if not isinstance(achievement, dict):
        return None
    found: object = cast(dict[str, Any], achievement).get("id")
    return found if isinstance(found, str) else None
