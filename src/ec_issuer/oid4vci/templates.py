"""Credential templates: an achievement an issuer awards again and again, shown in wallets in its own way.

Each listed template adds its own credential configurations (`<template id>_<format>`) to the issuer's metadata,
with the template's `credential_metadata.display`, so that a wallet shows "Python 101" with the badge's logo and
colours rather than a generic "Open Badge". An offer made from a template carries the template's achievement as
it was then: the template may be replaced or retired later without changing what was offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ec_issuer.oid4vci.configurations import CredentialConfiguration, template_configuration


@dataclass(frozen=True, slots=True)
class CredentialTemplate:
    issuer_slug: str
    id: str
    achievement: dict[str, Any]  # an Open Badges Achievement, as IssueCredential takes it
    defaults: dict[str, Any]  # the credential's `name` and `description`, when the template gives them
    display: tuple[dict[str, Any], ...]  # credential_metadata.display entries, exactly as the metadata shows them
    formats: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None = None
    # A retired template stays listed in the metadata until the last offer made with it has expired: wallets
    # look the offered configuration up there before they ask for the credential.
    listed_until: datetime | None = None

    @property
    def configurations(self) -> list[CredentialConfiguration]:
        return [template_configuration(self.id, format_name) for format_name in self.formats]

    @property
    def achievement_id(self) -> str | None:
        found: object = self.achievement.get("id")
        return found if isinstance(found, str) else None

    def listed_at(self, now: datetime) -> bool:
        return self.retired_at is None or (self.listed_until is not None and now < self.listed_until)

    def says_the_same_as(self, other: CredentialTemplate) -> bool:
        return (self.achievement, self.defaults, self.display, self.formats) == (
            other.achievement,
            other.defaults,
            other.display,
            other.formats,
        )
