"""The W3C RDF Dataset Canonicalization (RDFC-1.0) test suite against `ec_issuer.jsonld.rdfc`.

Every entry of the manifest runs: the 64 evaluation tests compare canonical N-Quads byte for byte, the 21
map tests compare the issued blank-node labels, and the negative (poison graph) test must be refused
within a bounded time instead of running without end. Vendored in tests/fixtures/rdf-canon/ (PROVENANCE.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from ec_issuer.jsonld.limits import WorkLimitExceeded
from ec_issuer.jsonld.nquads import parse_nquads
from ec_issuer.jsonld.rdf import BlankNode, Iri, Literal, Quad, quad_to_nquads
from ec_issuer.jsonld.rdfc import canonicalize

SUITE = Path(__file__).resolve().parent.parent / "fixtures" / "rdf-canon"
EVAL = "rdfc:RDFC10EvalTest"
MAP = "rdfc:RDFC10MapTest"
NEGATIVE = "rdfc:RDFC10NegativeEvalTest"


def entries(kind: str) -> list[Any]:
    manifest = json.loads((SUITE / "manifest.jsonld").read_text(encoding="utf-8"))
    return [pytest.param(entry, id=entry["id"].lstrip("#")) for entry in manifest["entries"] if entry["type"] == kind]


def read(relative: str) -> str:
    return (SUITE / relative).read_text(encoding="utf-8")


def hash_algorithm(entry: dict[str, Any]) -> str:
    return str(entry.get("hashAlgorithm", "SHA256")).lower()


def test_the_manifest_is_complete() -> None:
    assert (len(entries(EVAL)), len(entries(MAP)), len(entries(NEGATIVE))) == (64, 21, 1)


@pytest.mark.parametrize("entry", entries(EVAL))
def test_evaluation(entry: dict[str, Any]) -> None:
    result = canonicalize(parse_nquads(read(entry["action"])), hash_algorithm=hash_algorithm(entry))
    assert result.nquads == read(entry["result"])


@pytest.mark.parametrize("entry", entries(MAP))
def test_blank_node_map(entry: dict[str, Any]) -> None:
    result = canonicalize(parse_nquads(read(entry["action"])), hash_algorithm=hash_algorithm(entry))
    assert result.issued == json.loads(read(entry["result"]))


@pytest.mark.parametrize("entry", entries(NEGATIVE))
def test_poison_graph_is_refused_quickly(entry: dict[str, Any]) -> None:
    started = time.monotonic()
    with pytest.raises(WorkLimitExceeded, match="poison"):
        canonicalize(parse_nquads(read(entry["action"])), hash_algorithm=hash_algorithm(entry))
    assert time.monotonic() - started < 3


def test_canonical_escaping_of_literals() -> None:
    # RDFC-1.0: ECHAR for BS, TAB, LF, FF, CR, quote and backslash; \uXXXX (upper case) for other controls.
    quad = Quad(Iri("urn:s"), Iri("urn:p"), Literal('a\b\t\n\f\r"\\\x00\x07\x1f\x7f\u00e9'))
    assert quad_to_nquads(quad) == '<urn:s> <urn:p> "a\\b\\t\\n\\f\\r\\"\\\\\\u0000\\u0007\\u001F\\u007F\u00e9" .\n'


def test_duplicate_quads_count_once() -> None:
    quad = Quad(BlankNode("x"), Iri("urn:p"), Literal("v"))
    assert canonicalize([quad, quad]).nquads == '_:c14n0 <urn:p> "v" .\n'


def test_the_reader_refuses_what_is_not_n_quads() -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_nquads("<urn:s> <urn:p> .\n")
