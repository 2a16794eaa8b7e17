"""Verifying a sealed European Digital Credential the way the Europass viewer does, with our own answers.

Checks, each reported: the file's form; every seal signature and the certificate it names; the chain of
that certificate against the configured trust anchors; the payload against the EDC shapes (Europass's
FORMAT check); the validity period (its EXPIRY check); and, for files issued here, the stored status
(Europass never checks revocation: docs/elm.md).

`verified` means the seal is intact and made with the certificate it carries, the payload conforms, and
the credential is in date and not revoked or suspended. Trust is reported on its own: a seal from a
certificate that leads to no configured anchor is `untrusted`, which is not the same as invalid (a test
eSeal is exactly that), and a certificate expired since sealing is reported with whether it was valid at
the claimed signing time (nothing proves that time at level B-B).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from cryptography import x509

from ec_issuer.core.encoding import loads
from ec_issuer.core.errors import InvalidInput
from ec_issuer.core.ports import Clock
from ec_issuer.core.vcdm import issuer_id as document_issuer
from ec_issuer.credentials.model import CredentialStatus
from ec_issuer.credentials.verifying import Check, StatusLookup, Verification, failed, validity_check
from ec_issuer.elm.seal_errors import MalformedSealedFile
from ec_issuer.elm.seal_trust import ChainStatus, ChainVerdict
from ec_issuer.elm.seal_verification import SignatureCheck, verify_sealed_file
from ec_issuer.elm.shapes import check_credential

TrustAnchors = Callable[[], Sequence[x509.Certificate]]


def is_sealed_file(document: object) -> bool:
    """A JWS JSON serialization (general or flattened) rather than a credential."""
    if not isinstance(document, dict):
        return False
    members = cast(dict[str, Any], document)
    return "payload" in members and ("signatures" in members or "signature" in members)


class SealedCredentialVerifier:
    def __init__(self, anchors: TrustAnchors, clock: Clock, statuses: StatusLookup | None = None) -> None:
        self._anchors = anchors
        self._clock = clock
        self._statuses = statuses

    def verify_file(self, data: bytes | str) -> Verification:
        now = self._clock.now()
        try:
            seal = verify_sealed_file(data, trust_anchors=self._anchors(), at=now)
        except MalformedSealedFile as exc:
            return failed([Check("format", False, f"not a sealed European Digital Credential: {exc.detail}")])
        checks = [Check("format", True, "JAdES JSON serialization with an unencoded payload")]
        for index, signature in enumerate(seal.signatures):
            checks.append(_signature_check(index, signature))
            if signature.chain is not None:
                checks.append(_certificate_check(index, signature.chain))
        try:
            credential = loads(seal.payload.encode("utf-8"))
        except ValueError:
            credential = None
        if not isinstance(credential, dict):
            checks.append(Check("payload", False, "the sealed payload is not a JSON object"))
            return _concluded(checks, None)
        document = cast(dict[str, Any], credential)
        checks.append(_shapes_check(document))
        checks.append(validity_check(document, now))
        checks.append(self._stored_status(document))
        return _concluded(checks, document)

    def _stored_status(self, document: dict[str, Any]) -> Check:
        credential_id, issuer_id = document.get("id"), document_issuer(document)
        if self._statuses is None or not isinstance(credential_id, str) or issuer_id is None:
            return Check("status", None, "not issued here: Europass files carry no status entry")
        status = self._statuses.status_of(credential_id, issuer_id)
        if status is None:
            return Check("status", None, "not issued here: Europass files carry no status entry")
        return Check("status", status is CredentialStatus.ACTIVE, status.value)


def _signature_check(index: int, signature: SignatureCheck) -> Check:
    if not signature.valid:
        return Check("seal", False, f"signature {index}: {signature.reason}")
    who = signature.certificate.organization or signature.certificate.subject if signature.certificate else "?"
    when = f", sealed {signature.signed_at.isoformat()}" if signature.signed_at else ""
    level = signature.claimed_level.value if signature.claimed_level else "B-B"
    return Check("seal", True, f"signature {index} ({signature.algorithm}, {level}) by {who}{when}")


def _certificate_check(index: int, chain: ChainVerdict) -> Check:
    detail = f"signature {index}: {chain.status.value}: {chain.detail}"
    if chain.status is ChainStatus.TRUSTED:
        return Check("certificate", True, detail)
    if chain.status is ChainStatus.UNTRUSTED:
        return Check("certificate", None, detail)  # reported, not failed: see the module docstring
    if chain.valid_at_signing_time:
        return Check("certificate", None, detail + " (valid at the claimed signing time)")
    return Check("certificate", False, detail)


def _shapes_check(document: dict[str, Any]) -> Check:
    try:
        report = check_credential(document)
    except InvalidInput as exc:
        return Check("shapes", False, f"not processable JSON-LD: {exc.detail}")
    if report.conforms:
        return Check("shapes", True, "conforms to edc-generic-full 1.2.0")
    return Check("shapes", False, "; ".join(v.describe() for v in report.violations[:20]))


def _concluded(checks: list[Check], document: dict[str, Any] | None) -> Verification:
    sealed = any(c.name == "seal" for c in checks) and all(c.passed for c in checks if c.name == "seal")
    status = next((c.detail for c in checks if c.name == "status" and c.passed is not None), None)
    credential_id = document.get("id") if document else None
    return Verification(
        verified=sealed and all(check.passed is not False for check in checks),
        checks=checks,
        credential=document,
        issuer=document_issuer(document) if document else None,
        credential_id=credential_id if isinstance(credential_id, str) else None,
        status=status,
        errors=[f"{c.name}: {c.detail}" for c in checks if c.passed is False],
    )
