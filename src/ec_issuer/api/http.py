"""Request and response helpers shared by every route: bodies, content negotiation, the caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import orjson
from apiflask.scaffold import _annotate  # pyright: ignore[reportPrivateUsage]
from apiflask.schema_adapters import registry
from flask import Response, request
from pydantic import BaseModel
from werkzeug.exceptions import UnsupportedMediaType

from ec_issuer.core.encoding import dumps, loads
from ec_issuer.core.errors import FieldError, MalformedInput
from ec_issuer.core.validation import reject_control_characters

JSON_MEDIA_TYPE = "application/json"
F = TypeVar("F", bound=Callable[..., Any])


def read_json_body(*, allow_empty: bool = False) -> Any:
    """The request body parsed as strict JSON: wrong media type 415, too large 413, unreadable 400.

    With allow_empty, a request without a body stands for an empty object (every field defaulted).
    """
    if allow_empty and not request.content_length and not request.mimetype:
        return {}
    mimetype = request.mimetype
    if mimetype != JSON_MEDIA_TYPE and not (mimetype.startswith("application/") and mimetype.endswith("+json")):
        raise UnsupportedMediaType(f"expected Content-Type: {JSON_MEDIA_TYPE}, got {mimetype or 'none'}")
    raw = request.get_data(cache=False)  # MAX_CONTENT_LENGTH makes this raise 413 when too large
    return parse_json(raw)


# Credentials nest a dozen levels at most; the serializers downstream stop far below orjson's 1024.
MAX_JSON_DEPTH = 64


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise MalformedInput("the request body is empty", [FieldError("", "send a JSON object")])
    try:
        value = loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"the request body is not valid UTF-8 JSON: {exc}", [FieldError("", str(exc))]) from None
    # Each level of nesting opens with its own bracket, so a text with no more brackets than the limit (those
    # inside strings only add to the count) cannot nest too deep: the walk runs for the rare text that might.
    too_deep = None
    if raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH:
        too_deep = _pointer_deeper_than(value, MAX_JSON_DEPTH)
    if too_deep is not None:
        raise MalformedInput(
            f"the request body nests deeper than {MAX_JSON_DEPTH} levels",
            [FieldError(too_deep, f"nested more than {MAX_JSON_DEPTH} levels deep")],
        )
    return value


def _pointer_deeper_than(value: Any, limit: int) -> str | None:
    """The JSON Pointer of the first container nested deeper than `limit`, if any (iterative: no recursion)."""
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        node, pointer, depth = pending.pop()
        if isinstance(node, dict | list) and depth >= limit:
            return pointer
        if isinstance(node, dict):
            items = cast(dict[str, Any], node).items()
            pending.extend((child, f"{pointer}/{_escape(key)}", depth + 1) for key, child in items)
        elif isinstance(node, list):
            pending.extend(
                (child, f"{pointer}/{index}", depth + 1) for index, child in enumerate(cast(list[Any], node))
            )
    return None


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def refuse_control_characters_in_url() -> None:
    """Identifiers with control characters match nothing, and PostgreSQL cannot even compare a NUL:
    refuse them before any lookup, naming the part of the URL that holds one."""
    try:
        reject_control_characters(request.path)
    except ValueError as exc:
        raise MalformedInput("the URL path contains a control character", [FieldError("path", str(exc))]) from None
    for name, value in request.args.items(multi=True):
        for text in (name, value):
            try:
                reject_control_characters(text)
            except ValueError as exc:
                raise MalformedInput(
                    f"query parameter {name!r} contains a control character", [FieldError(name, str(exc))]
                ) from None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(dumps(body), status=status, mimetype=JSON_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def documented_body(model: type[BaseModel], content_type: str = JSON_MEDIA_TYPE) -> Callable[[F], F]:
    """Describe a request body in the OpenAPI document without letting APIFlask parse it.

    We parse bodies ourselves (`read_json_body`) to answer 413/415/400/422 as RFC 9457 problems with
    field pointers; APIFlask's own `input` would validate first and answer in its own format.
    """
    schema = registry.create_adapter(model).schema

    def decorator(view: F) -> F:
        _annotate(view, body=schema, content_type=content_type)
        return view

    return decorator
