"""Request and response helpers shared by every route: bodies, content negotiation, the caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from apiflask.scaffold import _annotate  # pyright: ignore[reportPrivateUsage]
from apiflask.schema_adapters import registry
from flask import Response, request
from pydantic import BaseModel
from werkzeug.exceptions import UnsupportedMediaType

from ec_issuer.core.encoding import dumps, loads
from ec_issuer.core.errors import FieldError, MalformedInput

JSON_MEDIA_TYPE = "application/json"
F = TypeVar("F", bound=Callable[..., Any])


def read_json_body() -> Any:
    """The request body parsed as strict JSON: wrong media type 415, too large 413, unreadable 400."""
    mimetype = request.mimetype
    if mimetype != JSON_MEDIA_TYPE and not (mimetype.startswith("application/") and mimetype.endswith("+json")):
        raise UnsupportedMediaType(f"expected Content-Type: {JSON_MEDIA_TYPE}, got {mimetype or 'none'}")
    raw = request.get_data(cache=False)  # MAX_CONTENT_LENGTH makes this raise 413 when too large
    return parse_json(raw)


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise MalformedInput("the request body is empty", [FieldError("", "send a JSON object")])
    try:
        return loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"the request body is not valid UTF-8 JSON: {exc}", [FieldError("", str(exc))]) from None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(dumps(body), status=status, mimetype=JSON_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def documented_body(model: type[BaseModel]) -> Callable[[F], F]:
    """Describe a JSON request body in the OpenAPI document without letting APIFlask parse it.

    We parse bodies ourselves (`read_json_body`) to answer 413/415/400/422 as RFC 9457 problems with
    field pointers; APIFlask's own `input` would validate first and answer in its own format.
    """
    schema = registry.create_adapter(model).schema

    def decorator(view: F) -> F:
        _annotate(view, body=schema, content_type=JSON_MEDIA_TYPE)
        return view

    return decorator
