"""Bounds on the work one document may cause, so a hostile input is refused instead of hanging a worker.

Canonicalization is superlinear in the worst case (RDFC-1.0 is exponential on "poison" graphs of
indistinguishable blank nodes) and JSON-LD expansion recurses once per nesting level, so every stage
is fenced: the JSON is measured before any JSON-LD processing, the RDF before canonicalization, and
canonicalization counts its own steps. A wall-clock budget is checked between and inside the stages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ec_issuer.core.errors import FieldError, InvalidInput


@dataclass(frozen=True, slots=True)
class ProcessingLimits:
    # A typical OB 3.0 credential has ~100 JSON values, depth 6, ~75 quads and ~10 blank nodes; these
    # leave room for large transcripts while keeping the worst case well under the time budget.
    max_json_values: int = 50_000
    max_total_characters: int = 4_000_000  # keys and strings together
    max_depth: int = 48
    max_quads: int = 20_000
    max_blank_nodes: int = 2_000
    # Steps of the RDFC-1.0 "Hash N-Degree Quads" search (calls plus permutations tried). Every test of
    # the W3C RDFC-1.0 suite needs at most 3,348; the 10-node clique poison graph needs millions.
    max_canonicalization_steps: int = 20_000
    time_budget_seconds: float = 2.0


DEFAULT_LIMITS = ProcessingLimits()


class WorkLimitExceeded(InvalidInput):
    """The document would take more work than the limits allow; it is refused, not processed."""


def too_much(detail: str, pointer: str = "") -> WorkLimitExceeded:
    return WorkLimitExceeded(detail, [FieldError(pointer, detail)])


class Deadline:
    """A wall-clock budget for one document; `check` raises once it is spent."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seconds = seconds
        self._ends_at = clock() + seconds

    def extend(self, seconds: float) -> None:
        """Give back time the document spent waiting rather than working (e.g. for a lock)."""
        self._ends_at += seconds

    def check(self, stage: str) -> None:
        if self._clock() > self._ends_at:
            raise too_much(f"processing took longer than {self._seconds:g} s ({stage}); the document is too complex")
