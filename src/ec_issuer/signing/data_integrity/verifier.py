"""Verifying the Data Integrity proofs of a document: each proof on its own, a negative answer never an
exception (as `credentials/verifying.py` does for `vc+jwt`).

A proof set verifies when at least one proof verifies and none of the proofs we support fails. Proofs of
types we do not know are reported and skipped: OB 3.0 verifiers accept a credential when one proof holds,
while a supported proof that fails means the document was altered. Chained proofs (`previousProof`) are
checked over the document plus the proofs they name, so removing or altering a named proof breaks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from ec_issuer.core.encoding import JsonObject, parse_datetime
from ec_issuer.core.errors import InvalidInput
from ec_issuer.core.vcdm import issuer_id as document_issuer
from ec_issuer.jsonld.limits import DEFAULT_LIMITS, ProcessingLimits
from ec_issuer.keys.resolution import KeyResolver, ResolvedKey
from ec_issuer.signing.data_integrity.hashing import document_hash, proof_configuration, proof_configuration_hash
from ec_issuer.signing.data_integrity.multibase import decode_base58btc
from ec_issuer.signing.data_integrity.proof_sets import (
    document_to_sign,
    matching_proofs,
    previous_proof_ids,
    proofs_of,
    without_proofs,
)
from ec_issuer.signing.data_integrity.signer import ASSERTION_METHOD
from ec_issuer.signing.data_integrity.suites import Cryptosuite, suite_for_proof

MAX_PROOFS = 16  # each proof costs a canonicalization; more than this is not a credential anyone issues


@dataclass(frozen=True, slots=True)
class ProofCheck:
    index: int
    verified: bool | None  # None: a proof type we do not support, skipped
    detail: str
    cryptosuite: str | None = None
    verification_method: str | None = None


@dataclass(frozen=True, slots=True)
class ProofSetVerification:
    verified: bool
    proofs: list[ProofCheck]

    @property
    def errors(self) -> list[str]:
        return [f"proof {p.index}: {p.detail}" for p in self.proofs if p.verified is False]


class _Refused(Exception):
    """One proof fails a check; the message says which."""


class DataIntegrityVerifier:
    def __init__(
        self,
        keys: KeyResolver,
        *,
        expected_purpose: str = ASSERTION_METHOD,
        limits: ProcessingLimits = DEFAULT_LIMITS,
    ) -> None:
        self._keys = keys
        self._purpose = expected_purpose
        self._limits = limits

    def verify(self, document: JsonObject, *, now: datetime | None = None) -> ProofSetVerification:
        """Check every proof of `document`. `now`, when given, also refuses proofs past their `expires`."""
        proofs = proofs_of(document)
        if not proofs:
            return ProofSetVerification(False, [ProofCheck(0, False, "the document has no proof")])
        if len(proofs) > MAX_PROOFS:
            return ProofSetVerification(False, [ProofCheck(0, False, f"more than {MAX_PROOFS} proofs")])
        document_hashes: dict[tuple[str, ...], bytes | InvalidInput] = {}
        checks = [
            self._check(index, proof, document, proofs, document_hashes, now) for index, proof in enumerate(proofs)
        ]
        verified = any(c.verified for c in checks) and not any(c.verified is False for c in checks)
        return ProofSetVerification(verified, checks)

    def _check(
        self,
        index: int,
        proof: Any,
        document: JsonObject,
        proofs: list[Any],
        document_hashes: dict[tuple[str, ...], bytes | InvalidInput],
        now: datetime | None,
    ) -> ProofCheck:
        if not isinstance(proof, dict):
            return ProofCheck(index, False, "a proof must be a JSON object")
        proof = cast(JsonObject, proof)
        suite = suite_for_proof(proof)
        if suite is None:
            return ProofCheck(
                index, None, f"unsupported proof type {proof.get('type')!r} / {proof.get('cryptosuite')!r}"
            )
        method = proof.get("verificationMethod")
        method = method if isinstance(method, str) else None
        try:
            self._verify_one(suite, proof, method, document, proofs, document_hashes, now)
        except _Refused as refused:
            return ProofCheck(index, False, str(refused), suite.name, method)
        return ProofCheck(index, True, f"valid {suite.name} proof", suite.name, method)

    def _verify_one(
        self,
        suite: Cryptosuite,
        proof: JsonObject,
        method: str | None,
        document: JsonObject,
        proofs: list[Any],
        document_hashes: dict[tuple[str, ...], bytes | InvalidInput],
        now: datetime | None,
    ) -> None:
        _check_members(suite, proof, document, self._purpose, now)
        signature = _signature(suite, proof)
        if method is None:
            raise _Refused("verificationMethod must be a string")
        key = self._key(suite, method, document)

        previous_ids = previous_proof_ids(proof)
        if previous_ids is None:
            raise _Refused("previousProof must be a string or an array of strings")
        previous, missing = matching_proofs(proofs, previous_ids)
        if missing:
            raise _Refused(f"previousProof names proof(s) not in the document: {', '.join(missing)}")

        unsecured = without_proofs(document)
        config = proof_configuration(proof, unsecured.get("@context"))
        doc_hash = _cached(
            document_hashes, tuple(previous_ids), self._hash_document, document_to_sign(unsecured, previous)
        )
        try:
            config_hash = proof_configuration_hash(config, signing=False, limits=self._limits)
        except InvalidInput as exc:
            raise _Refused(f"proof configuration cannot be canonicalized: {exc.detail}") from None
        if not suite.signature_matches(key.jwk, signature, config_hash + doc_hash):
            raise _Refused("the signature does not match the document and proof")

    def _hash_document(self, document: JsonObject) -> bytes:
        return document_hash(document, signing=False, limits=self._limits)

    def _key(self, suite: Cryptosuite, method: str, document: JsonObject) -> ResolvedKey:
        resolved = self._keys.resolve(method)
        if resolved is None:
            raise _Refused(f"verification method {method} cannot be resolved")
        if resolved.revoked:
            raise _Refused(f"key {method} has been revoked")
        issuer_id = document_issuer(document)
        if resolved.controller is not None and resolved.controller != issuer_id:
            raise _Refused(f"key {method} is controlled by {resolved.controller}, not by the issuer {issuer_id}")
        if not suite.accepts_key(resolved.jwk):
            raise _Refused(f"key {method} is not a {suite.crv} key, as {suite.name} requires")
        return resolved


def _check_members(
    suite: Cryptosuite, proof: JsonObject, document: JsonObject, purpose: str, now: datetime | None
) -> None:
    if proof.get("proofPurpose") != purpose:
        raise _Refused(f"proofPurpose must be {purpose!r}, found {proof.get('proofPurpose')!r}")
    for name in ("created", "expires"):
        value = proof.get(name)
        if value is None:
            continue
        try:
            moment = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            raise _Refused(f"{name} must be an XML Schema dateTime")
        if name == "expires" and now is not None and moment < now:
            raise _Refused("the proof has expired")
    contexts = _as_list(document.get("@context"))
    if suite.required_context is not None and suite.required_context not in contexts:
        raise _Refused(f"{suite.proof_type} needs {suite.required_context} in the document's @context")
    if "@context" in proof:
        # VC Data Integrity "Verify Proof": a proof's own @context must open the document's, in order.
        own = _as_list(proof["@context"])
        if contexts[: len(own)] != own:
            raise _Refused("the proof's @context does not match the start of the document's @context")


def _signature(suite: Cryptosuite, proof: JsonObject) -> bytes:
    value = proof.get("proofValue")
    if not isinstance(value, str):
        raise _Refused("proofValue must be a string")
    try:
        signature = decode_base58btc(value)
    except ValueError as exc:
        raise _Refused(f"proofValue is not multibase base58btc: {exc}") from None
    if len(signature) != suite.signature_length:
        raise _Refused(
            f"proofValue holds {len(signature)} bytes; a {suite.name} signature has {suite.signature_length}"
        )
    return signature


def _cached(
    cache: dict[tuple[str, ...], bytes | InvalidInput],
    key: tuple[str, ...],
    compute: Callable[[JsonObject], bytes],
    document: JsonObject,
) -> bytes:
    """Proofs of a set that chain to the same proofs sign the same document: canonicalize it once."""
    if key not in cache:
        try:
            cache[key] = compute(document)
        except InvalidInput as exc:
            cache[key] = exc
    outcome = cache[key]
    if isinstance(outcome, InvalidInput):
        raise _Refused(f"the document cannot be canonicalized: {outcome.detail}")
    return outcome


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(cast(list[Any], value)) if isinstance(value, list) else [value]
