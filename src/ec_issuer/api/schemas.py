"""Response shapes, described for the OpenAPI document (request shapes live with their commands)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from ec_issuer.core.validation import ShortText
from ec_issuer.credentials.commands import IssueCredential, IssueDocument


class IssueRequestBody(RootModel[IssueCredential | IssueDocument]):
    """Either the parts of an Open Badge (`IssueCredential`) or a caller-built document (`IssueDocument`)."""


class FieldProblem(BaseModel):
    pointer: str = Field(description="JSON Pointer to the field in the body, or `path`, or a query parameter")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this service is answered (but see OAuthError)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="`urn:ec-issuer:problem:<kind>`, or `about:blank`")
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = Field(default=None, description="The offending fields, when known")


class OAuthError(BaseModel):
    """An error of the OID4VCI wallet endpoints, in the shape OAuth 2.0 (RFC 6749 §5.2) and OID4VCI 1.0 §8.3.1
    prescribe, because wallets read exactly these codes."""

    model_config = ConfigDict(title="OAuthError")

    error: str = Field(description="e.g. invalid_request, invalid_grant, invalid_proof, invalid_nonce")
    error_description: str


class CredentialSummary(BaseModel):
    id: str
    issuer: str
    family: str
    format: str
    formatVersion: str
    status: Literal["active", "suspended", "revoked", "expired"]
    issuedAt: str
    validFrom: str | None
    validUntil: str | None
    kid: str | None = Field(description="The signing key; null for sealed European Digital Credentials")
    achievementId: str | None
    companionId: str | None = Field(
        default=None, description="The other credential issued from the same award (an EDC beside its Open Badge)"
    )


class IssuedCredentialOut(CredentialSummary):
    credential: dict[str, Any] = Field(
        description="The credential JSON: the JWS payload (vc+jwt), or the credential with its embedded proof"
    )
    jws: str | None = Field(description="The credential secured as a compact JWS, typ vc+jwt; null otherwise")


class EuropeanDownloads(BaseModel):
    credentialId: str = Field(description="The European Digital Credential")
    download: str = Field(description="Admin download of the sealed file (bearer token)")
    publicDownload: str | None = Field(
        description="A link for the learner, without authentication; shown once (only its hash is stored). "
        "POST .../elm/link mints a new one"
    )


class IssueOutcomeOut(IssuedCredentialOut):
    europass: EuropeanDownloads | None = Field(default=None, description="When an EDC was issued")


class DownloadLinkOut(BaseModel):
    credentialId: str
    publicDownload: str


class LifecycleChangeOut(CredentialSummary):
    changed: bool = Field(description="False when the credential was already in the requested state")
    previousStatus: Literal["active", "suspended", "revoked", "expired"]


class LifecycleEventOut(BaseModel):
    event: Literal["issued", "suspended", "reinstated", "revoked", "expired"]
    fromStatus: Literal["active", "suspended", "revoked", "expired"] | None
    toStatus: Literal["active", "suspended", "revoked", "expired"]
    actor: str | None = Field(description="The API client that acted; null when the service did (expiry)")
    at: str
    reasonCode: str | None
    reason: str | None


class HistoryOut(BaseModel):
    id: str
    events: list[LifecycleEventOut]


class CredentialPage(BaseModel):
    items: list[CredentialSummary]
    nextCursor: str | None


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo such as "credentialID" is an error, not ignored

    jws: str | None = Field(default=None, description="A compact JWS (vc+jwt)")
    credential: dict[str, Any] | None = Field(default=None, description="Or a credential with an embedded proof")
    credentialId: ShortText | None = Field(default=None, description="Or the id of a credential issued here")


class CheckOut(BaseModel):
    check: str
    result: Literal["passed", "failed", "skipped"]
    detail: str


class VerificationOut(BaseModel):
    verified: bool
    checks: list[CheckOut]
    credentialId: str | None
    issuer: str | None
    status: str | None
    errors: list[str]
    credential: dict[str, Any] | None


class IssuerOut(BaseModel):
    id: str = Field(description="The issuer's slug")
    did: str
    name: str
    url: str | None
    email: str | None
    root: bool
    defaultFormat: Literal["vc+jwt", "data-integrity", "both"]
    statusPurposes: list[Literal["revocation", "suspension"]]
    didDocument: str | None = Field(description="URL of the did:web document; null for did:key issuers")
    jwks: str


class IssuerList(BaseModel):
    items: list[IssuerOut]


class KeyOut(BaseModel):
    kid: str = Field(description="DID URL of the key; the verification method id in the DID document")
    fragment: str = Field(description="The part of the kid after '#': names the key in the admin API")
    algorithm: Literal["ES256", "EdDSA"]
    state: Literal["pending", "active", "retired", "revoked"]
    backend: str = Field(description="Where the private key lives: local, pkcs11, vault or kms")
    createdAt: str | None
    activatedAt: str | None
    retiredAt: str | None
    revokedAt: str | None
    revocationReason: str | None
    publicJwk: dict[str, Any]


class KeyList(BaseModel):
    items: list[KeyOut]


class CredentialTemplateOut(BaseModel):
    id: str = Field(description="The template id: a slug, unique within the issuer")
    issuer: str = Field(description="The issuer's slug")
    achievement: dict[str, Any] = Field(description="The Open Badges Achievement every credential of it carries")
    name: str | None = Field(description="The credential's name, unless an award gives one")
    description: str | None
    display: list[dict[str, Any]] = Field(description="credential_metadata.display of its configurations")
    formats: list[Literal["jwt_vc_json", "ldp_vc"]]
    configurationIds: list[str] = Field(description="Its credential_configuration_ids: <template id>_<format>")
    createdAt: str
    updatedAt: str


class CredentialTemplateList(BaseModel):
    items: list[CredentialTemplateOut]


class ClientOut(BaseModel):
    id: str
    name: str
    issuers: list[str] | None
    achievements: list[str] | None
    admin: bool
    token: str | None = Field(default=None, description="Shown once, when the client is created")


class Health(BaseModel):
    status: str
    checks: dict[str, str] | None = None


class ValidationCredentialOut(BaseModel):
    outcome: Literal["issued", "skipped"]
    reason: str | None = Field(default=None, description="Why nothing was issued (skipped only)")
    replayed: bool | None = Field(default=None, description="True when an earlier request for the run is answered")
    credentialId: str | None = None
    format: str | None = None
    status: Literal["active", "suspended", "revoked", "expired"] | None = None
    credential: dict[str, Any] | None = Field(
        default=None, description="The ValidationCredential: the JWS payload, or the credential with its proof"
    )
    jws: str | None = Field(default=None, description="The credential as a compact JWS (vc+jwt), unless Data Integrity")
    verificationUrl: str | None = Field(default=None, description="The credential's public verification page")


class OrganizationPrivacyOut(BaseModel):
    id: str
    allowPersonalData: bool
    allowFilenames: bool
    updatedAt: str | None = Field(description="null: never set; nothing beyond opaque identifiers is published")
