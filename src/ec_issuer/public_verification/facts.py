"""The facts of a credential that a public page may show, read from the credential itself.

A validation credential is made to be published: its subject is an opaque submission id, a file digest, a
workflow and validators. Every other credential (an Open Badge, a European Digital Credential) is about a person,
so of those only the type, the issuer and the dates are taken; the subject is never read.

Values come from a signed document, but the signer may be any caller of the issuing API: each is cleaned (no
control or format characters) and capped in length before anything displays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from ec_issuer.core.encoding import timestamp_or_none
from ec_issuer.credentials import ob3
from ec_issuer.elm.page import clean_text
from ec_issuer.public_verification.content_hash import ContentHash, UnreadableHash, expected_hash

VALIDATION_CREDENTIAL: Final = "ValidationCredential"
MAX_TEXT: Final = 300
MAX_VALIDATORS: Final = 100

_KIND_LABELS: Final = (
    (VALIDATION_CREDENTIAL, "Validation credential"),
    ("OpenBadgeCredential", "Open Badge"),
    ("AchievementCredential", "Open Badge"),
    ("EuropeanDigitalCredential", "European Digital Credential"),
)


@dataclass(frozen=True, slots=True)
class Validator:
    code: str
    version: str | None
    validation_type: str | None


@dataclass(frozen=True, slots=True)
class ValidationFacts:
    workflow_id: str | None
    workflow_slug: str | None
    workflow_version: str | None
    run_id: str | None
    result: str | None  # the run's status as the credential states it, e.g. PASSED
    completed_at: datetime | None
    validators: tuple[Validator, ...]
    more_validators: int  # beyond MAX_VALIDATORS, counted but not listed
    content_hash: ContentHash | None
    hash_problem: str | None  # why the named hash cannot be read, when it cannot
    media_type: str | None
    filename: str | None  # only when the credential itself publishes it
    size: int | None

    @property
    def workflow(self) -> str | None:
        parts = [part for part in (self.workflow_slug, self.workflow_version) if part]
        return " ".join(parts) or None


@dataclass(frozen=True, slots=True)
class PublicFacts:
    credential_id: str
    types: tuple[str, ...]
    kind: str
    issuer_id: str | None
    issuer_name: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    validation: ValidationFacts | None


def public_facts(credential_id: str, document: dict[str, Any]) -> PublicFacts:
    types = tuple(_text(t) or "" for t in ob3.credential_types(document))
    issuer = document.get("issuer")
    issuer_id, issuer_name = None, None
    if isinstance(issuer, str):
        issuer_id = _text(issuer)
    elif isinstance(issuer, dict):
        issuer = cast(dict[str, Any], issuer)
        issuer_id, issuer_name = _text(issuer.get("id")), _text(issuer.get("name"))
    valid_from = timestamp_or_none(document.get("validFrom", document.get("issuanceDate")))
    valid_until = timestamp_or_none(document.get("validUntil", document.get("expirationDate")))
    validation = _validation(document) if VALIDATION_CREDENTIAL in types else None
    return PublicFacts(
        credential_id=credential_id,
        types=types,
        kind=_kind(types),
        issuer_id=issuer_id,
        issuer_name=issuer_name,
        valid_from=valid_from,
        valid_until=valid_until,
        validation=validation,
    )


def is_validation_credential(document: dict[str, Any]) -> bool:
    return VALIDATION_CREDENTIAL in ob3.credential_types(document)


def _kind(types: tuple[str, ...]) -> str:
    for name, label in _KIND_LABELS:
        if name in types:
            return label
    specific = [t for t in types if t and t != "VerifiableCredential"]
    return specific[0] if specific else "Verifiable credential"


def _validation(document: dict[str, Any]) -> ValidationFacts:
    subject = _object(document.get("credentialSubject"))
    run = _object(subject.get("validation"))
    resource = _object(subject.get("resource"))
    listed = run.get("validators")
    entries = [_object(v) for v in cast(list[Any], listed)] if isinstance(listed, list) else []
    validators = tuple(
        Validator(_text(v.get("code")) or "?", _text(v.get("version")), _text(v.get("validationType")))
        for v in entries[:MAX_VALIDATORS]
    )
    try:
        content_hash, hash_problem = expected_hash(document), None
    except UnreadableHash as exc:
        content_hash, hash_problem = None, str(exc)
    size = resource.get("size")
    return ValidationFacts(
        workflow_id=_text(run.get("workflowId")),
        workflow_slug=_text(run.get("workflowSlug")),
        workflow_version=_text(run.get("workflowVersion")),
        run_id=_text(run.get("runId")),
        result=_text(run.get("status")),
        completed_at=timestamp_or_none(run.get("completedAt")),
        validators=validators,
        more_validators=max(0, len(entries) - MAX_VALIDATORS),
        content_hash=content_hash,
        hash_problem=hash_problem,
        media_type=_text(resource.get("mediaType")),
        filename=_text(resource.get("filename")),
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
    )


def _object(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    return clean_text(value, MAX_TEXT) or None
