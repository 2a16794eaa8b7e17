"""Offline SHACL validation of European Digital Credentials against the EDC application profile 1.2.0.

Europass checks the format of an uploaded file with the SHACL shapes named in its `credentialSchema`
(`edc-generic-full`); we run the same shapes, vendored, before sealing. The JSON-LD document goes to RDF
through our own JSON-LD processor (vendored contexts only, with the safe-mode checks), so nothing is
fetched and no member is silently dropped.

Two traps are closed here:
- A vacuous pass. SHACL only checks nodes its shapes target; a document whose `type` is missing (or whose
  terms expand into another ELM release's namespace) has no target and "conforms". We require exactly one
  node typed `EuropeanDigitalCredential`.
- Cost. Building pySHACL's shapes objects from the ~4,700 shape triples takes about a third of a
  validation, so the parsed shapes graph is built once per process and reused; calls are serialised
  because pySHACL keeps per-shape caches that are not thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any, cast

from pyshacl import Validator  # pyright: ignore[reportMissingTypeStubs]
from pyshacl.graph_abstraction import DataGraph  # pyright: ignore[reportMissingTypeStubs]
from pyshacl.shapes_graph import ShapesGraph  # pyright: ignore[reportMissingTypeStubs]
from rdflib import BNode, Graph, URIRef
from rdflib import Literal as RdfLiteral
from rdflib.namespace import RDF, SH
from rdflib.term import Node

from ec_issuer.core.encoding import JsonObject
from ec_issuer.jsonld.limits import DEFAULT_LIMITS, Deadline
from ec_issuer.jsonld.processor import to_rdf
from ec_issuer.jsonld.rdf import BlankNode, Iri, Literal
from ec_issuer.jsonld.safe_mode import check_dropped, check_json, check_quads

EDC_CLASS = "http://data.europa.eu/snb/model/elm/EuropeanDigitalCredential"
GENERIC_FULL_PROFILE = "http://data.europa.eu/snb/model/ap/edc-generic-full"
_SHAPE_FILES = ("EDC-generic-full.ttl", "EDC-generic-no-cv.ttl")  # the full profile and what it imports
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ShapeViolation:
    focus_node: str
    path: str | None
    message: str
    shape: str | None = None

    def describe(self) -> str:
        where = f"{self.focus_node} {self.path}" if self.path else self.focus_node
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ShapeReport:
    violations: tuple[ShapeViolation, ...]
    credential_nodes: int  # nodes typed EuropeanDigitalCredential; anything but 1 is a vacuous pass

    @property
    def conforms(self) -> bool:
        return not self.violations


@cache
def _shapes() -> ShapesGraph:
    folder = resources.files("ec_issuer.resources").joinpath("elm/shapes-ap-1.2.0")
    graph = Graph()
    for name in _SHAPE_FILES:
        graph.parse(data=folder.joinpath(name).read_text(encoding="utf-8"), format="turtle")
    return ShapesGraph(graph)


def warm_up() -> None:
    """Parse the shapes now (about 0.15 s) rather than in the first request that needs them."""
    with _lock:
        _shapes()


def check_credential(document: JsonObject, deadline_seconds: float = 10.0) -> ShapeReport:
    """Validate an (unsealed) EDC document. Raises `InvalidInput` when it is not processable JSON-LD
    (unknown context, dropped members, too large); shape violations are reported, not raised."""
    # The page image makes a real EDC a few hundred kilobytes of base64: allow for it, keep the other bounds.
    limits = replace(DEFAULT_LIMITS, max_total_characters=12_000_000, time_budget_seconds=deadline_seconds)
    check_json(document, limits, reject_control_characters=False)
    conversion = to_rdf(document, Deadline(limits.time_budget_seconds))
    check_dropped(document, conversion)
    check_quads(document, conversion.quads, limits)
    data = Graph()
    for quad in conversion.quads:
        data.add((_node(quad.subject), URIRef(quad.predicate.value), _object(quad.object)))
    return check_graph(data)


def check_graph(data: Graph) -> ShapeReport:
    with _lock:
        validator = Validator(
            DataGraph.from_rdflib(data),  # pyright: ignore[reportUnknownMemberType]
            shacl_graph=Graph(),
            options={"inference": "none", "advanced": True, "inplace": True},
        )
        validator.shacl_graph = _shapes()
        conforms, report, _text = cast(tuple[bool, Graph, str], validator.run())  # pyright: ignore[reportUnknownMemberType]
    violations = [] if conforms else _violations(report)
    credential_nodes = len(set(data.subjects(RDF.type, URIRef(EDC_CLASS))))
    if credential_nodes != 1:
        violations.append(
            ShapeViolation(
                "(document)",
                None,
                f"expected exactly one node typed {EDC_CLASS}, found {credential_nodes}: "
                "the shapes would not have checked anything",
            )
        )
    return ShapeReport(tuple(violations), credential_nodes)


def _violations(report: Graph) -> list[ShapeViolation]:
    found: list[ShapeViolation] = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        path = report.value(result, SH.resultPath)
        shape = report.value(result, SH.sourceShape)
        found.append(
            ShapeViolation(
                focus_node=_text(report.value(result, SH.focusNode)) or "(unknown)",
                path=_text(path),
                message=_text(report.value(result, SH.resultMessage)) or "constraint not met",
                shape=None if isinstance(shape, BNode) else _text(shape),
            )
        )
    return sorted(found, key=lambda v: (v.focus_node, v.path or "", v.message))


def _text(node: Node | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, BNode):
        return f"_:{node}"
    return str(node)


def _node(term: Iri | BlankNode) -> URIRef | BNode:
    return URIRef(term.value) if isinstance(term, Iri) else BNode(term.label)


def _object(term: Iri | BlankNode | Literal) -> URIRef | BNode | RdfLiteral:
    if isinstance(term, Literal):
        if term.language is not None:
            return RdfLiteral(term.value, lang=term.language)
        return RdfLiteral(term.value, datatype=URIRef(term.datatype))
    return _node(term)


def describe(violations: tuple[ShapeViolation, ...] | list[ShapeViolation]) -> list[dict[str, Any]]:
    return [{"focusNode": v.focus_node, "path": v.path, "message": v.message} for v in violations]
