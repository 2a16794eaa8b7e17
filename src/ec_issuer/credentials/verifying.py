"""Verifying a `vc+jwt` or a credential with embedded Data Integrity proofs: each check reported on its own,
a negative answer never an exception."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from ec_issuer.core.encoding import format_datetime, loads
from ec_issuer.core.ports import Clock
from ec_issuer.core.validation import reject_control_characters
from ec_issuer.core.vcdm import issuer_id as document_issuer
from ec_issuer.credentials import ob3
from ec_issuer.credentials.families import family_of
from ec_issuer.credentials.model import CredentialStatus, IssuedCredential
from ec_issuer.credentials.schema import CredentialSchemaValidator
from ec_issuer.credentials.status_checks import StatusFinding, StatusListChecker
from ec_issuer.keys.resolution import KeyResolver, ResolvedOnce
from ec_issuer.signing.data_integrity.verifier import DataIntegrityVerifier
from ec_issuer.signing.jose import (
    SUPPORTED_ALGORITHMS,
    VC_CTY,
    VC_JWT_TYP,
    CompactJws,
    MalformedJws,
    parse_compact,
    verify_signature,
)
from ec_issuer.status.ports import StatusListSource

_ACCEPTED_TYP = {VC_JWT_TYP, "application/" + VC_JWT_TYP}
_ACCEPTED_CTY = {VC_CTY, "application/" + VC_CTY}
_UNDERSTOOD_HEADERS = {"alg", "typ", "cty", "kid", "iss"}
# VC-JOSE-COSE, "JOSE Header Parameters and JWT Claims": "The JWT Claim Names vc and vp MUST NOT be present."
_FORBIDDEN_CLAIMS = ("vc", "vp")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool | None  # None: not applicable or not reached
    detail: str


@dataclass(frozen=True, slots=True)
class Verification:
    verified: bool
    checks: list[Check]
    credential: dict[str, Any] | None = None
    issuer: str | None = None
    credential_id: str | None = None
    status: str | None = None
    errors: list[str] = field(default_factory=list[str])


class StatusLookup(Protocol):
    def status_of(self, credential_id: str, issuer_id: str) -> CredentialStatus | None:
        """The stored status if this deployment issued the credential, else None."""
        ...


class SealedFileVerifier(Protocol):
    """Verifies credentials sealed in a JWS JSON envelope (European Digital Credentials, elm/verifying.py)."""

    def verify_file(self, data: bytes | str) -> Verification: ...


class CredentialVerifier:
    def __init__(
        self,
        keys: KeyResolver,
        schema: CredentialSchemaValidator,
        clock: Clock,
        statuses: StatusLookup | None = None,
        status_lists: StatusListSource | None = None,
        sealed: SealedFileVerifier | None = None,
    ) -> None:
        self._keys = keys
        self._sealed = sealed
        self._schema = schema
        self._clock = clock
        self._statuses = statuses
        self._proofs = DataIntegrityVerifier(keys)
        self._lists = StatusListChecker(status_lists, keys, self._proofs) if status_lists is not None else None

    def verify(self, token: str) -> Verification:
        try:
            jws = parse_compact(token)
            credential = jws.payload_json()
        except (MalformedJws, ValueError) as exc:
            return failed([Check("format", False, f"not a compact JWS with a JSON payload: {exc}")])
        if not isinstance(credential, dict):
            return failed([Check("format", False, "the payload is not a JSON object")])
        credential = cast(dict[str, Any], credential)
        checks = [Check("format", True, "compact JWS with a JSON object payload")]
        issuer_id = document_issuer(credential)
        keys = ResolvedOnce(self._keys)
        lists = self._lists.resolving_with(keys) if self._lists is not None else None
        checks.append(_header_check(jws.header))
        checks.extend(self._key_and_signature_checks(jws, issuer_id, keys))
        checks.append(_claims_check(credential, issuer_id))
        signed = any(check.name == "signature" and check.passed for check in checks)
        finding = lists.token_finding(credential, issuer_id) if lists is not None and signed else None
        return self._conclude(
            credential,
            issuer_id,
            checks,
            self._clock.now(),
            secured=signed,
            token=[finding] if finding else [],
            lists=lists,
        )

    def verify_stored(self, credential: IssuedCredential) -> Verification:
        """Every artefact of a stored credential: its vc+jwt and its embedded proof, whichever it has, or
        its sealed file."""
        if credential.is_sealed_file:
            return self.verify_sealed(credential.signed)
        results: list[Verification] = []
        if credential.jws is not None:
            results.append(self.verify(credential.jws))
        if credential.with_embedded_proof is not None:
            results.append(self.verify_document(loads(credential.with_embedded_proof)))
        if len(results) == 1:
            return results[0]
        first, second = results
        return replace(
            second,
            verified=first.verified and second.verified,
            checks=first.checks + second.checks,
            errors=first.errors + second.errors,
        )

    def verify_sealed(self, data: bytes | str) -> Verification:
        if self._sealed is None:
            return failed([Check("format", False, "this deployment does not verify sealed files")])
        return self._sealed.verify_file(data)

    def verify_document(self, document: object) -> Verification:
        """A credential secured with embedded Data Integrity proofs (eddsa-rdfc-2022, ecdsa-rdfc-2019,
        Ed25519Signature2020): the proofs, the schema, the validity period and our stored status."""
        if not isinstance(document, dict) or "proof" not in document:
            return failed([Check("format", False, "not a JSON credential with an embedded proof")])
        credential = cast(dict[str, Any], document)
        checks = [Check("format", True, "JSON credential with an embedded proof")]
        now = self._clock.now()
        proofs = self._proofs.verify(credential, now=now)
        for proof in proofs.proofs:
            checks.append(Check("proof", proof.verified, f"proof {proof.index} ({proof.cryptosuite}): {proof.detail}"))
        return self._conclude(
            credential, document_issuer(credential), checks, now, secured=proofs.verified, lists=self._lists
        )

    def _conclude(
        self,
        credential: dict[str, Any],
        issuer_id: str | None,
        checks: list[Check],
        now: datetime,
        *,
        secured: bool,
        lists: StatusListChecker | None,
        token: list[StatusFinding] | None = None,
    ) -> Verification:
        """The checks every securing mechanism shares (schema, validity, stored status, published status
        lists), and the verdict: secured by a valid signature or proof, and no check failed."""
        checks.append(self._schema_check(credential))
        checks.append(validity_check(credential, now))
        stored = self._status(credential, issuer_id, now)
        checks.append(stored)
        findings = list(token or [])
        if lists is not None and secured:  # an unsigned credential's list URLs are not worth a fetch
            findings = lists.bitstring_findings(credential, issuer_id, now) + findings
        checks.extend(Check(f"status:{f.source}", f.outcome == "clear", f"{f.outcome}: {f.detail}") for f in findings)
        credential_id = credential.get("id")
        return Verification(
            verified=secured and all(check.passed is not False for check in checks),
            checks=checks,
            credential=credential,
            issuer=issuer_id,
            credential_id=credential_id if isinstance(credential_id, str) else None,
            status=_overall_status(stored, findings),
            errors=[f"{c.name}: {c.detail}" for c in checks if c.passed is False],
        )

    def _key_and_signature_checks(self, jws: CompactJws, issuer_id: str | None, keys: KeyResolver) -> list[Check]:
        kid = jws.header.get("kid")
        if not isinstance(kid, str) or not kid:
            return [Check("key", False, "the header names no kid"), Check("signature", None, "no key to verify with")]
        try:
            reject_control_characters(kid)
        except ValueError:
            return [
                Check("key", False, "the kid contains a control character: no published key has such an id"),
                Check("signature", None, "no key to verify with"),
            ]
        resolved = keys.resolve(kid)
        if resolved is None:
            return [
                Check("key", False, f"unknown key {kid}: not published by a known issuer"),
                Check("signature", None, "no key to verify with"),
            ]
        if resolved.revoked:
            return [Check("key", False, f"key {kid} has been revoked"), Check("signature", None, "key revoked")]
        if resolved.controller is not None and issuer_id is not None and resolved.controller != issuer_id:
            key_check = Check("key", False, f"key {kid} belongs to {resolved.controller}, not to issuer {issuer_id}")
        else:
            key_check = Check("key", True, f"key {kid} resolved")
        if verify_signature(jws, resolved.jwk):
            return [key_check, Check("signature", True, f"valid {jws.header.get('alg')} signature")]
        return [key_check, Check("signature", False, "the signature does not match the header and payload")]

    def _schema_check(self, credential: dict[str, Any]) -> Check:
        schema_title = family_of(credential).schema_title
        if schema_title is None:
            problems = _vcdm_problems(credential)
            if problems:
                return Check("schema", False, "; ".join(problems))
            return Check("schema", True, "well-formed VC data model document")
        errors = self._schema.errors(credential)
        if errors:
            listed = "; ".join(f"{e.pointer or '/'}: {e.detail}" for e in errors[:5])
            return Check("schema", False, f"{schema_title} schema: {listed}")
        return Check("schema", True, f"valid against the {schema_title} schema")

    def _status(self, credential: dict[str, Any], issuer_id: str | None, now: datetime) -> Check:
        credential_id = credential.get("id")
        if self._statuses is None or not isinstance(credential_id, str) or issuer_id is None:
            return Check("status", None, "no status information for this credential")
        status = self._statuses.status_of(credential_id, issuer_id)
        if status is None:
            return Check("status", None, "not issued here; no status information")
        if status is CredentialStatus.ACTIVE:
            return Check("status", True, status.value)
        return Check("status", False, status.value)


def _overall_status(stored: Check, findings: list[StatusFinding]) -> str | None:
    """One word for the credential's status: what we store for our own credentials, else what the lists
    say; revoked outranks suspended, and a list that could not be read makes it unknown."""
    if stored.passed is False:
        return stored.detail
    outcomes = {finding.outcome for finding in findings}
    for outcome in ("revoked", "suspended", "unknown"):
        if outcome in outcomes:
            return outcome
    if stored.passed is True:
        return stored.detail
    return "active" if findings else None


def failed(checks: list[Check]) -> Verification:
    """A verification that ended early: not verified, each failed check an error."""
    return Verification(False, checks, errors=[f"{c.name}: {c.detail}" for c in checks if c.passed is False])


def _header_check(header: dict[str, Any]) -> Check:
    problems: list[str] = []
    if header.get("alg") not in SUPPORTED_ALGORITHMS:
        problems.append(f"alg {header.get('alg')!r} is not supported")
    if header.get("typ") not in _ACCEPTED_TYP:
        problems.append(f"typ must be '{VC_JWT_TYP}', found {header.get('typ')!r}")
    if "cty" in header and header["cty"] not in _ACCEPTED_CTY:
        problems.append(f"cty must be '{VC_CTY}', found {header.get('cty')!r}")
    critical = header.get("crit")
    if critical is not None:
        unknown = (
            [c for c in cast(list[Any], critical) if c not in _UNDERSTOOD_HEADERS]
            if isinstance(critical, list)
            else [critical]
        )
        if unknown:
            problems.append(f"critical header parameters not understood: {unknown}")
    if problems:
        return Check("header", False, "; ".join(problems))
    return Check("header", True, "vc+jwt header")


def _claims_check(credential: dict[str, Any], issuer_id: str | None) -> Check:
    forbidden = [name for name in _FORBIDDEN_CLAIMS if name in credential]
    if forbidden:
        return Check("claims", False, f"JWT claims {', '.join(forbidden)} must not be present in a vc+jwt")
    iss = credential.get("iss")
    if iss is not None and iss != issuer_id:
        return Check("claims", False, f"iss claim {iss!r} does not match issuer {issuer_id!r}")
    if issuer_id is None:
        return Check("claims", False, "the credential names no issuer")
    return Check("claims", True, "issuer claims consistent")


def validity_check(credential: dict[str, Any], now: datetime) -> Check:
    """validFrom/validUntil (VC 2.0) or issuanceDate/expirationDate (VC 1.1), and a JWT's nbf/exp."""
    try:
        start, end = ob3.validity_window(credential)
        for claim in ("nbf", "exp"):
            value = credential.get(claim)
            if value is not None and not isinstance(value, int | float):
                raise ValueError(f"{claim} must be a NumericDate")
        nbf, exp = credential.get("nbf"), credential.get("exp")
    except ValueError as exc:
        return Check("validity", False, f"unreadable validity period: {exc}")
    if start is not None and now < start:
        return Check("validity", False, f"not valid before {format_datetime(start)}")
    if isinstance(nbf, int | float) and now < datetime.fromtimestamp(nbf, UTC):
        return Check("validity", False, "not valid before its nbf claim")
    if end is not None and now >= end:
        return Check("validity", False, f"expired at {format_datetime(end)}")
    if isinstance(exp, int | float) and now >= datetime.fromtimestamp(exp, UTC):
        return Check("validity", False, "expired according to its exp claim")
    return Check("validity", True, "within its validity period")


def _vcdm_problems(credential: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    contexts = credential.get("@context")
    if not isinstance(contexts, list) or not contexts or contexts[0] not in (ob3.VC_V2_CONTEXT, ob3.VC_V1_CONTEXT):
        problems.append("@context must start with the VC context")
    if "VerifiableCredential" not in ob3.credential_types(credential):
        problems.append("type must include VerifiableCredential")
    if not isinstance(credential.get("credentialSubject"), dict | list):
        problems.append("credentialSubject is missing")
    return problems
