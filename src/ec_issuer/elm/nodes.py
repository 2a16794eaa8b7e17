"""Small ELM node builders shared by the credential builder: language maps, notes, media, organisations.

Every node gets an id `urn:epass:<class>:<n>`, numbered per document, as the EC issuer writes them: ids are
local to one file, and in RDF two nodes with the same id are one node, so numbering keeps them apart.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ec_issuer.elm import vocabulary
from ec_issuer.elm.vocabulary import Concept

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Media:
    """An image embedded in the file: Europass shows only embedded media, it fetches no URLs."""

    data: bytes
    media_type: str  # "image/png" or "image/jpeg"


class NodeIds:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def next(self, node_class: str) -> str:
        self._counts[node_class] += 1
        return f"urn:epass:{node_class}:{self._counts[node_class]}"


class Nodes:
    """Builds nodes in one language (`lang`, the key of every language map)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.ids = NodeIds()

    def text(self, value: str) -> dict[str, str]:
        return {self.lang: value}

    def note(self, value: str) -> JsonObject:
        return {"id": self.ids.next("note"), "type": "Note", "noteLiteral": self.text(value)}

    def media(self, media: Media) -> JsonObject:
        file_type = vocabulary.concept("file-type", media.media_type, "/europass")
        return {
            "id": self.ids.next("mediaObject"),
            "type": "MediaObject",
            "content": base64.b64encode(media.data).decode("ascii"),
            "contentEncoding": vocabulary.concept("encoding", "base64", "/europass").to_json(),
            "contentType": file_type.to_json(),
        }

    def legal_identifier(self, notation: str, country: Concept) -> JsonObject:
        return {
            "id": self.ids.next("legalIdentifier"),
            "type": "LegalIdentifier",
            "notation": notation,
            "spatial": country.to_json(),
        }

    def identifier(self, notation: str, scheme_name: str) -> JsonObject:
        return {
            "id": self.ids.next("identifier"),
            "type": "Identifier",
            "notation": notation,
            "schemeName": scheme_name,
        }

    def location(self, country: Concept) -> JsonObject:
        return {
            "id": self.ids.next("location"),
            "type": "Location",
            "address": {"id": self.ids.next("address"), "type": "Address", "countryCode": country.to_json()},
        }

    def web_resource(self, url: str) -> JsonObject:
        return {"id": self.ids.next("webResource"), "type": "WebResource", "contentURL": url}

    def credit_point(self, points: float) -> JsonObject:
        return {
            "id": self.ids.next("creditPoint"),
            "type": "CreditPoint",
            "framework": vocabulary.concept("education-credit", "ects", "/europass/ects").to_json(),
            "point": _number_text(points),
        }

    def own_concept(self, scheme_name: str, label: str) -> JsonObject:
        """A concept of our own for lists without a mandatory vocabulary (ELM allows it, as the EC samples
        do for the type of assessment); its ids are stable for the same label."""
        key = hashlib.sha256(label.casefold().encode("utf-8")).hexdigest()[:20]
        return {
            "id": f"urn:epass:concept:ec-issuer:{scheme_name}:{key}",
            "type": "Concept",
            "inScheme": {"id": f"urn:epass:conceptScheme:ec-issuer:{scheme_name}", "type": "ConceptScheme"},
            "prefLabel": self.text(label),
        }


def _number_text(value: float) -> str:
    """ELM keeps credit points as a string: "5", "2.5", never "5.0"."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
