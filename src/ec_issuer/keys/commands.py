"""What a caller may ask of the keys capability. The API and the CLI share these."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ec_issuer.core.validation import ShortText
from ec_issuer.keys.model import Algorithm
from ec_issuer.keys.service import NewKey

# A PEM private key or a private JWK for the local keystore, or the name of a key another backend holds.
KeyMaterial = Annotated[str, StringConstraints(min_length=1, max_length=16_384)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddKey(_Strict):
    """Generate a key in a backend, or import one (`material`)."""

    algorithm: Literal["ES256", "EdDSA"] = "ES256"
    backend: ShortText | None = Field(default=None, description="Key backend; the configured default if omitted")
    material: KeyMaterial | None = Field(
        default=None,
        description=(
            "Import instead of generating: for `local` an unencrypted PEM private key or a private JWK; for "
            "`pkcs11` a key label on the token; for `vault` a transit key name (optionally `name@version`); "
            "for `kms` a key id, ARN or alias"
        ),
    )
    activate: bool | None = Field(
        default=None,
        description="Sign with it at once (the current key retires); default: only if the issuer has no active key",
    )

    def to_new_key(self) -> NewKey:
        return NewKey(Algorithm(self.algorithm), self.backend, self.material, self.activate)


class RotateKey(_Strict):
    """A new key of the algorithm signs from now on; the current one retires and stays published."""

    algorithm: Literal["ES256", "EdDSA"] = "ES256"
    backend: ShortText | None = None


class RevokeKey(_Strict):
    """Unpublish a compromised key: credentials it signed no longer verify."""

    reason: ShortText = Field(description="Why, for the record (e.g. 'key file leaked on 2026-12-01')")
