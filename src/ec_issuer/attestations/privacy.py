"""What a ValidationCredential may publish: opaque identifiers, hashes, media types, workflow and validator
codes, a status and times. Anything that could identify a person is refused unless the organization opted in
(`OrganizationPrivacy`). The rules are heuristics, documented in docs/validation-credentials.md:

1. a value that contains an e-mail address, in any published field, is personal data;
2. an identifier, slug or file name made of two or more capitalised words in a row ("Jane.Doe",
   "Jane_Doe-report", "Jane Doe.idf") looks like a personal name, and is personal data too;
3. a file name is published only when the organization allows file names: people name files after people.

A lower-case name ("jane.doe") or a single word passes rule 2; that is the price of not refusing ordinary
slugs. Validator codes, versions and types are platform vocabulary and only checked against rule 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from ec_issuer.attestations.commands import IssueValidationCredential
from ec_issuer.attestations.model import OrganizationPrivacy
from ec_issuer.core.errors import FieldError, InvalidInput

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@.]{2,}")
# Identifiers use "._~:@+-" as separators, file names also blanks.
_WORD_SEPARATORS = re.compile(r"[\s._~:@+-]+")


class Disclosure(Enum):
    PERSONAL_DATA = "allowPersonalData"
    FILENAME = "allowFilenames"


@dataclass(frozen=True, slots=True)
class Finding:
    pointer: str  # into the request body
    disclosure: Disclosure
    detail: str


def findings(command: IssueValidationCredential) -> list[Finding]:
    """Everything the credential would publish that needs the organization's opt-in."""
    found: list[Finding] = []
    for pointer, value, may_name_a_person in _published_values(command):
        if _EMAIL.search(value):
            found.append(Finding(pointer, Disclosure.PERSONAL_DATA, "looks like an e-mail address"))
        elif may_name_a_person and looks_like_a_personal_name(value):
            found.append(Finding(pointer, Disclosure.PERSONAL_DATA, "looks like a personal name"))
    if command.submission.resource.filename is not None:
        found.append(Finding("/submission/resource/filename", Disclosure.FILENAME, "file names may name people"))
    return found


def refuse_undisclosable(found: list[Finding], privacy: OrganizationPrivacy) -> None:
    allowed = {
        Disclosure.PERSONAL_DATA: privacy.allow_personal_data,
        Disclosure.FILENAME: privacy.allow_filenames,
    }
    refused = [finding for finding in found if not allowed[finding.disclosure]]
    if refused:
        raise InvalidInput(
            f"the credential would publish what organization '{privacy.organization_id}' has not allowed",
            [
                FieldError(f.pointer, f"{f.detail}; published only when the organization sets {f.disclosure.value}")
                for f in refused
            ],
        )


def looks_like_a_personal_name(value: str) -> bool:
    words = [word for word in _WORD_SEPARATORS.split(value) if word]
    capitalised_in_a_row = 0
    for word in words:
        capitalised_in_a_row = capitalised_in_a_row + 1 if _is_capitalised(word) else 0
        if capitalised_in_a_row >= 2:
            return True
    return False


def _is_capitalised(word: str) -> bool:
    # isupper/islower/isalpha know every script's letters: "Émile Brontë" counts like "Jane Doe".
    return len(word) >= 2 and word[0].isupper() and word[1:].isalpha() and word[1:].islower()


def _published_values(command: IssueValidationCredential) -> list[tuple[str, str, bool]]:
    """(request pointer, value, whether it could be a name) of every string the credential publishes."""
    run, resource = command.run, command.submission.resource
    values = [
        ("/submission/id", command.submission.id, True),
        ("/run/id", run.id, True),
        ("/run/workflow/id", run.workflow.id, True),
        ("/run/workflow/slug", run.workflow.slug, True),
        ("/run/workflow/version", run.workflow.version, False),
        ("/submission/resource/mediaType", resource.mediaType, False),
    ]
    if resource.filename is not None:
        values.append(("/submission/resource/filename", resource.filename, True))
    for index, validator in enumerate(run.validators):
        for name in ("code", "version", "validationType"):
            values.append((f"/run/validators/{index}/{name}", getattr(validator, name), False))
    return values
