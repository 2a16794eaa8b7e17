"""Errors in the shapes OAuth 2.0 (RFC 6749 §5.2, RFC 6750 §3) and OID4VCI 1.0 prescribe: a JSON object
with `error` and `error_description`, not a problem document, because wallets read exactly these codes."""

from __future__ import annotations

import re
from collections.abc import Mapping

_DESCRIPTION_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5B\x5D-\x7E]")


class ProtocolError(Exception):
    def __init__(
        self, error: str, description: str, status: int = 400, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        # RFC 6749 allows only these characters in error_description (no quote, no backslash).
        self.description = _DESCRIPTION_UNSAFE.sub("?", description)[:500]
        self.status = status
        self.headers = dict(headers or {})  # e.g. DPoP-Nonce, for the wallet to retry with

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidToken(ProtocolError):
    """No usable access token or DPoP proof at a resource endpoint: 401 with a WWW-Authenticate challenge
    in the token's scheme (RFC 6750 §3 for Bearer, RFC 9449 §7.1 for DPoP)."""

    def __init__(
        self,
        description: str,
        *,
        error: str = "invalid_token",
        scheme: str = "Bearer",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error, description, 401, headers)
        self.scheme = scheme


def invalid_request(description: str) -> ProtocolError:
    return ProtocolError("invalid_request", description)


def invalid_grant(description: str) -> ProtocolError:
    return ProtocolError("invalid_grant", description)


def invalid_credential_request(description: str) -> ProtocolError:
    return ProtocolError("invalid_credential_request", description)


def invalid_proof(description: str) -> ProtocolError:
    return ProtocolError("invalid_proof", description)
