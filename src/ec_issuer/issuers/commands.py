"""Requests to register issuers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ec_issuer.core.validation import Email, ImageUri, LongText, Name, ShortText, Slug, Uri


class AddressInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    streetAddress: ShortText | None = None
    addressLocality: ShortText | None = None
    addressRegion: ShortText | None = None
    postalCode: ShortText | None = None
    addressCountry: ShortText | None = None


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
