"""Adapter: ask an external authorization service whether an issuing intent is allowed.

Contract (documented in docs/authorization.md): POST a JSON object
`{"client_id", "client_name", "issuer", "achievement", "recipient"}` to the configured URL;
a 200 answer `{"allow": true|false, "reason": "..."}` decides. Anything else (timeout,
non-200, unparsable body) denies: the policy fails closed.
"""

from __future__ import annotations

import logging

import httpx

from ec_issuer.access.policy import Decision, IssueIntent, ScopePolicy
from ec_issuer.core.encoding import loads_object

log = logging.getLogger(__name__)


class HttpPolicy:
    """Scopes first (cheap, local), then the external service gets the final word."""

    def __init__(self, url: str, *, timeout_seconds: float = 2.0, bearer_token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
        self._url = url
        self._client = httpx.Client(timeout=timeout_seconds, headers=headers)
        self._scopes = ScopePolicy()

    def decide(self, intent: IssueIntent) -> Decision:
        local = self._scopes.decide(intent)
        if not local.allowed:
            return local
        body = {
            "client_id": intent.client.id,
            "client_name": intent.client.name,
            "issuer": intent.issuer_slug,
            "achievement": intent.achievement_id,
            "recipient": intent.recipient_ref,
        }
        try:
            response = self._client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            log.warning("authorization service unreachable: %s", type(exc).__name__)
            return Decision.deny("authorization service unavailable")
        if response.status_code != 200:
            log.warning("authorization service answered %s", response.status_code)
            return Decision.deny("authorization service refused to decide")
        try:
            answer = loads_object(response.content)
        except ValueError:
            return Decision.deny("authorization service gave an unreadable answer")
        if answer.get("allow") is not True:
            reason = answer.get("reason")
            return Decision.deny(str(reason) if reason else "denied by authorization service")
        return Decision.allow()
