"""Verifying Data Integrity secured credentials and presentations, answered as VC API verification results
(`verified`, `problemDetails` with VC Data Model / Data Integrity error types, per-proof `results`).

A failed check is a normal answer with `verified: false`; only malformed input (see `shape`) is an error.
Keys resolve from this deployment's issuers (the records did:web and JWKS publish, revocation honoured)
and from did:key identifiers themselves; other DIDs are not fetched (offline), so their proofs fail with
INVALID_VERIFICATION_METHOD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from ec_issuer.core.encoding import JsonObject, format_datetime, timestamp_or_none
from ec_issuer.core.vcdm import is_v1, issuer_id
from ec_issuer.credentials.status_checks import StatusListChecker
from ec_issuer.keys.resolution import KeyResolver, ResolvedKey
from ec_issuer.signing.data_integrity.proof_sets import proofs_of
from ec_issuer.signing.data_integrity.verifier import DataIntegrityVerifier, ProofCheck, ProofSetVerification
from ec_issuer.status.ports import StatusListSource
from ec_issuer.vc_api.shape import embedded_credentials

AUTHENTICATION = "authentication"

# VC Data Model 2.0 §7.1 and VC Data Integrity §2.4 error types.
VCDM = "https://www.w3.org/TR/vc-data-model#"
SECURITY = "https://w3id.org/security#"
PROOF_VERIFICATION_ERROR = SECURITY + "PROOF_VERIFICATION_ERROR"
MALFORMED_PROOF_ERROR = SECURITY + "MALFORMED_PROOF_ERROR"
MISMATCHED_PROOF_PURPOSE_ERROR = SECURITY + "MISMATCHED_PROOF_PURPOSE_ERROR"
INVALID_VERIFICATION_METHOD = SECURITY + "INVALID_VERIFICATION_METHOD"
INVALID_CHALLENGE_ERROR = SECURITY + "INVALID_CHALLENGE_ERROR"
INVALID_DOMAIN_ERROR = SECURITY + "INVALID_DOMAIN_ERROR"
RANGE_ERROR = VCDM + "RANGE_ERROR"
# Bitstring Status List v1.0 §3.6; a status that is set is no processing error, so it has a type of ours.
STATUS_LIST = "https://www.w3.org/ns/credentials/status-list#"
STATUS_RETRIEVAL_ERROR = STATUS_LIST + "STATUS_RETRIEVAL_ERROR"
STATUS_VERIFICATION_ERROR = STATUS_LIST + "STATUS_VERIFICATION_ERROR"
CREDENTIAL_REVOKED = "urn:ec-issuer:problem:credential-revoked"
CREDENTIAL_SUSPENDED = "urn:ec-issuer:problem:credential-suspended"
_TITLES = {
    PROOF_VERIFICATION_ERROR: "Proof verification error",
    MALFORMED_PROOF_ERROR: "Malformed proof",
    MISMATCHED_PROOF_PURPOSE_ERROR: "Mismatched proof purpose",
    INVALID_VERIFICATION_METHOD: "Invalid verification method",
    INVALID_CHALLENGE_ERROR: "Invalid challenge",
    INVALID_DOMAIN_ERROR: "Invalid domain",
    RANGE_ERROR: "Outside the validity period",
    STATUS_RETRIEVAL_ERROR: "Status list unavailable",
    STATUS_VERIFICATION_ERROR: "Status list not verified",
    CREDENTIAL_REVOKED: "Credential revoked",
    CREDENTIAL_SUSPENDED: "Credential suspended",
}
_STATUS_PROBLEMS = {"revoked": CREDENTIAL_REVOKED, "suspended": CREDENTIAL_SUSPENDED}


@dataclass(frozen=True, slots=True)
class Problem:
    type: str
    detail: str

    def as_json(self) -> JsonObject:
        return {"type": self.type, "title": _TITLES.get(self.type, "Verification error"), "detail": self.detail}


@dataclass(slots=True)
class Outcome:
    problems: list[Problem] = field(default_factory=list[Problem])
    warnings: list[Problem] = field(default_factory=list[Problem])
    results: JsonObject = field(default_factory=dict[str, Any])

    @property
    def verified(self) -> bool:
        return not self.problems

    def as_json(self) -> JsonObject:
        return {
            "verified": self.verified,
            "problemDetails": [p.as_json() for p in self.problems],
            "warnings": [p.as_json() for p in self.warnings],
            "results": self.results,
        }


class _ControllerChecked:
    """For presentations: the verifier ties a key to the document's `issuer`, which a presentation has
    not; the holder is checked here instead, and the controller then withheld from the verifier."""

    def __init__(self, keys: KeyResolver, holder: str | None) -> None:
        self._keys = keys
        self._holder = holder

    def resolve(self, kid: str) -> ResolvedKey | None:
        resolved = self._keys.resolve(kid)
        if resolved is None:
            return None
        if self._holder is not None and resolved.controller != self._holder:
            return None
        return ResolvedKey(resolved.jwk, None, resolved.revoked)


class VcApiVerifier:
    def __init__(self, keys: KeyResolver, status_lists: StatusListSource | None = None) -> None:
        self._keys = keys
        self._proofs = DataIntegrityVerifier(keys)
        self._lists = StatusListChecker(status_lists, keys, self._proofs) if status_lists is not None else None

    def verify_credential(self, credential: JsonObject, now: datetime) -> Outcome:
        outcome = Outcome()
        proof_set = self._proofs.verify(credential, now=now)
        _record_proofs(outcome, proof_set)
        _check_validity_period(outcome, credential, now)
        if self._lists is not None and proof_set.verified:
            _check_status(outcome, self._lists, credential, now)
        return outcome

    def verify_presentation(
        self, presentation: JsonObject, now: datetime, *, challenge: str | None, domain: str | None
    ) -> Outcome:
        outcome = Outcome()
        holder = _holder_id(presentation)
        keys = _ControllerChecked(self._keys, holder)
        proof_set = DataIntegrityVerifier(keys, expected_purpose=AUTHENTICATION).verify(presentation, now=now)
        _record_proofs(outcome, proof_set, holder=holder)
        for proof in proofs_of(presentation):
            _check_challenge_and_domain(outcome, cast(JsonObject, proof), challenge, domain)
        credential_results: list[JsonObject] = []
        for index, credential in enumerate(embedded_credentials(presentation)):
            inner = self.verify_credential(credential, now)
            credential_results.append({"verified": inner.verified, **inner.as_json()})
            prefix = f"verifiableCredential/{index}: "
            outcome.problems.extend(Problem(p.type, prefix + p.detail) for p in inner.problems)
            outcome.warnings.extend(Problem(p.type, prefix + p.detail) for p in inner.warnings)
        outcome.results["credentialResults"] = credential_results
        return outcome


def _check_status(outcome: Outcome, lists: StatusListChecker, credential: JsonObject, now: datetime) -> None:
    """Bitstring Status List entries, read from the published lists; a set status fails verification."""
    findings = lists.bitstring_findings(credential, issuer_id(credential), now)
    if not findings:
        return
    outcome.results["statusResults"] = [
        {"statusPurpose": f.source, "status": f.outcome, "detail": f.detail} for f in findings
    ]
    for finding in findings:
        if finding.outcome in _STATUS_PROBLEMS:
            outcome.problems.append(Problem(_STATUS_PROBLEMS[finding.outcome], finding.detail))
        elif finding.outcome == "unknown":
            unavailable = finding.detail.startswith("list unavailable")
            kind = STATUS_RETRIEVAL_ERROR if unavailable else STATUS_VERIFICATION_ERROR
            outcome.problems.append(Problem(kind, finding.detail))


def _holder_id(presentation: JsonObject) -> str | None:
    holder: Any = presentation.get("holder")
    if isinstance(holder, dict):
        holder = cast(JsonObject, holder).get("id")
    return holder if isinstance(holder, str) else None


def _record_proofs(outcome: Outcome, proof_set: ProofSetVerification, *, holder: str | None = None) -> None:
    outcome.results["proof"] = [_proof_result(check) for check in proof_set.proofs]
    for check in proof_set.proofs:
        if check.verified is None:
            outcome.warnings.append(Problem(MALFORMED_PROOF_ERROR, f"proof {check.index}: {check.detail} (skipped)"))
        elif check.verified is False:
            detail = check.detail
            if holder is not None and "cannot be resolved" in detail:
                detail += f" as a key of the holder {holder}"
            outcome.problems.append(Problem(_problem_type(detail), f"proof {check.index}: {detail}"))
    if not proof_set.verified and not outcome.problems:
        outcome.problems.append(Problem(PROOF_VERIFICATION_ERROR, "no proof of a supported type verified"))


def _proof_result(check: ProofCheck) -> JsonObject:
    result: JsonObject = {"index": check.index, "verified": check.verified, "detail": check.detail}
    if check.cryptosuite is not None:
        result["cryptosuite"] = check.cryptosuite
    if check.verification_method is not None:
        result["verificationMethod"] = check.verification_method
    return result


def _problem_type(detail: str) -> str:
    if "proofPurpose" in detail:
        return MISMATCHED_PROOF_PURPOSE_ERROR
    if any(text in detail for text in ("cannot be resolved", "controlled by", "revoked", "is not a ")):
        return INVALID_VERIFICATION_METHOD
    if any(text in detail for text in ("must be", "proofValue", "previousProof", "more than")):
        return MALFORMED_PROOF_ERROR
    return PROOF_VERIFICATION_ERROR


def _check_challenge_and_domain(outcome: Outcome, proof: JsonObject, challenge: str | None, domain: str | None) -> None:
    if challenge is not None and proof.get("challenge") != challenge:
        outcome.problems.append(
            Problem(INVALID_CHALLENGE_ERROR, "the presentation's proof does not carry the expected challenge")
        )
    if domain is not None:
        declared: Any = proof.get("domain")
        domains = cast(list[Any], declared) if isinstance(declared, list) else [declared]
        if domain not in domains:
            outcome.problems.append(
                Problem(INVALID_DOMAIN_ERROR, "the presentation's proof does not carry the expected domain")
            )


def _check_validity_period(outcome: Outcome, credential: JsonObject, now: datetime) -> None:
    start_name, end_name = ("issuanceDate", "expirationDate") if is_v1(credential) else ("validFrom", "validUntil")
    start, end = timestamp_or_none(credential.get(start_name)), timestamp_or_none(credential.get(end_name))
    if start is not None and start > now:
        outcome.problems.append(Problem(RANGE_ERROR, f"{start_name} is later than now ({format_datetime(now)})"))
    if end is not None and end < now:
        outcome.problems.append(Problem(RANGE_ERROR, f"{end_name} has passed"))
