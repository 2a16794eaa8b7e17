"""RFC 9457 problem details for every error response, with JSON Pointers to the offending fields."""

from __future__ import annotations

import logging
from typing import Any

from apiflask import HTTPError
from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from ec_issuer.core.encoding import dumps
from ec_issuer.core.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    Gone,
    InvalidInput,
    MalformedInput,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    UpstreamFailed,
    UpstreamTimeout,
)

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "urn:ec-issuer:problem:"

_STATUS_OF: list[tuple[type[DomainError], int, str]] = [
    (MalformedInput, 400, "malformed-request"),
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not-found"),
    (Gone, 410, "gone"),
    (Conflict, 409, "conflict"),
    (InvalidInput, 422, "invalid-input"),
    (RateLimited, 429, "too-many-requests"),
    (Unavailable, 503, "unavailable"),
    (UpstreamFailed, 502, "bad-gateway"),
    (UpstreamTimeout, 504, "gateway-timeout"),
]

_HEADERS_FOR_STATUS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": 'Bearer realm="ec-issuer"'},
    503: {"Retry-After": "1"},
}


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind if kind else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [{"pointer": e.pointer, "detail": e.detail} for e in errors]
    for name, value in (extensions or {}).items():
        body.setdefault(name, value)
    response = Response(dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_domain_error(error: DomainError) -> Response:
    for error_type, status, kind in _STATUS_OF:
        if isinstance(error, error_type):
            headers = _HEADERS_FOR_STATUS.get(status)
            if isinstance(error, RateLimited):
                headers = {"Retry-After": str(error.retry_after_seconds)}
            title = kind.replace("-", " ").capitalize()
            return problem_response(
                status,
                title,
                error.detail,
                kind=kind,
                errors=error.errors,
                headers=headers,
                extensions=error.extensions,
            )
    return problem_response(400, "Bad request", error.detail, errors=error.errors)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, from_domain_error)

    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        detail = error.description or error.name
        errors: list[FieldError] = []
        if status == 413:
            errors = [FieldError("", "the request body is larger than this endpoint accepts")]
        elif status == 415:
            errors = [FieldError("Content-Type", "send application/json")]
        return problem_response(status, error.name, detail, errors=errors)

    def unexpected(error: Exception) -> Response:
        # The client learns only that something failed on our side; the trace stays in our log.
        log.exception("unhandled error while serving a request")
        return problem_response(500, "Internal Server Error", "the server could not complete the request")

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)


def apiflask_error(error: HTTPError) -> Response:
    """APIFlask raises its own HTTPError (e.g. from authentication); answer it as a problem too."""
    status = error.status_code
    if status == 401:
        return problem_response(
            401,
            "Unauthenticated",
            "a valid bearer token is required",
            kind="unauthenticated",
            headers={"WWW-Authenticate": 'Bearer realm="ec-issuer"'},
        )
    return problem_response(status, error.message or "Error", str(error.message or ""))
