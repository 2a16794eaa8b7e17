"""What the OpenAPI document says about errors and media types, in one place.

APIFlask describes every error as its own `HTTPError` JSON object. This service answers RFC 9457 problem
details instead (api/problems.py), and OAuth error objects on the OID4VCI wallet endpoints
(oid4vci/errors.py). `describe_answers` rewrites the generated document to say so, and adds the answers
every route can give whatever its own declaration lists:

- 400 for a control character in the URL path or query (`refuse_control_characters_in_url` runs first);
- 413 for a body over MAX_REQUEST_BYTES, on every route that takes a body;
- 503 when the database is unreachable, lost or busy (storage/failures.py), except on the routes marked
  `ANSWERS_WITHOUT_DATABASE`;
- for a JSON body read with `read_json_body`: 400 when it is not JSON, 415 for another media type. Protocol
  endpoints (those that declare OAuth errors) answer both, and what APIFlask declares as 422, as OAuth 400s.

Routes declare their answers with `answers({status: description})`, success media types with `media_response`;
the problem schema is filled in here, so no route repeats it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from ec_issuer.api.problems import PROBLEM_MEDIA_TYPE
from ec_issuer.api.schemas import OAuthError, Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
OAUTH_ERROR_REF = {"$ref": "#/components/schemas/OAuthError"}
# APIFlask's own error schemas, which this service never sends.
_APIFLASK_ERROR_SCHEMAS = ("HTTPError", "ValidationError")
_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

_URL_CONTROL_CHARACTER = "Malformed request: a control character in the URL path or query"
_BODY_TOO_LARGE = "The request body is larger than MAX_REQUEST_BYTES"
_BODY_NOT_JSON = "; or the body is not JSON, or nests too deep"
_BODY_MEDIA_TYPE = "The body is not application/json (or another +json type)"
_DATABASE_AWAY = "The database (or a key backend) is unavailable or busy: retry after Retry-After seconds"
# Marks the few routes that answer without the database (`doc(extensions=ANSWERS_WITHOUT_DATABASE)`): they get
# no 503. The mark itself is removed from the document.
_WITHOUT_DATABASE = "x-answers-without-database"
ANSWERS_WITHOUT_DATABASE: dict[str, Any] = {_WITHOUT_DATABASE: True}


HTML_PAGE: dict[str, Any] = {"type": "string", "description": "An HTML page"}
BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
TEXT: dict[str, Any] = {"type": "string"}


def answers(declared: Mapping[int, str | dict[str, Any]]) -> dict[int | str, Any]:
    """A route's `responses`: a description, or a whole answer from `media_response`, per status."""
    typed: dict[int | str, Any] = {}
    for code, answer in declared.items():
        typed[code] = answer
    return typed


def media_response(description: str, content: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An answer in these media types, each with its schema."""
    return {"description": description, "content": {media: {"schema": schema} for media, schema in content.items()}}


def oauth_errors(codes: dict[int, str]) -> dict[int, Any]:
    """Errors a wallet endpoint answers as an OAuth error object (RFC 6749 §5.2, OID4VCI 1.0 §8.3.1)."""
    return {
        code: {"description": text, "content": {"application/json": {"schema": OAUTH_ERROR_REF}}}
        for code, text in codes.items()
    }


def describe_answers(spec: dict[str, Any] | str) -> dict[str, Any] | str:
    """APIFlask's spec processor (see the module's docstring). The spec is a dict unless SPEC_FORMAT is yaml."""
    if isinstance(spec, str):
        return spec
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, model in (("Problem", Problem), ("OAuthError", OAuthError)):
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(definition.pop("$defs", {}))
        schemas[name] = definition
    for path_item in spec.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in _HTTP_METHODS:
                _describe_operation(operation)
    for name in _APIFLASK_ERROR_SCHEMAS:
        schemas.pop(name, None)
    return spec


def _describe_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    protocol = any(_declares_oauth_errors(answer) for answer in responses.values())
    if protocol:  # APIFlask declares a 422 for every described body; a protocol endpoint answers 400 instead
        responses.pop("422", None)
    common = {"400": _URL_CONTROL_CHARACTER}
    if not operation.pop(_WITHOUT_DATABASE, False):
        common["503"] = _DATABASE_AWAY
    body_media = set(operation.get("requestBody", {}).get("content", {}))
    if body_media:
        common["413"] = _BODY_TOO_LARGE
        if not protocol and body_media == {"application/json"}:
            common["400"] += _BODY_NOT_JSON
            common["415"] = _BODY_MEDIA_TYPE
    for code, description in common.items():
        responses.setdefault(code, {"description": description})
    for code, answer in responses.items():
        if int(code) >= 400:
            _as_problem(answer)


def _as_problem(answer: dict[str, Any]) -> None:
    """Problem details, beside any other error shape the route declared (an OAuth error object)."""
    content: dict[str, Any] = answer.setdefault("content", {})
    for media, body in list(content.items()):
        if not _is_declared_schema(body.get("schema")):
            del content[media]
    content[PROBLEM_MEDIA_TYPE] = {"schema": dict(_PROBLEM_REF)}


def _is_declared_schema(schema: Any) -> bool:
    """A schema the route gave (an OAuth error, an HTML page), not APIFlask's error guess or an empty one."""
    if not isinstance(schema, dict) or not schema:
        return False
    ref = cast(dict[str, Any], schema).get("$ref")
    return not isinstance(ref, str) or ref.rsplit("/", 1)[-1] not in (*_APIFLASK_ERROR_SCHEMAS, "Problem")


def _declares_oauth_errors(answer: dict[str, Any]) -> bool:
    content: dict[str, dict[str, Any]] = answer.get("content", {})
    return any(body.get("schema") == OAUTH_ERROR_REF for body in content.values())
