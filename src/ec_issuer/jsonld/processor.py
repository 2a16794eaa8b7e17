"""The one door to pyld, which is untyped: JSON-LD -> RDF, recording what expansion drops on the way.

pyld has no safe mode: it silently drops members whose keys do not expand to absolute IRIs, and resolves
relative IRIs against an invented base. So expansion here (a) notes every member it is about to drop,
by hooking the per-object step of pyld's expansion algorithm, and (b) uses a reserved base IRI, so any IRI
that was relative in the document is recognisable in the output. `safe_mode.py` turns both into errors.

The hooks use private pyld methods (`_expand_object`, and `_create_node_map` to check the time budget),
hence the pin to pyld 3.3.x in pyproject.toml; the safe-mode and hostile-input tests fail loudly if an
upgrade moves them, and pyld's public `on_property_dropped` callback
is kept as a backstop that still refuses the document (without a pointer). Expansion and conversion to RDF
are one pyld call, so the document is expanded once.

pyld is pure Python and keeps mutable caches, so calls are serialised with a lock. Under the GIL that
costs no throughput: two threads could not run pyld at the same time anyway.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast

from pyld import jsonld  # pyright: ignore[reportMissingTypeStubs]

from ec_issuer.core.encoding import JsonObject
from ec_issuer.core.errors import FieldError, InvalidInput
from ec_issuer.jsonld.contexts import context_document, vendored_urls
from ec_issuer.jsonld.limits import Deadline
from ec_issuer.jsonld.rdf import BlankNode, GraphName, Iri, Literal, Object, Quad, Subject

# Reserved (RFC 2606 .invalid) so that no real document uses it: an IRI starting with it was relative.
RELATIVE_IRI_BASE = "https://relative-iri.invalid/"
_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+\-.]*|_):[^\s]*$")  # pyld's own test, for the same verdicts
_KEYWORDS = frozenset(jsonld.KEYWORDS)
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class DroppedMember:
    """A member the expansion left out. `element` is an equal copy of the JSON object that holds it."""

    element: JsonObject
    key: str


@dataclass(slots=True)
class Conversion:
    quads: list[Quad]
    dropped: list[DroppedMember] = field(default_factory=list[DroppedMember])
    unexplained_drops: int = 0  # drops pyld reported that the hook did not see (should stay 0)


class _SharedContextCache(dict[str, Any]):
    """pyld's process-wide cache of resolved contexts. Besides the vendored URLs it holds inline contexts
    (keyed by their canonical JSON), among them the type-scoped contexts of OB 3.0, which are most of the
    win; a cap keeps hostile documents with ever-new inline contexts from growing it without bound."""

    MAX_INLINE = 1024

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self or key in vendored_urls() or len(self) < self.MAX_INLINE:
            super().__setitem__(key, value)


_resolved_contexts = _SharedContextCache()


def _load_context(url: str, _options: object) -> dict[str, Any]:
    # `tag: static` is what lets pyld keep the resolved context in the shared cache across calls.
    return {"contextUrl": None, "documentUrl": url, "document": context_document(url), "tag": "static"}


class _RecordingProcessor(jsonld.JsonLdProcessor):  # pyright: ignore[reportUntypedBaseClass]
    def __init__(self, conversion: Conversion, deadline: Deadline) -> None:
        super().__init__(on_property_dropped=self._backstop)
        self._conversion = conversion
        self._deadline = deadline
        self._steps = 0
        self._seen_drops = 0

    def _tick(self, stage: str) -> None:
        # pyld has no work bound of its own, and some of its steps are quadratic (the node map compares
        # each new value with all earlier ones of the same property), so the budget is checked as it runs.
        self._steps += 1
        if self._steps % 16 == 0:
            self._deadline.check(stage)

    def _backstop(self, _expanded_property: object) -> None:
        self._seen_drops += 1
        if self._seen_drops > len(self._conversion.dropped):
            self._conversion.unexplained_drops += 1

    def _expand_object(  # pyright: ignore[reportImplicitOverride]
        self, active_ctx: Any, active_property: Any, expanded_active_property: Any, element: Any, *rest: Any, **kw: Any
    ) -> Any:
        self._tick("JSON-LD expansion")
        for key in cast(dict[str, Any], element):
            if key != "@context" and self._would_drop(active_ctx, key):
                self._conversion.dropped.append(DroppedMember(cast(JsonObject, element), key))
        return cast(
            Any,
            super()._expand_object(  # pyright: ignore[reportUnknownMemberType]
                active_ctx, active_property, expanded_active_property, element, *rest, **kw
            ),
        )

    def _create_node_map(self, *args: Any, **kw: Any) -> Any:  # pyright: ignore[reportImplicitOverride]
        self._tick("conversion to RDF")
        return cast(Any, super()._create_node_map(*args, **kw))  # pyright: ignore[reportUnknownMemberType]

    def _would_drop(self, active_ctx: Any, key: str) -> bool:
        expanded = cast(str | None, self._expand_iri(active_ctx, key, vocab=True))  # pyright: ignore[reportUnknownMemberType]
        if expanded is None:
            return True
        if expanded in _KEYWORDS:
            return False
        # A blank-node "IRI" is not a valid predicate: RDF conversion would drop it too.
        return expanded.startswith("_:") or not _ABSOLUTE_IRI.match(expanded)


def _options() -> dict[str, Any]:
    return {
        "base": RELATIVE_IRI_BASE,
        "documentLoader": _load_context,
        "contextResolver": jsonld.ContextResolver(_resolved_contexts, _load_context),
        "processingMode": "json-ld-1.1",
    }


def to_rdf(document: JsonObject, deadline: Deadline) -> Conversion:
    """The RDF dataset of a JSON-LD document (JSON-LD 1.1 "Deserialize JSON-LD to RDF", expansion included),
    with the vendored contexts only, and the members expansion dropped. Raises `InvalidInput` when a context
    is not vendored or the document is not valid JSON-LD, `WorkLimitExceeded` when `deadline` passes."""
    conversion = Conversion([])
    waiting_since = time.monotonic()
    try:
        with _lock:
            # Time spent queueing behind another document is not this document's work.
            deadline.extend(time.monotonic() - waiting_since)
            dataset = cast(Any, _RecordingProcessor(conversion, deadline).to_rdf(document, _options()))  # pyright: ignore[reportUnknownMemberType]
    except jsonld.JsonLdError as exc:  # pyright: ignore[reportUnknownMemberType]
        raise _domain_error(cast(Exception, exc)) from None
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        # pyld assumes well-formed JSON-LD in places and fails with Python errors instead of its own.
        detail = f"not valid JSON-LD ({type(exc).__name__} in the JSON-LD processor)"
        raise InvalidInput(detail, [FieldError("", detail)]) from None
    for graph_name, triples in cast(dict[str, list[dict[str, dict[str, str]]]], dataset).items():
        graph: GraphName = None if graph_name == "@default" else _node(graph_name)
        for triple in triples:
            subject = cast(Subject, _term(triple["subject"]))
            predicate = cast(Iri, _term(triple["predicate"]))
            conversion.quads.append(Quad(subject, predicate, _term(triple["object"]), graph))
    return conversion


def _node(value: str) -> Iri | BlankNode:
    return BlankNode(value[2:]) if value.startswith("_:") else Iri(value)


def _term(term: dict[str, str]) -> Object:
    if term["type"] == "literal":
        return Literal(term["value"], term["datatype"], term.get("language"))
    return _node(term["value"])


def _domain_error(error: Exception) -> InvalidInput:
    """pyld wraps the loader's error (and others) in its own; surface ours, describe the rest."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, InvalidInput):
            return cause
        cause = cause.__cause__ or cause.__context__
    messages: list[str] = []
    cause = error
    while cause is not None and len(messages) < 3:
        messages.append(str(cause.args[0]) if cause.args else type(cause).__name__)
        cause = cause.__cause__
    code = getattr(error, "code", None)
    detail = "not valid JSON-LD: " + " / ".join(messages) + (f" ({code})" if code else "")
    pointer = "/@context" if code and "context" in str(code) else ""
    return InvalidInput(detail, [FieldError(pointer, detail)])
