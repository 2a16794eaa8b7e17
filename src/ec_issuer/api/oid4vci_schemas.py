"""The OID4VCI wallet endpoints' request shapes, for the OpenAPI document only.

The endpoints read their requests themselves (oid4vci/service.py, oid4vci/authorization.py) and answer what
they refuse as OAuth errors, so these models validate nothing: they tell a wallet developer what is read.
Members beyond those listed are ignored, as OAuth 2.0 asks (RFC 6749 §3.2).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_OPEN = ConfigDict(extra="allow")


class TokenRequest(BaseModel):
    """A token request, `application/x-www-form-urlencoded` (RFC 6749 §4.1.3, OID4VCI 1.0 §6.1)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    grant_type: Literal["urn:ietf:params:oauth:grant-type:pre-authorized_code", "authorization_code"]
    pre_authorized_code: str | None = Field(
        default=None, alias="pre-authorized_code", description="From the offer's pre-authorized_code grant"
    )
    tx_code: str | None = Field(default=None, description="The transaction code, when the offer asks for one")
    code: str | None = Field(default=None, description="authorization_code: the code from the redirect")
    code_verifier: str | None = Field(default=None, description="authorization_code: the PKCE verifier")
    redirect_uri: str | None = Field(default=None, description="authorization_code: as in the pushed request")
    client_id: str | None = None


class PushedAuthorizationRequest(BaseModel):
    """A pushed authorization request, `application/x-www-form-urlencoded` (RFC 9126)."""

    model_config = _OPEN

    response_type: Literal["code"]
    client_id: str
    redirect_uri: str
    code_challenge: str = Field(description="PKCE (RFC 7636)")
    code_challenge_method: Literal["S256"]
    issuer_state: str | None = Field(default=None, description="From the offer's authorization_code grant")
    state: str | None = None


class KeyProofs(BaseModel):
    model_config = _OPEN

    jwt: list[str] = Field(description="Key proofs, each a JWT of typ openid4vci-proof+jwt over the c_nonce")


class CredentialRequest(BaseModel):
    """A credential request, `application/json` (OID4VCI 1.0 §8.2). Draft-13 requests (`format`,
    `credential_definition`, a single `proof`) are taken too (docs/oid4vci.md)."""

    model_config = _OPEN

    credential_configuration_id: str | None = Field(default=None, description="One of the metadata's configurations")
    credential_identifier: str | None = Field(default=None, description="From the token's authorization_details")
    proofs: KeyProofs | None = None


class DeferredCredentialRequest(BaseModel):
    """A deferred credential request, `application/json` (OID4VCI 1.0 §9)."""

    model_config = _OPEN

    transaction_id: str


class NotificationRequest(BaseModel):
    """A notification, `application/json` (OID4VCI 1.0 §11)."""

    model_config = _OPEN

    notification_id: str
    event: Literal["credential_accepted", "credential_failure", "credential_deleted"]
    event_description: str | None = None
