"""API clients and their bearer tokens. Tokens are shown once and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

TOKEN_PREFIX = "eci_"  # noqa: S105 - a public prefix that makes leaked tokens easy to scan for
MIN_TOKEN_LENGTH = 32


def new_token() -> str:
    # 256 bits of randomness: a fast hash is enough to store it, no password KDF needed.
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


@dataclass(frozen=True, slots=True)
class ApiClient:
    """A caller of the admin API.

    `issuer_scope` / `achievement_scope` of None mean "all"; an empty tuple means "none".
    """

    id: str
    name: str
    token_hash: str
    issuer_scope: tuple[str, ...] | None = None
    achievement_scope: tuple[str, ...] | None = None
    is_admin: bool = False
    disabled: bool = False
    created_at: datetime | None = field(default=None, compare=False)

    def may_use_issuer(self, issuer_slug: str) -> bool:
        return self.issuer_scope is None or issuer_slug in self.issuer_scope

    def may_issue_achievement(self, achievement_id: str | None) -> bool:
        if self.achievement_scope is None:
            return True
        return achievement_id is not None and achievement_id in self.achievement_scope
