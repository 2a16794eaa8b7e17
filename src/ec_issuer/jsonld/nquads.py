"""Reading N-Quads (RDF 1.1 N-Quads), for canonicalizing datasets that arrive as text.

The signing path never parses N-Quads: it goes JSON-LD -> RDF terms -> canonical N-Quads. This reader exists
for the W3C RDFC-1.0 test suite and for cross-checks, and is strict: a line that does not match the grammar
is a ValueError, not a guess.
"""

from __future__ import annotations

import re

from ec_issuer.jsonld.rdf import RDF_LANG_STRING, XSD_STRING, BlankNode, GraphName, Iri, Literal, Object, Quad

_IRI = r"<((?:[^\x00-\x20<>\"{}|^`\\]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*)>"
_NAME_START = r"A-Za-z0-9_\u00c0-\U000effff"
_NAME_CHAR = _NAME_START + r"\-\u00b7"
_BLANK = rf"_:([{_NAME_START}](?:[{_NAME_CHAR}.]*[{_NAME_CHAR}])?)"
_STRING = r"\"((?:[^\"\\\n\r]|\\[tbnrf\"'\\]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*)\""
_LITERAL = _STRING + r"(?:\^\^" + _IRI + r"|@([a-zA-Z]+(?:-[a-zA-Z0-9]+)*))?"
_TERM = re.compile(r"[ \t]*(?:" + _IRI + "|" + _BLANK + "|" + _LITERAL + ")")
_END = re.compile(r"[ \t]*\.[ \t]*(?:#.*)?$")
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([tbnrf\"'\\]))")
_ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        short, long, char = match.groups()
        if char is not None:
            return _ECHAR[char]
        return chr(int(short or long, 16))

    return _ESCAPE.sub(replace, text) if "\\" in text else text


def _term(match: re.Match[str]) -> Object:
    iri, blank, value, datatype, language = match.groups()
    if iri is not None:
        return Iri(_unescape(iri))
    if blank is not None:
        return BlankNode(blank)
    if language is not None:
        return Literal(_unescape(value), RDF_LANG_STRING, language)
    return Literal(_unescape(value), _unescape(datatype) if datatype is not None else XSD_STRING)


def parse_nquads(text: str) -> list[Quad]:
    quads: list[Quad] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        terms: list[Object] = []
        position = 0
        while len(terms) < 4:
            match = _TERM.match(line, position)
            if match is None:
                break
            terms.append(_term(match))
            position = match.end()
        if len(terms) not in (3, 4) or not _END.match(line, position):
            raise ValueError(f"line {number} is not an N-Quads statement")
        subject, predicate, obj = terms[0], terms[1], terms[2]
        graph = terms[3] if len(terms) == 4 else None
        if isinstance(subject, Literal) or not isinstance(predicate, Iri) or isinstance(graph, Literal):
            raise ValueError(f"line {number}: a literal where only an IRI or blank node may stand")
        graph_name: GraphName = graph
        quads.append(Quad(subject, predicate, obj, graph_name))
    return quads
