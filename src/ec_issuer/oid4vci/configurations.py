"""The credential configurations we issue under, and how their ids are made.

Every configuration id is ``<prefix>_<format>``: the two generic ones have the prefix ``OpenBadgeCredential``,
those of a credential template have the template's id (oid4vci/templates.py). Template ids are slugs (lower
case, no ``_``), so an id splits at its first ``_`` without ambiguity, and none can equal a generic one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

GENERIC_PREFIX = "OpenBadgeCredential"
# The types our Open Badges credentials carry (credentials/ob3.py builds AchievementCredentials).
OB3_TYPES = ["VerifiableCredential", "AchievementCredential"]
TEMPLATE_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
FormatName = Literal["jwt_vc_json", "ldp_vc"]  # OID4VCI format identifiers, the keys of FORMATS
FORMAT_NAMES: tuple[FormatName, ...] = get_args(FormatName)


@dataclass(frozen=True, slots=True)
class CredentialFormat:
    name: str  # OID4VCI format identifier
    securing: str  # our securing format: "vc+jwt" or "data-integrity"
    signing_algorithms: tuple[str, ...]


FORMATS: dict[str, CredentialFormat] = {
    credential_format.name: credential_format
    for credential_format in (
        # VCDM 2.0 secured as VC-JOSE (vc+jwt). No OID4VCI 1.0 format profile covers VC 2.0 in a JWT; DIIP
        # and the deployed wallets carry it as jwt_vc_json (see docs/oid4vci.md).
        CredentialFormat("jwt_vc_json", "vc+jwt", ("ES256", "EdDSA")),
        CredentialFormat("ldp_vc", "data-integrity", ("eddsa-rdfc-2022", "ecdsa-rdfc-2019")),
    )
}


@dataclass(frozen=True, slots=True)
class CredentialConfiguration:
    id: str
    format: str  # OID4VCI format identifier
    securing: str
    signing_algorithms: tuple[str, ...]
    template_id: str | None = None  # None for the generic configurations


def configuration_id(prefix: str, format_name: str) -> str:
    return f"{prefix}_{format_name}"


def configuration_named(identifier: str) -> CredentialConfiguration | None:
    """The configuration an id names, generic or of a template (whether that template exists is not checked)."""
    prefix, _, format_name = identifier.partition("_")
    credential_format = FORMATS.get(format_name)
    if credential_format is None or (prefix != GENERIC_PREFIX and not TEMPLATE_ID.fullmatch(prefix)):
        return None
    return _configuration(prefix, credential_format)


def template_configuration(template_id: str, format_name: str) -> CredentialConfiguration:
    return _configuration(template_id, FORMATS[format_name])


def _configuration(prefix: str, credential_format: CredentialFormat) -> CredentialConfiguration:
    return CredentialConfiguration(
        configuration_id(prefix, credential_format.name),
        credential_format.name,
        credential_format.securing,
        credential_format.signing_algorithms,
        None if prefix == GENERIC_PREFIX else prefix,
    )


CONFIGURATIONS: dict[str, CredentialConfiguration] = {
    configuration.id: configuration
    for configuration in (_configuration(GENERIC_PREFIX, credential_format) for credential_format in FORMATS.values())
}
DEFAULT_CONFIGURATION = configuration_id(GENERIC_PREFIX, "jwt_vc_json")
