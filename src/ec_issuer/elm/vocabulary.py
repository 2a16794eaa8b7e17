"""Controlled-vocabulary concepts for European Digital Credentials, from the vendored table only.

Europass and the EC issuer check concepts by their `skos:inScheme`, and the EC issuer refuses unknown
concepts in its mandatory lists, so a concept here is never made up from request text: a request names a
concept by a short key ("en", "NL", "6", "0613", "online") and gets the table's IRI, scheme and label.
The table (`resources/elm/vocabulary.csv`) holds the concepts whose IRIs were taken from the official
samples and the EU authority tables; docs/elm.md says where each list comes from and what is missing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ec_issuer.core.errors import FieldError, InvalidInput

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Concept:
    key: str  # what a request names it by
    iri: str
    scheme: str
    label: str  # English preferred label
    notation: str

    def to_json(self) -> JsonObject:
        return {
            "id": self.iri,
            "type": "Concept",
            "inScheme": {"id": self.scheme, "type": "ConceptScheme"},
            "prefLabel": {"en": self.label},
        }


@cache
def _table() -> dict[str, dict[str, Concept]]:
    text = resources.files("ec_issuer.resources").joinpath("elm/vocabulary.csv").read_text(encoding="utf-8")
    lists: dict[str, dict[str, Concept]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        lists.setdefault(row["list"], {})[row["key"]] = Concept(
            row["key"], row["concept"], row["scheme"], row["label_en"], row["notation"]
        )
    return lists


def keys(list_name: str) -> list[str]:
    return list(_table()[list_name])


def find(list_name: str, key: str) -> Concept | None:
    return _table()[list_name].get(key)


def concept(list_name: str, key: str, pointer: str) -> Concept:
    """The concept `key` names in `list_name`; an unknown key is a 4xx naming `pointer` and the choices."""
    found = find(list_name, key)
    if found is None:
        choices = keys(list_name)
        shown = ", ".join(choices[:40]) + (", …" if len(choices) > 40 else "")
        raise InvalidInput(
            f"'{key}' is not in the {list_name} vocabulary",
            [FieldError(pointer, f"must be one of: {shown}")],
        )
    return found


def find_country(code: str) -> Concept | None:
    """A country from its ISO 3166 alpha-2 code (the table's key) or alpha-3 code (the EU authority code)."""
    upper = code.strip().upper()
    return find("country", upper) or next((c for c in _table()["country"].values() if c.notation == upper), None)


def find_language(code: str) -> Concept | None:
    """A language from its ISO 639-1 code ("en"; "en-GB" counts as "en") or its EU authority code ("ENG")."""
    primary = code.strip().split("-")[0]
    return find("language", primary.lower()) or next(
        (c for c in _table()["language"].values() if c.notation == primary.upper()), None
    )


def country(code: str, pointer: str) -> Concept:
    return find_country(code) or concept("country", code.strip().upper(), pointer)


def language(code: str, pointer: str) -> Concept:
    return find_language(code) or concept("language", code.strip().lower(), pointer)
