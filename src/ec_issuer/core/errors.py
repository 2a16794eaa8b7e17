"""Domain errors. Adapters translate them: the API into RFC 9457 problems, the CLI into messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input field, located by a JSON Pointer (RFC 6901) into the request."""

    pointer: str
    detail: str


def pointer_from_path(path: tuple[str | int, ...] | list[str | int]) -> str:
    """Turn a location path such as ('achievement', 'name') into a JSON Pointer '/achievement/name'."""
    if not path:
        return ""
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in path)
    return "/" + "/".join(escaped)


@dataclass(eq=False)
class DomainError(Exception):
    """Base class: something the caller asked for cannot be done. Never a bug in our code."""

    detail: str
    errors: list[FieldError] = field(default_factory=list[FieldError])
    # Further members of the problem document (RFC 9457 §3.2), e.g. each SHACL violation as an object.
    extensions: dict[str, Any] = field(default_factory=dict[str, Any])

    def __post_init__(self) -> None:
        super().__init__(self.detail)


class InvalidInput(DomainError):
    """The request is well-formed JSON but its content breaks a rule (maps to 422)."""


class MalformedInput(DomainError):
    """The request cannot be read at all, or contradicts the server's configuration (maps to 400)."""


class NotFound(DomainError):
    """The named resource does not exist (or is not visible to the caller)."""


class Gone(DomainError):
    """The resource existed and was withdrawn on purpose (maps to 410)."""


class Conflict(DomainError):
    """The request conflicts with stored state, e.g. an idempotency key reused with another body."""


class Unauthenticated(DomainError):
    """No valid credentials were presented."""


class Forbidden(DomainError):
    """The caller is known but the authorization policy refuses the action."""


class Unavailable(DomainError):
    """A backend the action needs cannot be reached; retrying later may succeed."""


class UpstreamFailed(DomainError):
    """A service the action is handed to answered with an error or with something unusable (maps to 502)."""


class UpstreamTimeout(DomainError):
    """A service the action is handed to did not answer in time (maps to 504); it may have acted anyway."""


@dataclass(eq=False)
class RateLimited(DomainError):
    """The caller has used up its allowance of requests for now (maps to 429, with Retry-After)."""

    retry_after_seconds: int = 1
