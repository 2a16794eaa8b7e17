"""Request bodies nested deeper than MAX_JSON_DEPTH are refused with the pointer of the first one too deep."""

from __future__ import annotations

import json

import pytest

from ec_issuer.api.http import MAX_JSON_DEPTH, parse_json
from ec_issuer.core.errors import MalformedInput


def nested_lists(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_nesting_up_to_the_limit_is_accepted() -> None:
    value = parse_json(nested_lists(MAX_JSON_DEPTH))
    for _ in range(MAX_JSON_DEPTH - 1):
        value = value[0]
    assert value == []


def test_one_level_more_is_refused_with_its_pointer() -> None:
    with pytest.raises(MalformedInput) as refused:
        parse_json(nested_lists(MAX_JSON_DEPTH + 1))
    assert refused.value.errors[0].pointer == "/0" * MAX_JSON_DEPTH


def test_deep_objects_are_refused_with_escaped_keys() -> None:
    text = '{"a/b":' * (MAX_JSON_DEPTH + 1) + "{}" + "}" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(MalformedInput) as refused:
        parse_json(text.encode())
    assert refused.value.errors[0].pointer == "/a~1b" * MAX_JSON_DEPTH


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = {"note": "[" * 500 + "{" * 500, "list": [[1], {"a": [2]}]}
    assert parse_json(json.dumps(body).encode()) == body


def test_a_deep_value_behind_many_string_brackets_is_still_found() -> None:
    text = '{"note": "' + "[" * 100 + '", "deep": ' + nested_lists(MAX_JSON_DEPTH).decode() + "}"
    with pytest.raises(MalformedInput) as refused:
        parse_json(text.encode())
    assert refused.value.errors[0].pointer == "/deep" + "/0" * (MAX_JSON_DEPTH - 1)
