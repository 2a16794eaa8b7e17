"""Safe mode: refuse a document whose signed meaning would differ from what its JSON says.

JSON-LD processors disagree on what to do with undefined terms and relative IRIs (jsonld.js in safe mode
throws, pyld invents a base IRI, pyoxigraph drops the triple), so signing such a document produces a proof
that other verifiers cannot reproduce. Before anything is signed or verified we therefore refuse:

- members that expansion drops (undefined terms, keys that look like keywords, terms mapped to null),
- IRIs that were relative (types, `@id`s, values coerced to IRIs) or that N-Quads cannot carry,
- JSON that is not plain JSON data (non-string keys, NaN, integers beyond 2^53 that JavaScript verifiers
  would round), and, for signing, the control characters `core.validation` refuses on input: C0 controls
  and DEL are escaped differently by URDNA2015-era canonicalizers (pyld, older jsonld.js) than by RDFC-1.0,
  so a proof over them fails at those verifiers. Our canonicalizer is conformant, so verification accepts them.

Every finding is reported as an `InvalidInput` field error with a JSON Pointer to the offending member.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from math import isfinite
from typing import Any, cast

from ec_issuer.core.encoding import JsonObject
from ec_issuer.core.errors import FieldError, InvalidInput, pointer_from_path
from ec_issuer.jsonld.limits import ProcessingLimits, too_much
from ec_issuer.jsonld.processor import RELATIVE_IRI_BASE, Conversion
from ec_issuer.jsonld.rdf import BlankNode, Iri, Literal, Quad

MAX_FINDINGS = 20  # enough to fix a document; bounds the work of locating them
_SAFE_INTEGER = 2**53 - 1  # beyond it JavaScript processors round, and the canonical form changes
# C0 controls except TAB/LF/CR, DEL and C1 (as core.validation); TAB/LF/CR escape alike everywhere.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Characters an N-Quads IRIREF cannot hold (RDF 1.1 N-Quads, production [10] IRIREF).
_NOT_IN_IRI = re.compile(r"[\x00-\x20<>\"{}|^`\\]")

_ID_OR_VALUE = frozenset({"id", "@id", "@value"})

Path = tuple[str | int, ...]


def check_json(document: JsonObject, limits: ProcessingLimits, *, reject_control_characters: bool) -> None:
    """Measure and vet the JSON before any JSON-LD processing: size and depth (`WorkLimitExceeded`),
    then content (`InvalidInput`). Iterative, so deep nesting cannot exhaust the Python stack."""
    findings: list[FieldError] = []
    size = _Size(limits)
    stack: list[tuple[Any, Path]] = [(document, ())]
    while stack and len(findings) < MAX_FINDINGS:
        value, path = stack.pop()
        size.count_value(path)
        if isinstance(value, dict):
            members = cast(dict[Any, Any], value)
            size.count_object(members)
            for key, member in members.items():
                if not isinstance(key, str):
                    findings.append(FieldError(pointer_from_path(path), f"member name {key!r} is not a string"))
                    continue
                size.count_text(key)
                if reject_control_characters:
                    _check_text(key, (*path, key), findings, "member name")
                stack.append((member, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(cast(list[Any], value)))
        elif isinstance(value, str):
            size.count_text(value)
            if reject_control_characters:
                _check_text(value, path, findings, "value")
        else:
            _check_scalar(value, path, findings)
    _raise_if_any(findings)


class _Size:
    def __init__(self, limits: ProcessingLimits) -> None:
        self._limits = limits
        self._values = 0
        self._characters = 0
        self._anonymous_objects = 0  # objects without an id: each becomes a blank node (value objects aside)

    def count_value(self, path: Path) -> None:
        self._values += 1
        if self._values > self._limits.max_json_values:
            raise too_much(f"the document has more than {self._limits.max_json_values} JSON values")
        if len(path) > self._limits.max_depth:
            raise too_much(f"the document nests deeper than {self._limits.max_depth} levels", pointer_from_path(path))

    def count_object(self, members: dict[Any, Any]) -> None:
        if _ID_OR_VALUE.isdisjoint(members):
            self._anonymous_objects += 1
            if self._anonymous_objects > self._limits.max_blank_nodes:
                limit = self._limits.max_blank_nodes
                raise too_much(f"the document has more than {limit} objects without an id (blank nodes)")

    def count_text(self, text: str) -> None:
        self._characters += len(text)
        if self._characters > self._limits.max_total_characters:
            raise too_much(f"the document has more than {self._limits.max_total_characters} characters of text")


def _check_scalar(value: Any, path: Path, findings: list[FieldError]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > _SAFE_INTEGER:
            findings.append(FieldError(pointer_from_path(path), "integer beyond ±(2^53-1) cannot be signed"))
    elif isinstance(value, float):
        if not isfinite(value):
            findings.append(FieldError(pointer_from_path(path), "NaN and infinities are not JSON"))
    else:
        findings.append(FieldError(pointer_from_path(path), f"{type(value).__name__} is not a JSON value"))


def _check_text(text: str, path: Path, findings: list[FieldError], what: str) -> None:
    match = _CONTROL.search(text)
    if match:
        findings.append(
            FieldError(pointer_from_path(path), f"{what} contains control character U+{ord(match.group()):04X}")
        )


def check_dropped(document: JsonObject, conversion: Conversion) -> None:
    """Refuse members the expansion dropped, pointing at each in the original document."""
    findings: list[FieldError] = []
    for dropped in conversion.dropped[:MAX_FINDINGS]:
        detail = _drop_reason(dropped.key)
        pointers = [pointer_from_path((*path, dropped.key)) for path in _paths_of_object(document, dropped.element)]
        findings.extend(FieldError(pointer, detail) for pointer in pointers or [""])
    if conversion.unexplained_drops and not findings:
        findings.append(FieldError("", "a member does not map to an absolute IRI and would not be signed"))
    _raise_if_any(findings[:MAX_FINDINGS])


def _drop_reason(key: str) -> str:
    if key.startswith("@"):
        return f"{key!r} is not a JSON-LD keyword; the member would not be signed"
    return f"term {key!r} is not defined by the document's @context; the member would not be signed"


def check_quads(document: JsonObject, quads: list[Quad], limits: ProcessingLimits) -> None:
    """Refuse relative IRIs and IRIs N-Quads cannot carry, pointing at the strings they came from."""
    if len(quads) > limits.max_quads:
        raise too_much(f"the document makes {len(quads)} RDF statements; at most {limits.max_quads}")
    bad: dict[str, str] = {}
    for quad in quads:
        for iri in _iris(quad):
            if iri.startswith(RELATIVE_IRI_BASE):
                original = iri[len(RELATIVE_IRI_BASE) :]
                bad.setdefault(original, f"{original!r} is a relative IRI reference (or an undefined type)")
            elif _NOT_IN_IRI.search(iri):
                bad.setdefault(iri, f"{iri!r} is not a valid IRI")
        if len(bad) >= MAX_FINDINGS:
            break
    findings: list[FieldError] = []
    for text, detail in bad.items():
        pointers = [pointer_from_path(path) for path in _paths_of_string(document, text)]
        findings.extend(FieldError(pointer, detail) for pointer in pointers[:MAX_FINDINGS] or [""])
    _raise_if_any(findings[:MAX_FINDINGS])


def _iris(quad: Quad) -> Iterator[str]:
    for term in (quad.subject, quad.predicate, quad.object, quad.graph):
        if isinstance(term, Iri):
            yield term.value
        elif isinstance(term, Literal):
            yield term.datatype
        elif isinstance(term, BlankNode) or term is None:
            continue


def _raise_if_any(findings: list[FieldError]) -> None:
    if findings:
        summary = "; ".join(f"{f.pointer or '/'}: {f.detail}" for f in findings[:3])
        more = f" (and {len(findings) - 3} more)" if len(findings) > 3 else ""
        raise InvalidInput(f"the document is not safe to sign: {summary}{more}", findings)


def _walk(value: Any, path: Path = ()) -> Iterator[tuple[Any, Path]]:
    stack: list[tuple[Any, Path]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        yield current, where
        if isinstance(current, dict):
            stack.extend((member, (*where, key)) for key, member in cast(JsonObject, current).items())
        elif isinstance(current, list):
            stack.extend((item, (*where, index)) for index, item in enumerate(cast(list[Any], current)))


def _paths_of_object(document: JsonObject, element: JsonObject) -> list[Path]:
    """Where objects equal to `element` sit (the expansion works on a copy, so identity is lost)."""
    found = [path for value, path in _walk(document) if isinstance(value, dict) and value == element]
    return sorted(found, key=pointer_from_path)[:MAX_FINDINGS]


_IRI_MEMBERS = frozenset({"id", "@id", "type", "@type"})


def _paths_of_string(document: JsonObject, text: str) -> list[Path]:
    """Where a string appears as a value, members named id/type first (an IRI may also come from a
    member the context coerces to `@id`). Resolution may have normalised it (`./a` -> `a`): then nothing
    is found and the caller points at the whole document."""
    found = [
        path
        for value, path in _walk(document)
        if isinstance(value, str) and value == text and path and "@context" not in path
    ]
    named = [path for path in found if _IRI_MEMBERS.intersection(p for p in path[-2:] if isinstance(p, str))]
    return sorted(named or found, key=pointer_from_path)[:MAX_FINDINGS]
