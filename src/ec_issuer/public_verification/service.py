"""Public verification of credentials issued here: look one up by its id, verify it with the service's own
verifier, say its status in one word, and compare a file with the hash it names."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final, Protocol

from ec_issuer.core.encoding import loads_object
from ec_issuer.credentials.model import IssuedCredential
from ec_issuer.credentials.verifying import Check, Verification
from ec_issuer.public_verification.content_hash import ContentHash, UnreadableHash, expected_hash
from ec_issuer.public_verification.facts import PublicFacts, is_validation_credential, public_facts

_UUID: Final = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ADDRESSABLE: Final = re.compile(rf"(?:urn:uuid:|urn:credential:)?({_UUID})")
# Checks of the credential's integrity: when one fails, nothing else the credential says can be believed, its
# status entries included.
_INTEGRITY: Final = frozenset({"format", "header", "key", "signature", "proof", "seal", "payload", "claims"})
CONTENT_HASH_CHECK: Final = "contentHash"


class Verdict(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    INVALID = "invalid"  # issued here, but a check other than status or expiry fails (e.g. its key was revoked)
    UNKNOWN = "unknown"  # no such credential, or its status cannot be determined

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def explanation(self) -> str:
        return _EXPLANATIONS[self]


_EXPLANATIONS: Final = {
    Verdict.VALID: "The signature is valid, the credential is within its validity period and has not been revoked.",
    Verdict.REVOKED: "The issuer has revoked this credential. It must no longer be relied on.",
    Verdict.SUSPENDED: "The issuer has suspended this credential for now. It must not be relied on while suspended.",
    Verdict.EXPIRED: "The credential's validity period has ended.",
    Verdict.INVALID: "The credential could not be verified: see the failed checks.",
    Verdict.UNKNOWN: "This service cannot say whether the credential is valid.",
}


class CredentialFinder(Protocol):
    def find(self, credential_id: str) -> IssuedCredential | None: ...


class Verifier(Protocol):
    def verify(self, token: str) -> Verification: ...

    def verify_stored(self, credential: IssuedCredential) -> Verification: ...


@dataclass(frozen=True, slots=True)
class CredentialView:
    """A stored credential as verified just now."""

    record: IssuedCredential
    document: dict[str, Any]
    verification: Verification
    verdict: Verdict
    facts: PublicFacts

    @property
    def is_validation(self) -> bool:
        return is_validation_credential(self.document)

    @property
    def expected_hash(self) -> ContentHash | None:
        return self.facts.validation.content_hash if self.facts.validation else None


@dataclass(frozen=True, slots=True)
class FileComparison:
    expected: ContentHash
    actual: ContentHash
    size: int

    @property
    def matches(self) -> bool:
        return self.expected == self.actual


def page_key(credential_id: str) -> str | None:
    """The UUID that addresses a credential's public page, or None for ids the page does not serve."""
    match = _ADDRESSABLE.fullmatch(credential_id)
    return match.group(1) if match else None


class PublicVerification:
    def __init__(self, credentials: CredentialFinder, verifier: Verifier) -> None:
        self._credentials = credentials
        self._verifier = verifier

    def view(self, credential_id: str) -> CredentialView | None:
        """The credential with this id (a UUID, `urn:uuid:` or `urn:credential:` form), or None."""
        if page_key(credential_id) is None:
            return None
        record = self._credentials.find(credential_id)
        if record is None:
            return None
        document = loads_object(record.payload)
        verification = self._verifier.verify_stored(record)
        return CredentialView(
            record, document, verification, verdict_of(verification), public_facts(record.id, document)
        )

    def verify_stored(self, view: CredentialView, file: tuple[ContentHash, int] | None) -> Verification:
        return with_content_check(view.verification, view.document, file)

    def verify_token(self, token: str, file: tuple[ContentHash, int] | None) -> Verification:
        verification = self._verifier.verify(token)
        return with_content_check(verification, verification.credential, file)


def verdict_of(verification: Verification) -> Verdict:
    failed = {check.name for check in verification.checks if check.passed is False}
    if failed & _INTEGRITY or verification.credential is None:
        return Verdict.INVALID
    status = (verification.status or "").lower()
    if status in (Verdict.REVOKED, Verdict.SUSPENDED):
        return Verdict(status)
    if status == "unknown":
        return Verdict.UNKNOWN
    if verification.verified:
        return Verdict.VALID
    lapsed = status == "expired" or any(
        check.name == "validity" and check.passed is False and "expired" in check.detail
        for check in verification.checks
    )
    if lapsed and failed <= {"validity", "status"}:
        return Verdict.EXPIRED
    return Verdict.INVALID


def with_content_check(
    verification: Verification, document: dict[str, Any] | None, file: tuple[ContentHash, int] | None
) -> Verification:
    """The verification with one more check: does the file (when one was given) have the digest the credential
    names? A mismatch makes the whole answer unverified: the credential then says nothing about this file."""
    check = content_check(document, file)
    checks = [*verification.checks, check]
    errors = [*verification.errors, f"{check.name}: {check.detail}"] if check.passed is False else verification.errors
    return replace(
        verification, verified=verification.verified and check.passed is not False, checks=checks, errors=errors
    )


def content_check(document: dict[str, Any] | None, file: tuple[ContentHash, int] | None) -> Check:
    if file is None:
        return Check(CONTENT_HASH_CHECK, None, "not applicable: no file was given")
    actual, size = file
    try:
        expected = expected_hash(document) if document is not None else None
    except UnreadableHash as exc:
        return Check(CONTENT_HASH_CHECK, False, f"the credential's content hash cannot be read ({exc})")
    if expected is None:
        return Check(CONTENT_HASH_CHECK, None, "not applicable: the credential names no content hash")
    if actual == expected:
        return Check(CONTENT_HASH_CHECK, True, f"the file ({size} bytes) has the SHA-256 the credential names")
    return Check(CONTENT_HASH_CHECK, False, f"the file's SHA-256 is {actual.urn}, the credential names {expected.urn}")
