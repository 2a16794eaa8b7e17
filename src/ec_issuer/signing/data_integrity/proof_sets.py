"""Proof sets and chains (VC Data Integrity 1.0, sections 4.2 and 4.5).

A document's `proof` holds one proof or several (a set). A proof that names `previousProof` is chained: it
signs the document together with the proofs it names, so they cannot be removed without breaking it.
Every other proof signs the document without any proof.
"""

from __future__ import annotations

from typing import Any, cast

from ec_issuer.core.encoding import JsonObject


def proofs_of(document: JsonObject) -> list[Any]:
    proof = document.get("proof")
    if proof is None:
        return []
    return list(cast(list[Any], proof)) if isinstance(proof, list) else [proof]


def without_proofs(document: JsonObject) -> JsonObject:
    return {name: value for name, value in document.items() if name != "proof"}


def previous_proof_ids(proof: JsonObject) -> list[str] | None:
    """The ids a proof chains to; None when `previousProof` is malformed."""
    previous = proof.get("previousProof")
    if previous is None:
        return []
    if isinstance(previous, str):
        return [previous]
    if isinstance(previous, list) and all(isinstance(item, str) for item in cast(list[Any], previous)):
        return cast(list[str], previous)
    return None


def matching_proofs(proofs: list[Any], ids: list[str]) -> tuple[list[JsonObject], list[str]]:
    """The proofs with the given ids (in the order named), and the ids no proof has."""
    by_id = {cast(JsonObject, p)["id"]: cast(JsonObject, p) for p in proofs if isinstance(p, dict) and "id" in p}
    found = [by_id[i] for i in ids if i in by_id]
    return found, [i for i in ids if i not in by_id]


def document_to_sign(unsecured: JsonObject, previous: list[JsonObject]) -> JsonObject:
    """What a proof covers: the document alone, or with the proofs it chains to as its `proof`."""
    return {**unsecured, "proof": previous} if previous else unsecured
