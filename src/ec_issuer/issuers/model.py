"""The issuer entity and how its did:web identifier is derived from the deployment's base URL."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Address:
    street_address: str | None = None
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def to_ob3(self) -> dict[str, Any]:
        fields = {
            "streetAddress": self.street_address,
            "addressLocality": self.locality,
            "addressRegion": self.region,
            "postalCode": self.postal_code,
            "addressCountry": self.country,
        }
        return {"type": ["Address"], **{k: v for k, v in fields.items() if v is not None}}


@dataclass(frozen=True, slots=True)
class Issuer:
    """An issuing organisation. `slug` is its stable handle; `did` is its public identifier."""

    slug: str
    did: str
    name: str
    url: str | None = None
    email: str | None = None
    image: str | None = None
    description: str | None = None
    address: Address | None = None
    is_root: bool = False
    default_format: str = "vc+jwt"  # how its credentials are secured when a request does not say
    # The Bitstring Status List purposes each credential gets an entry for ("revocation", "suspension").
    status_purposes: tuple[str, ...] = ("revocation", "suspension")
    created_at: datetime | None = field(default=None, compare=False)

    @property
    def uses_did_web(self) -> bool:
        """did:web issuers publish a DID document here and rotate keys; did:key issuers are their one key."""
        return self.did.startswith("did:web:")

    def profile(self) -> dict[str, Any]:
        """The OB 3.0 Profile object embedded as `issuer` in every credential."""
        profile: dict[str, Any] = {"id": self.did, "type": ["Profile"], "name": self.name}
        if self.url:
            profile["url"] = self.url
        if self.email:
            profile["email"] = self.email
        if self.description:
            profile["description"] = self.description
        if self.image:
            profile["image"] = {"id": self.image, "type": "Image"}
        if self.address:
            profile["address"] = self.address.to_ob3()
        return profile


@dataclass(frozen=True, slots=True)
class DidWebLayout:
    """Maps issuers to did:web identifiers and back to the HTTP paths of their DID documents.

    The root issuer is `did:web:<host>` (document at /.well-known/did.json); every other
    issuer is `did:web:<host>:issuers:<slug>` (document at /issuers/<slug>/did.json), as the
    did:web method specifies for identifiers with a path.
    """

    base_url: str

    @property
    def host_part(self) -> str:
        # A port is percent-encoded in did:web ("localhost%3A8000").
        netloc = urlsplit(self.base_url).netloc
        return quote(netloc, safe="")

    def did_for(self, slug: str, *, is_root: bool) -> str:
        if is_root:
            return f"did:web:{self.host_part}"
        return f"did:web:{self.host_part}:issuers:{slug}"

    def document_path(self, slug: str, *, is_root: bool) -> str:
        return "/.well-known/did.json" if is_root else f"/issuers/{slug}/did.json"

    def jwks_path(self, slug: str) -> str:
        return f"/issuers/{slug}/jwks.json"
