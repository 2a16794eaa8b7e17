"""Which family a JSON-LD credential document belongs to, decided by its `type`: the one table that says
what a document is stored as (`issued_credentials.family`, `format_version`) and which JSON Schema it must
satisfy. Sealed European Digital Credentials are not JSON-LD documents of ours and have their own family
(`elm/issuing.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ec_issuer.core.vcdm import is_v1
from ec_issuer.credentials import ob3

VALIDATION_CREDENTIAL_TYPE = "ValidationCredential"


@dataclass(frozen=True, slots=True)
class CredentialFamily:
    name: str
    format_version: str
    # The JSON Schema its documents are checked against before signing and when verified, by title;
    # None when only the VC data model applies.
    schema_title: str | None = None


OPEN_BADGES = CredentialFamily(ob3.FAMILY, ob3.FORMAT_VERSION, "Open Badges 3.0 AchievementCredential")
VALIDATION_ATTESTATION = CredentialFamily("validation-attestation", "ec-validation-1+vcdm-2.0", "ValidationCredential")
PLAIN_VC = CredentialFamily("vc", "vcdm-2.0")
PLAIN_VC_V1 = CredentialFamily("vc", "vcdm-1.1")

_BY_TYPE = {
    "AchievementCredential": OPEN_BADGES,
    "OpenBadgeCredential": OPEN_BADGES,
    VALIDATION_CREDENTIAL_TYPE: VALIDATION_ATTESTATION,
}


def family_of(document: dict[str, Any]) -> CredentialFamily:
    for credential_type in ob3.credential_types(document):
        family = _BY_TYPE.get(credential_type)
        if family is not None:
            return family
    return PLAIN_VC_V1 if is_v1(document) else PLAIN_VC
