"""What a validation platform may ask: a credential for a validation run, and an organization's privacy opt-in.

Every identifier the platform sends is an opaque token (letters, digits and `._~:@+-`, at most 128
characters): it may appear in a published credential and in a `urn:` identifier, so it must need no
escaping. Whether a token gives a person away is judged separately (`privacy.py`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
)

from ec_issuer.core.errors import FieldError, InvalidInput
from ec_issuer.core.validation import ShortText, Timestamp, reject_control_characters
from ec_issuer.credentials.commands import SecuringFormat

PASSED = "PASSED"
PASSED_WITH_WARNINGS = "PASSED_WITH_WARNINGS"
RunStatus = Literal["PENDING", "RUNNING", "PASSED", "PASSED_WITH_WARNINGS", "FAILED", "ERROR", "CANCELED"]

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~:@+-]{0,127}$")
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER.pattern)]
Sha256Hex = Annotated[
    str, StringConstraints(pattern=r"^[0-9A-Fa-f]{64}$", to_lower=True), Field(description="64 hexadecimal digits")
]
MediaType = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$", to_lower=True
    ),
    Field(description="type/subtype (RFC 6838), without parameters"),
]


def checked_identifier(value: str, name: str) -> str:
    """An identifier that comes in a URL rather than a body."""
    if not IDENTIFIER.match(value):
        raise InvalidInput(
            f"{name} is not an identifier",
            [FieldError(name, "letters, digits and ._~:@+- only, starting with a letter or digit, at most 128")],
        )
    return value


def _plain_filename(value: str) -> str:
    reject_control_characters(value)
    if "/" in value or "\\" in value or value.strip() != value:
        raise ValueError("a file name without a path and without leading or trailing blanks")
    return value


Filename = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_plain_filename)]


class _Strict(BaseModel):
    # Unknown fields are refused: a typo must not silently publish or drop something.
    model_config = ConfigDict(extra="forbid")


class Organization(_Strict):
    id: Identifier


class Project(_Strict):
    id: Identifier


class Resource(_Strict):
    sha256: Sha256Hex
    mediaType: MediaType
    filename: Filename | None = Field(
        default=None, description="Published only when the organization allows file names"
    )
    size: StrictInt | None = Field(default=None, ge=0, le=2**53, description="Bytes")


class Submission(_Strict):
    id: Identifier
    resource: Resource


class Workflow(_Strict):
    id: Identifier
    slug: Identifier
    version: Identifier


class Validator(_Strict):
    code: Identifier
    version: Identifier
    validationType: Identifier


class Run(_Strict):
    id: Identifier
    status: RunStatus
    completedAt: Timestamp | None = Field(default=None, description="Required for a run that passed")
    workflow: Workflow
    validators: list[Validator] = Field(default_factory=list[Validator], max_length=200)
    results: Any = Field(default=None, description="Accepted as the platform sends it; neither published nor stored")

    @field_validator("validators")
    @classmethod
    def _each_once(cls, validators: list[Validator]) -> list[Validator]:
        seen: set[tuple[str, str]] = set()
        for validator in validators:
            key = (validator.code, validator.version)
            if key in seen:
                raise ValueError(f"validator {validator.code} {validator.version} is listed twice")
            seen.add(key)
        return validators


class StepRun(_Strict):
    id: Identifier


class Action(BaseModel):
    """The platform's action that asks for the credential; its other members are its configuration, stored
    with the credential's links and never published."""

    model_config = ConfigDict(extra="allow")

    id: Identifier
    issueOnWarnings: StrictBool = False

    @property
    def configuration(self) -> dict[str, Any]:
        return {"issueOnWarnings": self.issueOnWarnings, **(self.model_extra or {})}


class IssueValidationCredential(_Strict):
    issuer: ShortText = Field(description="Issuer slug or DID")
    organization: Organization
    project: Project
    submission: Submission
    run: Run
    stepRun: StepRun
    action: Action
    format: SecuringFormat | None = Field(
        default=None, description="vc+jwt (the default, ES256), data-integrity or both, as for POST /api/v1/credentials"
    )
    validUntil: Timestamp | None = None


class PutOrganizationPrivacy(_Strict):
    allowPersonalData: StrictBool = Field(
        default=False, description="Publish values that look like e-mail addresses or personal names"
    )
    allowFilenames: StrictBool = Field(default=False, description="Publish the submitted file's name")
