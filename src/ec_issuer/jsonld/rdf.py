"""RDF terms and quads, and their canonical N-Quads form (RDF Dataset Canonicalization 1.0, section 4.1 /
RDF 1.1 N-Quads canonical form).

Canonical N-Quads is what a Data Integrity proof hashes, so escaping is exact: in literals only `"`, `\\`
and the ECHAR controls (BS, TAB, LF, FF, CR) use a backslash escape, every other character in U+0000..U+001F
and U+007F is written as `\\uXXXX` with upper-case hex, and everything else (non-ASCII included) is written
as itself. IRIs are written as they are: an IRI that N-Quads could not carry is refused before this point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


@dataclass(frozen=True, slots=True)
class Iri:
    value: str


@dataclass(frozen=True, slots=True)
class BlankNode:
    label: str  # without the "_:" prefix


@dataclass(frozen=True, slots=True)
class Literal:
    value: str
    datatype: str = XSD_STRING
    language: str | None = None


Subject = Iri | BlankNode
Object = Iri | BlankNode | Literal
GraphName = Iri | BlankNode | None  # None: the default graph


class Quad(NamedTuple):
    subject: Subject
    predicate: Iri
    object: Object
    graph: GraphName = None

    def blank_nodes(self) -> list[str]:
        """Labels of the blank nodes in this quad, in subject, object, graph order (repeats kept)."""
        return [term.label for term in (self.subject, self.object, self.graph) if isinstance(term, BlankNode)]


def _literal_escapes() -> dict[int, str]:
    table = {code: f"\\u{code:04X}" for code in [*range(0x20), 0x7F]}
    table.update({0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"})
    return table


_LITERAL_ESCAPES = _literal_escapes()


def escape_literal(text: str) -> str:
    return text.translate(_LITERAL_ESCAPES)


def term_to_nquads(term: Subject | Object, blank_label: str | None = None) -> str:
    """One term in canonical N-Quads. `blank_label`, when given, replaces a blank node's own label."""
    if isinstance(term, Iri):
        return f"<{term.value}>"
    if isinstance(term, BlankNode):
        return f"_:{blank_label if blank_label is not None else term.label}"
    text = f'"{escape_literal(term.value)}"'
    if term.language is not None:
        return f"{text}@{term.language}"
    if term.datatype != XSD_STRING:
        return f"{text}^^<{term.datatype}>"
    return text


def quad_to_nquads(quad: Quad, relabel: dict[str, str] | None = None) -> str:
    """One canonical N-Quads line, newline included; blank nodes renamed through `relabel` when given."""

    def label(term: Subject | Object) -> str:
        if relabel is not None and isinstance(term, BlankNode):
            return term_to_nquads(term, relabel[term.label])
        return term_to_nquads(term)

    parts = [label(quad.subject), label(quad.predicate), label(quad.object)]
    if quad.graph is not None:
        parts.append(label(quad.graph))
    return " ".join(parts) + " .\n"
