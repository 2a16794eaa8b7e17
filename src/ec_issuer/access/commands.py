"""Requests to register API clients."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ec_issuer.core.validation import Name, Slug, Uri


class CreateClient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    issuers: list[Slug] | None = Field(default=None, max_length=1000, description="Issuer slugs; omit for all")
    achievements: list[Uri] | None = Field(
        default=None, max_length=10_000, description="Achievement ids this client may issue; omit for all"
    )
    admin: bool = Field(default=False, description="May register issuers, keys and clients")
