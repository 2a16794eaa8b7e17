"""Open Badges 3.0 AchievementCredentials: built from an IssueCredential command, or completed
from a caller's own document. Both produce VC 2.0 JSON ready for schema validation and signing."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast

from ec_issuer.core.encoding import dumps, format_datetime, parse_datetime
from ec_issuer.core.errors import FieldError, InvalidInput, MalformedInput
from ec_issuer.core.validation import reject_control_characters
from ec_issuer.core.vcdm import VC_V1_CONTEXT, VC_V2_CONTEXT
from ec_issuer.credentials.commands import Achievement, IssueCredential
from ec_issuer.credentials.recipient import RecipientIdentity
from ec_issuer.issuers.model import Issuer

OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB3_TYPES = frozenset({"AchievementCredential", "OpenBadgeCredential"})
FAMILY = "open-badges-3.0"
FORMAT_VERSION = "ob-3.0.3+vcdm-2.0"

JsonObject = dict[str, Any]


def credential_types(document: JsonObject) -> list[str]:
    types = document.get("type")
    if isinstance(types, str):
        return [types]
    if isinstance(types, list):
        return [t for t in cast(list[Any], types) if isinstance(t, str)]
    return []


def is_open_badge(document: JsonObject) -> bool:
    return bool(OB3_TYPES.intersection(credential_types(document)))


def build_achievement_credential(
    command: IssueCredential,
    *,
    issuer: Issuer,
    credential_id: str,
    valid_from: datetime,
    recipient: RecipientIdentity,
) -> JsonObject:
    subject: JsonObject = {"type": ["AchievementSubject"], **recipient.subject_fields}
    subject["achievement"] = _achievement(command.achievement)
    if command.results:
        subject["result"] = [{"type": ["Result"], **result.model_dump(exclude_none=True)} for result in command.results]
    if command.creditsEarned is not None:
        subject["creditsEarned"] = command.creditsEarned
    if command.narrative:
        subject["narrative"] = command.narrative

    credential: JsonObject = {
        "@context": [VC_V2_CONTEXT, OB3_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "AchievementCredential"],
        "name": command.name or command.achievement.name,
    }
    if command.description:
        credential["description"] = command.description
    credential["issuer"] = issuer.profile()
    credential["validFrom"] = format_datetime(valid_from)
    if command.validUntil:
        credential["validUntil"] = format_datetime(command.validUntil)
    if command.awardedDate:
        credential["awardedDate"] = format_datetime(command.awardedDate)
    credential["credentialSubject"] = subject
    if command.evidence:
        credential["evidence"] = [
            {"type": ["Evidence"], **evidence.model_dump(exclude_none=True)} for evidence in command.evidence
        ]
    return credential


def _achievement(achievement: Achievement) -> JsonObject:
    body: JsonObject = {
        "id": achievement.id,
        "type": ["Achievement"],
        "name": achievement.name,
        "description": achievement.description,
        "criteria": achievement.criteria.model_dump(exclude_none=True),
    }
    if achievement.image:
        body["image"] = {"id": achievement.image, "type": "Image"}
    if achievement.achievementType:
        body["achievementType"] = achievement.achievementType
    if achievement.alignment:
        body["alignment"] = [{"type": ["Alignment"], **a.model_dump(exclude_none=True)} for a in achievement.alignment]
    if achievement.resultDescription:
        body["resultDescription"] = [
            {"type": ["ResultDescription"], **r.model_dump(exclude_none=True)} for r in achievement.resultDescription
        ]
    for optional in ("creditsAvailable", "fieldOfStudy", "humanCode", "inLanguage", "tag"):
        value = getattr(achievement, optional)
        if value is not None:
            body[optional] = value
    return body


def complete_document(document: JsonObject, *, issuer: Issuer, credential_id: str, now: datetime) -> JsonObject:
    """Fill in what a caller-built credential may leave out (`id`, `issuer`, `validFrom`) and refuse
    what would make it unsignable by this issuer. Field pointers are relative to the request body."""
    if "proof" in document:
        raise InvalidInput(
            "the credential is already secured",
            [FieldError("/credential/proof", "remove the proof: this service signs the document itself")],
        )
    control = _find_control_character(document, "/credential")
    if control:
        raise InvalidInput(
            "the credential contains a control character", [FieldError(control, "control characters are not allowed")]
        )
    _refuse_conflicting_jwt_claims(document, issuer)
    completed: JsonObject = dict(document)
    claimed = completed.get("issuer")
    if claimed is None:
        completed["issuer"] = issuer.profile()
    else:
        claimed_id = cast(dict[str, Any], claimed).get("id") if isinstance(claimed, dict) else claimed
        if claimed_id != issuer.did:
            raise MalformedInput(
                f"the credential names issuer {claimed_id!r}, but issuer '{issuer.slug}' is {issuer.did}",
                [FieldError("/credential/issuer", f"must be {issuer.did}")],
            )
    completed.setdefault("id", credential_id)
    if "validFrom" not in completed and "issuanceDate" not in completed:
        completed["validFrom"] = format_datetime(now)
    _check_vcdm_shape(completed)
    return completed


def _refuse_conflicting_jwt_claims(document: JsonObject, issuer: Issuer) -> None:
    # The document becomes the JWT claims set as is (VC-JOSE-COSE 3.1.1): `vc`/`vp` wrappers are
    # forbidden there, and an `iss` naming someone else would contradict the issuer we sign for.
    for wrapper in ("vc", "vp"):
        if wrapper in document:
            raise InvalidInput(
                f"the credential carries a '{wrapper}' claim",
                [
                    FieldError(
                        f"/credential/{wrapper}",
                        "VC-JOSE-COSE forbids the VC-JWT 1.1 wrappers; send the bare credential",
                    )
                ],
            )
    if "iss" in document and document["iss"] != issuer.did:
        raise MalformedInput(
            f"the credential's 'iss' claim does not name issuer '{issuer.slug}'",
            [FieldError("/credential/iss", f"must be {issuer.did} or absent")],
        )


def validity_window(document: JsonObject) -> tuple[datetime | None, datetime | None]:
    """validFrom/validUntil (VC 2.0) or issuanceDate/expirationDate (VC 1.1), parsed."""
    start = document.get("validFrom", document.get("issuanceDate"))
    end = document.get("validUntil", document.get("expirationDate"))
    return (
        parse_datetime(start) if isinstance(start, str) else None,
        parse_datetime(end) if isinstance(end, str) else None,
    )


# What a control character (core/validation.py: C0 but TAB/LF/CR, DEL, C1) can look like in orjson's output:
# an escape (\u00XX, \b, \f) or, for DEL and C1, itself. Also matches some harmless text (an escaped
# backslash before a "b"), which only costs the walk below.
_MAYBE_CONTROL_IN_JSON = re.compile(rb"\\(?:u00[01]|b|f)|\x7f|\xc2[\x80-\x9f]")


def _find_control_character(document: JsonObject, pointer: str) -> str | None:
    """The JSON Pointer of the first string (key or value) holding a control character, if any."""
    if not _MAYBE_CONTROL_IN_JSON.search(dumps(document)):
        return None  # one regular expression over the encoded document instead of a walk of every string
    return _walk_for_control_character(document, pointer)


def _walk_for_control_character(value: object, pointer: str) -> str | None:
    if isinstance(value, str):
        try:
            reject_control_characters(value)
        except ValueError:
            return pointer
        return None
    if isinstance(value, dict):
        for key, item in cast(dict[str, Any], value).items():
            child = pointer + "/" + key.replace("~", "~0").replace("/", "~1")
            found = _walk_for_control_character(key, child) or _walk_for_control_character(item, child)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(cast(list[Any], value)):
            found = _walk_for_control_character(item, f"{pointer}/{index}")
            if found:
                return found
    return None


def _check_vcdm_shape(document: JsonObject) -> None:
    errors: list[FieldError] = []
    contexts = document.get("@context")
    if not isinstance(contexts, list) or not contexts:
        errors.append(FieldError("/credential/@context", "must be a non-empty array"))
    elif contexts[0] not in (VC_V2_CONTEXT, VC_V1_CONTEXT):
        errors.append(FieldError("/credential/@context/0", f"must be {VC_V2_CONTEXT}"))
    if "VerifiableCredential" not in credential_types(document):
        errors.append(FieldError("/credential/type", "must include 'VerifiableCredential'"))
    if not isinstance(document.get("credentialSubject"), dict):
        errors.append(FieldError("/credential/credentialSubject", "must be an object"))
    if not isinstance(document.get("id"), str):
        errors.append(FieldError("/credential/id", "must be a URI string"))
    for name in ("validFrom", "validUntil", "issuanceDate", "expirationDate"):
        value = document.get(name)
        if value is None:
            continue
        try:
            if not isinstance(value, str):
                raise ValueError
            parse_datetime(value)
        except ValueError:
            errors.append(FieldError(f"/credential/{name}", "must be an RFC 3339 timestamp with offset"))
    if not errors:
        start, end = validity_window(document)
        if start and end and end <= start:
            errors.append(FieldError("/credential/validUntil", "must be later than validFrom"))
    if errors:
        raise InvalidInput("the credential document is not a valid VC 2.0 credential", errors)
