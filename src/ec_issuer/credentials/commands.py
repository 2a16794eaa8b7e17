"""What a caller may ask of the credentials capability. The API, the CLI and the tests share these."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ec_issuer.core.validation import (
    Did,
    Email,
    ImageUri,
    LongText,
    Name,
    ShortText,
    Timestamp,
    Uri,
    parse_command,
)
from ec_issuer.elm.commands import Europass

JsonObject = dict[str, Any]
SecuringFormat = Literal["vc+jwt", "data-integrity", "both"]
OPEN_BADGE = "open-badges-3.0"
EUROPEAN_DIGITAL_CREDENTIAL = "elm-3.2"
Family = Literal["open-badges-3.0", "elm-3.2"]


def _json_number(value: Any) -> Any:
    # Strict like StrictInt | StrictFloat, but one type: errors then point at the field, not a union member.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number")
    return value


Number = Annotated[int | float, BeforeValidator(_json_number)]


class _Strict(BaseModel):
    # Unknown fields are refused so that a typo ("validUtil") is an error, not a silent default.
    model_config = ConfigDict(extra="forbid", str_max_length=200_000)


class Recipient(_Strict):
    """Exactly one of `email` (published only as a salted SHA-256 IdentityObject) or `did`."""

    email: Email | None = None
    did: Did | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Recipient:
        if (self.email is None) == (self.did is None):
            raise ValueError("give exactly one of 'email' or 'did'")
        return self


class Criteria(_Strict):
    id: Uri | None = None
    narrative: LongText | None = None

    @model_validator(mode="after")
    def _something(self) -> Criteria:
        if self.id is None and self.narrative is None:
            raise ValueError("criteria needs an 'id' or a 'narrative'")
        return self


class Alignment(_Strict):
    targetName: Name
    targetUrl: Uri
    targetDescription: LongText | None = None
    targetCode: ShortText | None = None
    targetFramework: Name | None = None
    targetType: ShortText | None = None


class ResultDescription(_Strict):
    id: Uri
    name: Name
    resultType: ShortText
    allowedValue: list[ShortText] | None = Field(default=None, max_length=100)
    requiredValue: ShortText | None = None


class Achievement(_Strict):
    id: Uri
    name: Name
    description: LongText
    criteria: Criteria
    image: ImageUri | None = None
    achievementType: ShortText | None = None
    alignment: list[Alignment] | None = Field(default=None, max_length=100)
    resultDescription: list[ResultDescription] | None = Field(default=None, max_length=100)
    creditsAvailable: Number | None = Field(default=None, ge=0, le=100_000)
    fieldOfStudy: Name | None = None
    humanCode: ShortText | None = None
    inLanguage: ShortText | None = None
    tag: list[ShortText] | None = Field(default=None, max_length=100)


class Result(_Strict):
    value: ShortText | None = None
    status: Literal["Completed", "Enrolled", "Failed", "InProgress", "OnHold", "Provisional", "Withdrew"] | None = None
    resultDescription: Uri | None = None
    achievedLevel: Uri | None = None


class Evidence(_Strict):
    id: Uri | None = None
    narrative: LongText | None = None
    name: Name | None = None
    description: LongText | None = None
    genre: ShortText | None = None
    audience: ShortText | None = None


class IssueCredential(_Strict):
    """Issue an Open Badges 3.0 AchievementCredential from its parts."""

    issuer: ShortText = Field(description="Issuer slug or DID")
    recipient: Recipient
    achievement: Achievement
    name: Name | None = Field(default=None, description="Credential name; defaults to the achievement name")
    description: LongText | None = None
    validFrom: Timestamp | None = None
    validUntil: Timestamp | None = None
    awardedDate: Timestamp | None = None
    evidence: list[Evidence] | None = Field(default=None, max_length=50)
    results: list[Result] | None = Field(default=None, max_length=100)
    creditsEarned: Number | None = Field(default=None, ge=0, le=100_000)
    narrative: LongText | None = None
    algorithm: Literal["ES256", "EdDSA"] | None = None
    format: SecuringFormat | None = Field(
        default=None,
        description="vc+jwt (VC-JOSE, the default), data-integrity (an embedded DataIntegrityProof: "
        "eddsa-rdfc-2022 with an EdDSA key, ecdsa-rdfc-2019 with an ES256 key), or both (two artefacts: the "
        "credential with its embedded proof, and a vc+jwt of the credential without it, by the same key)",
    )

    produce: list[Family] = Field(
        default_factory=lambda: [OPEN_BADGE],
        min_length=1,
        max_length=2,
        description="What to issue from this award: an Open Badge (open-badges-3.0), a sealed European Digital "
        "Credential (elm-3.2, needs `europass`), or both, each stored as a credential of its own",
    )
    europass: Europass | None = Field(
        default=None,
        validate_default=True,
        description="What a European Digital Credential needs beyond the Open Badge (docs/elm.md)",
    )

    @field_validator("produce")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a family twice")
        return value

    @field_validator("europass")
    @classmethod
    def _europass_when_asked(cls, value: Europass | None, info: ValidationInfo) -> Europass | None:
        if value is None and EUROPEAN_DIGITAL_CREDENTIAL in (info.data.get("produce") or []):
            raise ValueError("required to produce elm-3.2")
        return value

    @property
    def wants_open_badge(self) -> bool:
        return OPEN_BADGE in self.produce

    @property
    def wants_european_credential(self) -> bool:
        return EUROPEAN_DIGITAL_CREDENTIAL in self.produce

    @field_validator("validUntil")
    @classmethod
    def _after_valid_from(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        valid_from = info.data.get("validFrom")
        if value is not None and isinstance(valid_from, datetime) and value <= valid_from:
            raise ValueError("validUntil must be later than validFrom")
        return value


class IssueDocument(_Strict):
    """Sign a complete unsigned credential document built by the caller (VC 2.0 / OB 3.0 shape)."""

    issuer: ShortText = Field(description="Issuer slug or DID")
    credential: JsonObject
    algorithm: Literal["ES256", "EdDSA"] | None = None
    format: SecuringFormat | None = None


IssueRequest = IssueCredential | IssueDocument


def parse_issue_request(body: Any) -> IssueRequest:
    """Pick the request shape by its keys: a `credential` member means a caller-built document."""
    if isinstance(body, dict) and "credential" in body:
        return parse_command(IssueDocument, body)
    return parse_command(IssueCredential, body)
