"""What an operator may ask of the OID4VCI capability: make an offer. The API, the CLI and the tests share it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ec_issuer.core.errors import FieldError, InvalidInput
from ec_issuer.core.validation import ShortText, field_errors
from ec_issuer.credentials.commands import IssueCredential
from ec_issuer.oid4vci.configurations import CONFIGURATIONS, DEFAULT_CONFIGURATION, FormatName, configuration_id
from ec_issuer.oid4vci.templates import CredentialTemplate

# The holder's DID replaces this when the wallet proves its key; it only lets the award be validated now.
PLACEHOLDER_HOLDER = "did:example:holder-bound-at-redemption"
_SET_AT_REDEMPTION = ("issuer", "recipient", "format")
# Wallets receive Open Badges; a European Digital Credential is a sealed download (POST /api/v1/credentials).
_NOT_FOR_WALLETS = ("produce", "europass")


class StrictModel(BaseModel):
    # Unknown members are refused, and "6" is not taken for 6: a typo is an error, not a silent default.
    model_config = ConfigDict(extra="forbid", strict=True)


class TxCodeRequest(StrictModel):
    """A transaction code the learner must type; generated here and returned once, to be sent out of band."""

    length: int = Field(default=6, ge=4, le=12)
    input_mode: Literal["numeric", "text"] = "numeric"
    description: str | None = Field(default=None, min_length=1, max_length=300)


class AwardRequest(StrictModel):
    configuration: str | None = Field(
        default=None,
        description=f"A credential_configuration_id; {DEFAULT_CONFIGURATION} when neither it nor `template` is given",
    )
    template: ShortText | None = Field(
        default=None,
        description="A credential template of the issuer, instead of `configuration`: the achievement and how wallets "
        "show the credential come from it, and `credential` holds only what is the learner's own",
    )
    format: FormatName | None = Field(
        default=None, description="With `template`: which of its formats; the first it lists by default"
    )
    credential: dict[str, Any] = Field(
        default_factory=dict[str, Any],
        description="The fields of an Open Badges IssueCredential request, without issuer, recipient and format; "
        "with `template`, without achievement too (name and description default to the template's)",
    )
    deferred: bool = Field(
        default=False,
        description="Sign only once the offer is released (POST /api/v1/offers/{id}/release); until then the "
        "wallet gets a transaction_id and asks again at the deferred credential endpoint",
    )


class CreateOffer(StrictModel):
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

    @property
    def template_ids(self) -> set[str]:
        return {award.template for award in self.awards if award.template is not None}


@dataclass(frozen=True, slots=True)
class CheckedAward:
    """An award as it will be issued: its configuration, and the credential with the template's parts in it."""

    configuration_id: str
    credential: dict[str, Any]
    deferred: bool


def checked_awards(command: CreateOffer, templates: Mapping[str, CredentialTemplate]) -> list[CheckedAward]:
    """The awards, each validated as the credential it will become. `templates` holds those the offer may use."""
    errors: list[FieldError] = []
    awards: list[CheckedAward] = []
    for position, award in enumerate(command.awards):
        pointer = f"/awards/{position}"
        resolved = (
            _from_template(award, templates.get(award.template), pointer, errors)
            if award.template is not None
            else _from_configuration(award, pointer, errors)
        )
        if resolved is None:
            continue
        errors += [
            FieldError(f"{pointer}/credential/{name}", f"'{name}' is set when the wallet redeems the offer")
            for name in _SET_AT_REDEMPTION
            if name in award.credential
        ]
        errors += [
            FieldError(
                f"{pointer}/credential/{name}", "wallets receive Open Badges; issue EDCs with POST /api/v1/credentials"
            )
            for name in _NOT_FOR_WALLETS
            if name in award.credential
        ]
        try:
            IssueCredential.model_validate(
                {**resolved.credential, "issuer": command.issuer, "recipient": {"did": PLACEHOLDER_HOLDER}}
            )
        except ValidationError as exc:
            errors += [e for e in field_errors(exc, ("awards", position, "credential")) if not _redemption_field(e)]
        awards.append(resolved)
    if errors:
        raise InvalidInput("the offer is not valid", errors)
    return awards


def _from_configuration(award: AwardRequest, pointer: str, errors: list[FieldError]) -> CheckedAward:
    configuration = award.configuration or DEFAULT_CONFIGURATION
    if configuration not in CONFIGURATIONS:
        errors.append(FieldError(f"{pointer}/configuration", f"must be one of {', '.join(CONFIGURATIONS)}"))
    if award.format is not None:
        errors.append(FieldError(f"{pointer}/format", "goes with `template`: a configuration names its format"))
    return CheckedAward(configuration, award.credential, award.deferred)


def _from_template(
    award: AwardRequest, template: CredentialTemplate | None, pointer: str, errors: list[FieldError]
) -> CheckedAward | None:
    if award.configuration is not None:
        errors.append(FieldError(f"{pointer}/configuration", "give `configuration` or `template`, not both"))
    if template is None:
        errors.append(FieldError(f"{pointer}/template", "the issuer has no such credential template, or it is retired"))
        return None
    format_name = award.format or template.formats[0]
    if format_name not in template.formats:
        errors.append(FieldError(f"{pointer}/format", f"the template is offered as {', '.join(template.formats)}"))
    if "achievement" in award.credential:
        # An achievement of the award's own would be shown in the wallet under the template's name and logo.
        errors.append(FieldError(f"{pointer}/credential/achievement", "the template gives the achievement"))
    # The award's own name and description win over the template's defaults; the achievement is the template's.
    credential = {**template.defaults, **award.credential, "achievement": template.achievement}
    return CheckedAward(configuration_id(template.id, format_name), credential, award.deferred)


def _redemption_field(error: FieldError) -> bool:
    return any(f"/credential/{name}" in error.pointer for name in _SET_AT_REDEMPTION)
