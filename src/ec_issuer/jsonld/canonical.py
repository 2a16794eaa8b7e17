"""JSON-LD document -> canonical N-Quads (RDFC-1.0), in safe mode and within bounded work.

This is what Data Integrity cryptosuites hash. The stages, each fenced by `ProcessingLimits`:

1. vet the JSON (size, depth, plain JSON values, control characters when signing),
2. expand and convert to RDF with the vendored contexts only, refusing dropped members, relative IRIs
   and IRIs N-Quads cannot carry,
3. canonicalize with RDFC-1.0 (`rdfc.py`), counting steps.

pyld does 2 (JSON-LD 1.1 conformant, offline loader); canonicalization is ours because no Python
library bounds its work and pyld's own escapes control characters the pre-RDFC way.
"""

from __future__ import annotations

from ec_issuer.core.encoding import JsonObject
from ec_issuer.jsonld import processor, safe_mode
from ec_issuer.jsonld.limits import DEFAULT_LIMITS, Deadline, ProcessingLimits
from ec_issuer.jsonld.rdfc import canonicalize


def canonical_nquads(
    document: JsonObject,
    *,
    reject_control_characters: bool,
    limits: ProcessingLimits = DEFAULT_LIMITS,
    deadline: Deadline | None = None,
) -> str:
    """Canonical N-Quads of `document`. Raises `InvalidInput` (with JSON Pointers) when the document is not
    safe to sign, names a context that is not vendored, or exceeds the limits (`WorkLimitExceeded`)."""
    deadline = deadline or Deadline(limits.time_budget_seconds)
    safe_mode.check_json(document, limits, reject_control_characters=reject_control_characters)
    conversion = processor.to_rdf(document, deadline)
    safe_mode.check_dropped(document, conversion)
    safe_mode.check_quads(document, conversion.quads, limits)
    deadline.check("JSON-LD to RDF")
    return canonicalize(conversion.quads, limits=limits, deadline=deadline).nquads
