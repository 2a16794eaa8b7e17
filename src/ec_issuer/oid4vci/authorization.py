"""The authorization code flow of the built-in authorization server: pushed authorization requests (RFC 9126),
PKCE S256 (RFC 7636) and the `iss` response parameter (RFC 9207), as FAPI 2.0 and HAIP ask.

The built-in server authorizes offers, not people: a wallet is authorized when its request carries the
`issuer_state` of a live offer, which only the learner the offer was handed to holds. Deployments that must
authenticate the learner at this step put their own authorization server in front (docs/oid4vci.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from ec_issuer.oid4vci.errors import ProtocolError, invalid_grant, invalid_request

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
REQUEST_URI_SECONDS = 60
CODE_SECONDS = 60
# RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def pushed_request_fields(form: Mapping[str, str]) -> tuple[str, str, str, str | None, str]:
    """client_id, redirect_uri, code_challenge, state and issuer_state of a pushed authorization request."""
    if form.get("response_type") != "code":
        raise ProtocolError("unsupported_response_type", "response_type must be code")
    client_id, redirect_uri = form.get("client_id"), form.get("redirect_uri")
    if not client_id:
        raise invalid_request("client_id is missing")
    if not redirect_uri or not _absolute_url(redirect_uri):
        raise invalid_request("redirect_uri must be an absolute URL without a fragment")
    if form.get("code_challenge_method") != "S256":
        raise invalid_request("PKCE is required: code_challenge_method must be S256")
    challenge = form.get("code_challenge", "")
    if not _CHALLENGE.fullmatch(challenge):
        raise invalid_request("code_challenge must be the base64url SHA-256 of the code_verifier")
    if "request_uri" in form:
        raise invalid_request("request_uri cannot be pushed")
    issuer_state = form.get("issuer_state")
    if not issuer_state:
        raise ProtocolError(
            "access_denied",
            "this authorization server grants access to credential offers only: send their issuer_state",
        )
    return client_id, redirect_uri, challenge, form.get("state"), issuer_state


def pkce_matches(verifier: str | None, challenge: str) -> bool:
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        raise invalid_grant("code_verifier is missing or malformed")
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return hmac.compare_digest(digest, challenge)


def redirect(redirect_uri: str, parameters: Mapping[str, str | None]) -> str:
    """The redirect_uri with the answer's parameters added to its query."""
    parts = urlsplit(redirect_uri)
    query = urlencode({k: v for k, v in parameters.items() if v is not None})
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


def _absolute_url(value: str) -> bool:
    parts = urlsplit(value)
    return bool(parts.scheme) and not parts.fragment and len(value) <= 2000 and (bool(parts.netloc) or ":" in value)
