"""What a Data Integrity proof signs: SHA-256(canonical proof configuration) || SHA-256(canonical document).

The proof configuration is the proof without `proofValue`, under the document's `@context`. Its hash depends
on nothing else, and while issuing, consecutive credentials share it (same key, suite, purpose, context and
`created` second), so it is memoised: about a third of the work of a proof, by the python-stack measurements.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from ec_issuer.core.encoding import JsonObject, dumps_canonical, loads_object
from ec_issuer.jsonld.canonical import canonical_nquads
from ec_issuer.jsonld.limits import DEFAULT_LIMITS, ProcessingLimits


def proof_configuration(proof: JsonObject, document_context: Any) -> JsonObject:
    config = {name: value for name, value in proof.items() if name not in ("proofValue", "@context")}
    config["@context"] = document_context
    return config


def hash_data(
    document: JsonObject,
    config: JsonObject,
    *,
    signing: bool,
    limits: ProcessingLimits = DEFAULT_LIMITS,
) -> bytes:
    """The 64 bytes to sign or verify. `signing` refuses control characters (see `jsonld.safe_mode`);
    raises `InvalidInput` for anything safe mode or the limits refuse."""
    return proof_configuration_hash(config, signing=signing, limits=limits) + document_hash(
        document, signing=signing, limits=limits
    )


def document_hash(document: JsonObject, *, signing: bool, limits: ProcessingLimits = DEFAULT_LIMITS) -> bytes:
    return _hash_nquads(canonical_nquads(document, reject_control_characters=signing, limits=limits))


def proof_configuration_hash(config: JsonObject, *, signing: bool, limits: ProcessingLimits = DEFAULT_LIMITS) -> bytes:
    # Keyed by sorted-key JSON: equal JSON means equal JSON-LD, so equal canonical N-Quads.
    try:
        key = dumps_canonical(config)
    except TypeError:  # not plain JSON (e.g. a huge integer): let safe mode say what is wrong, uncached
        return _hash_nquads(canonical_nquads(config, reject_control_characters=signing, limits=limits))
    return _memoised_configuration_hash(key, signing, limits)


@lru_cache(maxsize=1024)
def _memoised_configuration_hash(config_json: bytes, signing: bool, limits: ProcessingLimits) -> bytes:
    return _hash_nquads(canonical_nquads(loads_object(config_json), reject_control_characters=signing, limits=limits))


def _hash_nquads(nquads: str) -> bytes:
    return hashlib.sha256(nquads.encode("utf-8")).digest()
