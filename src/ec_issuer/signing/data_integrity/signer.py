"""Adding a Data Integrity proof (vc-di-eddsa / vc-di-ecdsa "Create Proof", VC Data Integrity "Add Proof").

Only the 64 bytes of hash data reach the `KeyCustody` port, so local keys, HSMs, Vault and KMS all work
(KMS signs Ed25519 inputs up to 4096 bytes). The key's algorithm picks the suite: EdDSA keys make
`eddsa-rdfc-2022` proofs, ES256 keys `ecdsa-rdfc-2019` proofs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from ec_issuer.core.encoding import JsonObject, format_datetime
from ec_issuer.core.errors import FieldError, InvalidInput
from ec_issuer.jsonld.limits import DEFAULT_LIMITS, ProcessingLimits
from ec_issuer.keys.model import SigningKey
from ec_issuer.keys.ports import KeyCustody
from ec_issuer.signing.data_integrity.hashing import hash_data, proof_configuration
from ec_issuer.signing.data_integrity.multibase import encode_base58btc
from ec_issuer.signing.data_integrity.proof_sets import document_to_sign, matching_proofs, proofs_of, without_proofs
from ec_issuer.signing.data_integrity.suites import DATA_INTEGRITY_PROOF, suite_for_algorithm

ASSERTION_METHOD = "assertionMethod"


def add_proof(
    document: JsonObject,
    key: SigningKey,
    custody: KeyCustody,
    *,
    created: datetime,
    proof_id: str | None = None,
    previous_proof: str | Sequence[str] | None = None,
    limits: ProcessingLimits = DEFAULT_LIMITS,
) -> JsonObject:
    """A copy of `document` with one more proof, by `key`, in its `proof` array.

    Existing proofs are kept (a proof set); `previous_proof` names existing proofs (by `id`) that the new
    one chains to. Raises `InvalidInput` (with JSON Pointers) when the document is not safe to sign, the
    issuer is not the key's controller, or a named previous proof does not exist.
    """
    suite = suite_for_algorithm(key.algorithm)
    _check_controller(document, key.kid)
    if "@context" not in document:
        raise _invalid("/@context", "a JSON-LD document needs an @context")
    existing = proofs_of(document)
    unsecured = without_proofs(document)
    previous_ids = [previous_proof] if isinstance(previous_proof, str) else list(previous_proof or [])
    previous, missing = matching_proofs(existing, previous_ids)
    if missing:
        raise _invalid("/proof", f"no existing proof has the id(s) named as previousProof: {', '.join(missing)}")

    proof: JsonObject = {"type": DATA_INTEGRITY_PROOF, "cryptosuite": suite.name}
    if proof_id is not None:
        proof["id"] = proof_id
    # Whole seconds: the W3C vectors and most issuers write `created` that way.
    proof["created"] = format_datetime(created.replace(microsecond=0))
    proof["verificationMethod"] = key.kid
    proof["proofPurpose"] = ASSERTION_METHOD
    if previous_proof is not None:
        proof["previousProof"] = previous_proof if isinstance(previous_proof, str) else list(previous_proof)

    signed = create_proof(document_to_sign(unsecured, previous), proof, key, custody, limits=limits)
    return {**unsecured, "proof": [*existing, signed]}


def create_proof(
    document: JsonObject,
    proof_options: JsonObject,
    key: SigningKey,
    custody: KeyCustody,
    *,
    limits: ProcessingLimits = DEFAULT_LIMITS,
) -> JsonObject:
    """The cryptosuite step alone: sign `document` (exactly as given, chained proofs included) under
    `proof_options` and return the proof with its `proofValue`. No issuer policy: see `add_proof`."""
    config = proof_configuration(proof_options, document["@context"])
    data = hash_data(document, config, signing=True, limits=limits)
    signature = custody.sign(key.key_ref, key.algorithm, data)
    return {**proof_options, "proofValue": encode_base58btc(signature)}


def _check_controller(document: JsonObject, kid: str) -> None:
    """The verification method must be a DID URL of the issuer's DID (did:key or did:web alike), so a
    verifier can tie the key to the issuer without trusting the document."""
    did, _, fragment = kid.partition("#")
    if not did.startswith("did:") or not fragment:
        raise _invalid("", f"key {kid!r} is not a DID URL with a fragment; it cannot be a verification method")
    issuer: Any = document.get("issuer")
    issuer_id = cast(JsonObject, issuer).get("id") if isinstance(issuer, dict) else issuer
    if issuer_id != did:
        pointer = "/issuer/id" if isinstance(issuer, dict) else "/issuer"
        raise _invalid(pointer, f"the issuer must be {did}, the controller of key {kid}")


def _invalid(pointer: str, detail: str) -> InvalidInput:
    return InvalidInput(detail, [FieldError(pointer, detail)])
