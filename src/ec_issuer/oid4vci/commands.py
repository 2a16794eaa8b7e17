"""What an operator may ask of the OID4VCI capability: make an offer. The API, the CLI and the tests share it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ec_issuer.core.errors import FieldError, InvalidInput
from ec_issuer.core.validation import ShortText, field_errors
from ec_issuer.credentials.commands import IssueCredential
from ec_issuer.oid4vci.metadata import CONFIGURATIONS, DEFAULT_CONFIGURATION

# The holder's DID replaces this when the wallet proves its key; it only lets the award be validated now.
PLACEHOLDER_HOLDER = "did:example:holder-bound-at-redemption"
_SET_AT_REDEMPTION = ("issuer", "recipient", "format")


class _Strict(BaseModel):
    # Unknown members are refused, and "6" is not taken for 6: a typo is an error, not a silent default.
    model_config = ConfigDict(extra="forbid", strict=True)


class TxCodeRequest(_Strict):
    """A transaction code the learner must type; generated here and returned once, to be sent out of band."""

    length: int = Field(default=6, ge=4, le=12)
    input_mode: Literal["numeric", "text"] = "numeric"
    description: str | None = Field(default=None, min_length=1, max_length=300)


class AwardRequest(_Strict):
    configuration: str = Field(default=DEFAULT_CONFIGURATION, description="A credential_configuration_id")
    credential: dict[str, Any] = Field(
        description="The fields of an Open Badges IssueCredential request, without issuer, recipient and format"
    )
    deferred: bool = Field(
        default=False,
        description="Sign only once the offer is released (POST /api/v1/offers/{id}/release); until then the "
        "wallet gets a transaction_id and asks again at the deferred credential endpoint",
    )


class CreateOffer(_Strict):
    issuer: ShortText = Field(description="Issuer slug or DID")
    awards: list[AwardRequest] = Field(min_length=1, max_length=20)
    tx_code: TxCodeRequest | None = None
    grants: list[Literal["pre-authorized_code", "authorization_code"]] = Field(
        default_factory=lambda: ["pre-authorized_code"],
        min_length=1,
        max_length=2,
        description="pre-authorized_code (the wallet redeems the code in the offer), authorization_code (the "
        "wallet goes through the authorization endpoint with the offer's issuer_state), or both",
    )
    expires_in: int = Field(default=86_400, ge=60, le=30 * 86_400, description="Seconds the offer stays redeemable")


def checked_awards(command: CreateOffer) -> list[AwardRequest]:
    """The awards, each validated as the credential it will become."""
    errors: list[FieldError] = []
    for position, award in enumerate(command.awards):
        pointer = f"/awards/{position}"
        if award.configuration not in CONFIGURATIONS:
            errors.append(FieldError(f"{pointer}/configuration", f"must be one of {', '.join(CONFIGURATIONS)}"))
        errors += [
            FieldError(f"{pointer}/credential/{name}", f"'{name}' is set when the wallet redeems the offer")
            for name in _SET_AT_REDEMPTION
            if name in award.credential
        ]
        try:
            IssueCredential.model_validate(
                {**award.credential, "issuer": command.issuer, "recipient": {"did": PLACEHOLDER_HOLDER}}
            )
        except ValidationError as exc:
            errors += [e for e in field_errors(exc, ("awards", position, "credential")) if not _redemption_field(e)]
    if errors:
        raise InvalidInput("the offer is not valid", errors)
    return command.awards


def _redemption_field(error: FieldError) -> bool:
    return any(f"/credential/{name}" in error.pointer for name in _SET_AT_REDEMPTION)
