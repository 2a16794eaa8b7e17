"""Constrained input types shared by every command, and the one translation of pydantic errors.

Every string a caller gives us is bounded in length and free of control characters: they break
RDFC-1.0 escaping in JSON-LD canonicalization and have no business in a credential.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, StringConstraints, ValidationError

from ec_issuer.core.errors import FieldError, InvalidInput, pointer_from_path

# C0 controls except TAB/LF/CR, DEL, and the C1 block.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DID = re.compile(r"^did:[a-z0-9]+:[A-Za-z0-9._%:-]+(?:[/?#][^\s]*)?$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def reject_control_characters(value: str) -> str:
    match = _CONTROL.search(value)
    if match:
        raise ValueError(f"control character U+{ord(match.group()):04X} is not allowed")
    return value


def _pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.match(value):
            raise ValueError(f"not a valid {what}")
        return value

    return AfterValidator(check)


def _require_string(value: Any) -> Any:
    # Pydantic would otherwise read integers as Unix timestamps.
    if not isinstance(value, str):
        raise ValueError("expected an RFC 3339 timestamp string")
    return value


_NoControl = AfterValidator(reject_control_characters)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512), _NoControl]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256), _NoControl]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=20_000), _NoControl]
ReasonText = Annotated[str, StringConstraints(max_length=1_000), _NoControl]  # a lifecycle change's reason
Uri = Annotated[str, StringConstraints(max_length=2048), _NoControl, _pattern(_URI, "URI")]
# Images may be data: URIs; the request body limit bounds them further.
ImageUri = Annotated[str, StringConstraints(max_length=200_000), _NoControl, _pattern(_URI, "URI")]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254), _NoControl, _pattern(_EMAIL, "e-mail address")
]
Did = Annotated[str, StringConstraints(max_length=2048), _NoControl, _pattern(_DID, "DID")]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=64), _pattern(_SLUG, "slug (a-z, 0-9 and '-')")]


def _in_utc(value: datetime) -> datetime:
    # 0001-01-01T00:00:00+01:00 parses, yet has no UTC equivalent to sign or store.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


Timestamp = Annotated[AwareDatetime, BeforeValidator(_require_string), AfterValidator(_in_utc)]


M = TypeVar("M", bound=BaseModel)


def parse_command(model: type[M], data: Any) -> M:
    """Validate `data` into `model`, turning every pydantic error into a FieldError with a JSON Pointer."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput("the request body is not valid", errors=field_errors(exc)) from None


def field_errors(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[FieldError]:
    errors: list[FieldError] = []
    for error in exc.errors(include_url=False, include_input=False):
        # Union members and validator names appear in the location; only real keys name a field.
        path = [p for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
        message = error["msg"].removeprefix("Value error, ")
        errors.append(FieldError(pointer_from_path((*prefix, *path)), message))
    return errors
