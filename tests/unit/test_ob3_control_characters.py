"""Caller-built documents with control characters are refused with the pointer of the first one, however
they are spelled in JSON; tab, newline, carriage return and look-alike text pass."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ec_issuer.core.errors import InvalidInput
from ec_issuer.credentials.ob3 import complete_document
from ec_issuer.issuers.model import Issuer

ISSUER = Issuer(slug="acme", did="did:web:issuer.test:issuers:acme", name="ACME University")
NOW = datetime(2026, 12, 6, tzinfo=UTC)
# C0 but TAB, LF and CR; DEL; C1 (core/validation.py)
CONTROLS = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]
HARMLESS = ["\t", "\n", "\r", " ", "é", "\u00a0", "\u2028", "€", "\\b", "\\f", "\\u0001", "a\\"]


def _document(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "did:example:learner", "notes": ["first", 2], **extra},
    }


def _completed(document: dict[str, Any]) -> dict[str, Any]:
    return complete_document(document, issuer=ISSUER, credential_id="urn:uuid:1", now=NOW)


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_control_character_in_a_value_a_key_or_a_list_is_refused_with_its_pointer(control: str) -> None:
    for extra, pointer in (
        ({"name": f"x{control}y"}, "/credential/credentialSubject/name"),
        ({f"k{control}": 1}, f"/credential/credentialSubject/k{control}"),
        ({"list": ["ok", f"{control}"]}, "/credential/credentialSubject/list/1"),
    ):
        with pytest.raises(InvalidInput) as refused:
            _completed(_document(extra))
        assert refused.value.detail == "the credential contains a control character"
        assert [e.pointer for e in refused.value.errors] == [pointer]


@pytest.mark.parametrize("text", HARMLESS)
def test_text_without_control_characters_passes(text: str) -> None:
    completed = _completed(_document({"name": f"a{text}b", text: 1}))
    assert completed["credentialSubject"]["name"] == f"a{text}b"
