"""Requests to register issuers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ec_issuer.core.validation import Email, ImageUri, LongText, Name, ShortText, Slug, Uri


class AddressInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    streetAddress: ShortText | None = None
    addressLocality: ShortText | None = None
    addressRegion: ShortText | None = None
    postalCode: ShortText | None = None
    addressCountry: ShortText | None = None


class DidKeyOptions(BaseModel):
    """Identify the issuer by a did:key of a new key instead of a did:web under ISSUER_BASE_URL."""

    model_config = ConfigDict(extra="forbid")
    algorithm: Literal["ES256", "EdDSA"] = "EdDSA"
    backend: ShortText | None = Field(default=None, description="Key backend; the configured default if omitted")


class CreateIssuer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: Slug
    name: Name
    url: Uri | None = None
    email: Email | None = None
    image: ImageUri | None = None
    description: LongText | None = None
    address: AddressInput | None = None
    root: bool = False
    defaultFormat: Literal["vc+jwt", "data-integrity", "both"] = Field(
        default="vc+jwt", description="How this issuer's credentials are secured when a request does not say"
    )
    statusPurposes: list[Literal["revocation", "suspension"]] = Field(
        default_factory=lambda: ["revocation", "suspension"],
        max_length=2,
        description=(
            "Bitstring Status List purposes each credential gets an entry for; empty for none. Open Badges "
            "3.0 allows one credentialStatus: OB3 credentials carry the first purpose listed"
        ),
    )
    didKey: DidKeyOptions | None = Field(
        default=None,
        description="Use did:key: the issuer's identifier is its one key, which can never rotate",
    )

    @model_validator(mode="after")
    def _root_is_did_web(self) -> CreateIssuer:
        if self.root and self.didKey is not None:
            raise ValueError("the root issuer is did:web:<host>; a did:key issuer cannot be the root")
        return self
