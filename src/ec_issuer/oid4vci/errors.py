"""Errors in the shapes OAuth 2.0 (RFC 6749 §5.2, RFC 6750 §3) and OID4VCI 1.0 prescribe: a JSON object
with `error` and `error_description`, not a problem document, because wallets read exactly these codes."""

from __future__ import annotations

import re

_DESCRIPTION_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5B\x5D-\x7E]")


class ProtocolError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        # RFC 6749 allows only these characters in error_description (no quote, no backslash).
        self.description = _DESCRIPTION_UNSAFE.sub("?", description)[:500]
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidToken(ProtocolError):
    """No usable access token: 401 with a WWW-Authenticate challenge (RFC 6750)."""

    def __init__(self, description: str) -> None:
        super().__init__("invalid_token", description, 401)


def invalid_request(description: str) -> ProtocolError:
    return ProtocolError("invalid_request", description)


def invalid_grant(description: str) -> ProtocolError:
    return ProtocolError("invalid_grant", description)


def invalid_credential_request(description: str) -> ProtocolError:
    return ProtocolError("invalid_credential_request", description)


def invalid_proof(description: str) -> ProtocolError:
    return ProtocolError("invalid_proof", description)
