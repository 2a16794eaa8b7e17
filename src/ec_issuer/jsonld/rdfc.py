"""RDF Dataset Canonicalization (RDFC-1.0, W3C Recommendation 2024-05-21), with bounded work.

Written here rather than taken from a library because none of the Python canonicalizers bounds its work:
pyld, pyoxigraph and rdfcanon all run without end on the suite's poison graph (test074c), and pyoxigraph's
native code cannot be interrupted. This one counts the steps of the only superlinear part, the
"Hash N-Degree Quads" search, and checks the time budget while it runs. It passes every evaluation and
map test of the W3C RDFC-1.0 suite (tests/unit/test_jsonld_rdfc_suite.py).

Section numbers below refer to https://www.w3.org/TR/rdf-canon/.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ec_issuer.jsonld.limits import DEFAULT_LIMITS, Deadline, ProcessingLimits, too_much
from ec_issuer.jsonld.rdf import BlankNode, Quad, quad_to_nquads, term_to_nquads


class _Digest(Protocol):
    def hexdigest(self) -> str: ...


# RDFC-1.0 uses SHA-256 unless told otherwise; the suite also tests SHA-384 (test075c).
HASH_ALGORITHMS: dict[str, Callable[[bytes], _Digest]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
}


@dataclass(frozen=True, slots=True)
class CanonicalDataset:
    nquads: str  # canonical N-Quads: sorted lines, each ending in a newline
    issued: dict[str, str]  # input blank node label -> canonical label (c14n0, c14n1, ...)


@dataclass(slots=True)
class _IdentifierIssuer:
    """Section 4.3: issues prefix0, prefix1, ... in order, remembering the order of issue."""

    prefix: str
    issued: dict[str, str] = field(default_factory=dict[str, str])

    def issue(self, existing: str) -> str:
        label = self.issued.get(existing)
        if label is None:
            label = f"{self.prefix}{len(self.issued)}"
            self.issued[existing] = label
        return label

    def copy(self) -> _IdentifierIssuer:
        return _IdentifierIssuer(self.prefix, dict(self.issued))


def canonicalize(
    quads: Iterable[Quad],
    *,
    hash_algorithm: str = "sha256",
    limits: ProcessingLimits = DEFAULT_LIMITS,
    deadline: Deadline | None = None,
) -> CanonicalDataset:
    """Canonicalize a dataset; duplicate quads count once (a dataset is a set)."""
    unique = list(dict.fromkeys(quads))
    return _Canonicalizer(unique, HASH_ALGORITHMS[hash_algorithm], limits, deadline).run()


class _Canonicalizer:
    def __init__(
        self,
        quads: list[Quad],
        hash_function: Callable[[bytes], _Digest],
        limits: ProcessingLimits,
        deadline: Deadline | None,
    ) -> None:
        self._quads = quads
        self._hash_function = hash_function
        self._limits = limits
        self._deadline = deadline or Deadline(limits.time_budget_seconds)
        self._steps = 0
        self._canonical = _IdentifierIssuer("c14n")
        self._quads_of: dict[str, list[Quad]] = defaultdict(list)
        self._first_degree: dict[str, str] = {}

    def run(self) -> CanonicalDataset:
        # 4.4.3 step 2: which quads mention each blank node
        for quad in self._quads:
            for label in dict.fromkeys(quad.blank_nodes()):
                self._quads_of[label].append(quad)
        if len(self._quads_of) > self._limits.max_blank_nodes:
            raise too_much(
                f"the document has {len(self._quads_of)} blank nodes; at most {self._limits.max_blank_nodes}"
            )

        # step 3: group blank nodes by their first-degree hash
        by_hash: dict[str, list[str]] = defaultdict(list)
        for label in self._quads_of:
            by_hash[self._hash_first_degree(label)].append(label)

        # step 4: nodes with a unique first-degree hash are named in hash order
        shared: list[tuple[str, list[str]]] = []
        for digest in sorted(by_hash):
            labels = by_hash[digest]
            if len(labels) == 1:
                self._canonical.issue(labels[0])
            else:
                shared.append((digest, labels))

        # step 5: the others are told apart by their neighbourhoods
        for _digest, labels in shared:
            results: list[tuple[str, _IdentifierIssuer]] = []
            for label in labels:
                if label in self._canonical.issued:
                    continue
                temporary = _IdentifierIssuer("b")
                temporary.issue(label)
                results.append(self._hash_n_degree(label, temporary))
            for _result_hash, issuer in sorted(results, key=lambda result: result[0]):
                for existing in issuer.issued:
                    self._canonical.issue(existing)

        # step 6: relabel and sort
        lines = sorted(quad_to_nquads(quad, self._canonical.issued) for quad in self._quads)
        return CanonicalDataset("".join(lines), dict(self._canonical.issued))

    def _hash(self, text: str) -> str:
        return self._hash_function(text.encode("utf-8")).hexdigest()

    def _hash_first_degree(self, reference: str) -> str:
        """4.6: the node's own quads, itself written _:a and every other blank node _:z."""
        cached = self._first_degree.get(reference)
        if cached is not None:
            return cached
        lines: list[str] = []
        for quad in self._quads_of[reference]:
            relabel = {label: ("a" if label == reference else "z") for label in quad.blank_nodes()}
            lines.append(quad_to_nquads(quad, relabel))
        digest = self._hash("".join(sorted(lines)))
        self._first_degree[reference] = digest
        return digest

    def _hash_related(self, related: str, quad: Quad, issuer: _IdentifierIssuer, position: str) -> str:
        """4.7: a neighbour's hash, as seen from one quad."""
        if related in self._canonical.issued:
            identifier = "_:" + self._canonical.issued[related]
        elif related in issuer.issued:
            identifier = "_:" + issuer.issued[related]
        else:
            identifier = self._hash_first_degree(related)
        text = position
        if position != "g":
            text += term_to_nquads(quad.predicate)
        return self._hash(text + identifier)

    def _count_step(self) -> None:
        self._steps += 1
        if self._steps > self._limits.max_canonicalization_steps:
            raise too_much(
                "the document's blank nodes are too symmetric to canonicalize within "
                f"{self._limits.max_canonicalization_steps} steps (a poison graph?)"
            )
        if self._steps % 64 == 0:
            self._deadline.check("canonicalization")

    def _hash_n_degree(self, identifier: str, issuer: _IdentifierIssuer) -> tuple[str, _IdentifierIssuer]:
        """4.8: explore the neighbourhood, choosing the lexically least path over permutations."""
        self._count_step()
        related_by_hash: dict[str, list[str]] = defaultdict(list)
        for quad in self._quads_of[identifier]:
            for position, term in (("s", quad.subject), ("o", quad.object), ("g", quad.graph)):
                if isinstance(term, BlankNode) and term.label != identifier:
                    related_by_hash[self._hash_related(term.label, quad, issuer, position)].append(term.label)

        data_to_hash = ""
        for related_hash in sorted(related_by_hash):
            data_to_hash += related_hash
            chosen_path = ""
            chosen_issuer: _IdentifierIssuer | None = None
            for permutation in itertools.permutations(related_by_hash[related_hash]):
                self._count_step()
                outcome = self._try_permutation(permutation, issuer, chosen_path)
                if outcome is not None and (not chosen_path or outcome[0] < chosen_path):
                    chosen_path, chosen_issuer = outcome
            data_to_hash += chosen_path
            if chosen_issuer is not None:
                issuer = chosen_issuer
        return self._hash(data_to_hash), issuer

    def _try_permutation(
        self, permutation: Sequence[str], issuer: _IdentifierIssuer, chosen_path: str
    ) -> tuple[str, _IdentifierIssuer] | None:
        """4.8.3 step 5.4: the path one ordering of the related nodes gives, or None once it cannot win."""
        issuer_copy = issuer.copy()
        path = ""
        recursion: list[str] = []
        for related in permutation:
            if related in self._canonical.issued:
                path += "_:" + self._canonical.issued[related]
            else:
                if related not in issuer_copy.issued:
                    recursion.append(related)
                path += "_:" + issuer_copy.issue(related)
            if _cannot_win(path, chosen_path):
                return None
        for related in recursion:
            result_hash, result_issuer = self._hash_n_degree(related, issuer_copy)
            path += "_:" + issuer_copy.issue(related)
            path += "<" + result_hash + ">"
            issuer_copy = result_issuer
            if _cannot_win(path, chosen_path):
                return None
        return path, issuer_copy


def _cannot_win(path: str, chosen_path: str) -> bool:
    return bool(chosen_path) and len(path) >= len(chosen_path) and path > chosen_path
