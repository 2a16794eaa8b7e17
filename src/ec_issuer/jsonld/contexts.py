"""The vendored JSON-LD contexts (src/ec_issuer/resources/contexts/, see its PROVENANCE.md).

Contexts are never fetched: a document may only name contexts listed in the index, and any other URL is
the caller's error. Each file is parsed once per process.
"""

from __future__ import annotations

import copy
import threading
from functools import cache
from typing import Any, cast

from ec_issuer.core.encoding import JsonObject
from ec_issuer.core.errors import FieldError, InvalidInput
from ec_issuer.resources import load_json

_FOLDER = "contexts"
_parsed: dict[str, JsonObject] = {}
_parsed_lock = threading.Lock()


@cache
def _index() -> dict[str, str]:
    return cast(dict[str, str], load_json(f"{_FOLDER}/index.json"))


def vendored_urls() -> frozenset[str]:
    return frozenset(_index())


def unknown_context(url: str) -> InvalidInput:
    detail = f"JSON-LD context {url!r} is not one this service knows; contexts are never fetched"
    return InvalidInput(detail, [FieldError("/@context", detail)])


def context_document(url: str) -> JsonObject:
    """A private copy of the vendored context document for `url`; `InvalidInput` for any other URL."""
    filename = _index().get(url)
    if filename is None:
        raise unknown_context(url)
    with _parsed_lock:
        parsed = _parsed.get(url)
        if parsed is None:
            parsed = cast(JsonObject, load_json(f"{_FOLDER}/{filename}"))
            _parsed[url] = parsed
    # The JSON-LD processor rewrites nested context URLs in place; the cached parse must stay pristine.
    return cast(JsonObject, copy.deepcopy(cast(Any, parsed)))
