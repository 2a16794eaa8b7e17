"""Requests to change a credential's status."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ec_issuer.core.validation import ReasonText


class RevokeCredential(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reasonCode: str = Field(
        default="unspecified",
        max_length=64,
        description=(
            "One of unspecified, issued_in_error, superseded, privilege_withdrawn, fraud, holder_request, "
            "key_compromise"
        ),
    )
    reason: ReasonText | None = Field(default=None, description="Free text for the history")


class ChangeStatus(BaseModel):
    """Suspend or reinstate: reversible, with an optional reason for the history."""

    model_config = ConfigDict(extra="forbid")
    reason: ReasonText | None = Field(default=None, description="Free text for the history")
