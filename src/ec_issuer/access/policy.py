"""The authorization port: may this client issue this achievement, for this issuer, to this person?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ec_issuer.access.model import ApiClient


@dataclass(frozen=True, slots=True)
class IssueIntent:
    client: ApiClient
    issuer_slug: str
    achievement_id: str | None
    # An opaque, keyed hash of the recipient: policies can compare it, never read an address from it.
    recipient_ref: str


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str

    @classmethod
    def allow(cls) -> Decision:
        return cls(True, "allowed")

    @classmethod
    def deny(cls, reason: str) -> Decision:
        return cls(False, reason)


class AuthorizationPolicy(Protocol):
    def decide(self, intent: IssueIntent) -> Decision: ...


class ScopePolicy:
    """The built-in policy: a client may issue what its issuer and achievement scopes cover."""

    def decide(self, intent: IssueIntent) -> Decision:
        if intent.client.disabled:
            return Decision.deny("client is disabled")
        if not intent.client.may_use_issuer(intent.issuer_slug):
            return Decision.deny(f"client may not issue for issuer '{intent.issuer_slug}'")
        if not intent.client.may_issue_achievement(intent.achievement_id):
            return Decision.deny(f"client may not issue achievement '{intent.achievement_id}'")
        return Decision.allow()
