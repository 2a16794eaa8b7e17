"""Status lists as the issuer keeps them: kinds, where they are published, what a credential's entry says.

Each issuer has lists of three kinds, each opened anew when the last one fills:

- ``revocation`` and ``suspension``: W3C Bitstring Status Lists (one bit per credential), referenced from
  a credential's ``credentialStatus`` by a ``BitstringStatusListEntry``;
- ``token``: an IETF Token Status List (two bits per credential: valid, invalid, suspended), referenced
  from the ``status`` claim of JWT-secured credentials.

A list's value for a credential is a function of the credential's stored status, so the published list
is always derived from the credentials themselves and no update to it can be lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ec_issuer.credentials.model import CredentialStatus
from ec_issuer.status.token_status_list import TokenStatus

BITSTRING_ENTRY_TYPE = "BitstringStatusListEntry"
BITSTRING_CREDENTIAL_TYPE = "BitstringStatusListCredential"
BITSTRING_SUBJECT_TYPE = "BitstringStatusList"


class StatusListKind(StrEnum):
    REVOCATION = "revocation"
    SUSPENSION = "suspension"
    TOKEN = "token"  # noqa: S105 - a kind of list, not a credential

    @property
    def bits_per_entry(self) -> int:
        return 2 if self is StatusListKind.TOKEN else 1

    @property
    def is_bitstring(self) -> bool:
        return self is not StatusListKind.TOKEN


BITSTRING_PURPOSES = (StatusListKind.REVOCATION, StatusListKind.SUSPENSION)
DEFAULT_STATUS_PURPOSES = ("revocation", "suspension")


def list_value(kind: StatusListKind, status: CredentialStatus) -> int:
    """What a list of this kind publishes for a credential in this status (0 = nothing to report).

    Expiry is not published: it is stated by the credential's own validUntil / exp.
    """
    if kind is StatusListKind.REVOCATION:
        return int(status is CredentialStatus.REVOKED)
    if kind is StatusListKind.SUSPENSION:
        return int(status is CredentialStatus.SUSPENDED)
    if status is CredentialStatus.REVOKED:
        return TokenStatus.INVALID
    if status is CredentialStatus.SUSPENDED:
        return TokenStatus.SUSPENDED
    return TokenStatus.VALID


@dataclass(frozen=True, slots=True)
class StatusSlot:
    """A credential's place in one list: which list, which index, and the list's public URL."""

    list_id: str
    kind: StatusListKind
    index: int
    url: str

    def bitstring_entry(self) -> dict[str, Any]:
        """The ``credentialStatus`` entry (Bitstring Status List v1.0 §2.1); the index is a string."""
        return {
            "id": f"{self.url}#{self.index}",
            "type": BITSTRING_ENTRY_TYPE,
            "statusPurpose": self.kind.value,
            "statusListIndex": str(self.index),
            "statusListCredential": self.url,
        }

    def token_claim(self) -> dict[str, Any]:
        """The ``status`` claim of a Referenced Token (draft-ietf-oauth-status-list §6)."""
        return {"status_list": {"idx": self.index, "uri": self.url}}

    @property
    def ref(self) -> str:
        """How a credential record names its slot: ``<list id>#<index>``, unique across all lists."""
        return f"{self.list_id}#{self.index}"


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """A credential's slot in a list, as the list's published values refer to it."""

    credential_id: str
    list_id: str
    kind: StatusListKind
    index: int

    @classmethod
    def from_ref(cls, credential_id: str, ref: str) -> StatusEntry:
        list_id, _, index = ref.partition("#")
        return cls(credential_id, list_id, kind_of_list(list_id), int(index))


def kind_of_list(list_id: str) -> StatusListKind:
    """The kind a list id names (``<issuer slug>/<kind>/<number>``)."""
    return StatusListKind(list_id.split("/")[1])


@dataclass(frozen=True, slots=True)
class StatusListRecord:
    """A list as stored: identity, size, the revision of its contents and its last publication."""

    id: str
    issuer_slug: str
    kind: StatusListKind
    number: int
    size: int
    revision: int
    published_revision: int | None = None
    published_jwt: str | None = None
    published_document: str | None = None


_LIST_PATH = re.compile(
    r"^/issuers/(?P<slug>[a-z0-9-]{1,64})/status/(?P<kind>revocation|suspension|token)/(?P<n>[1-9][0-9]{0,8})$"
)


@dataclass(frozen=True, slots=True)
class StatusListUrls:
    """Stable public URLs of status lists: ``<base>/issuers/<slug>/status/<kind>/<number>``."""

    base_url: str

    @staticmethod
    def list_id(issuer_slug: str, kind: StatusListKind, number: int) -> str:
        return f"{issuer_slug}/{kind.value}/{number}"

    def path(self, list_id: str) -> str:
        slug, kind, number = list_id.split("/")
        return f"/issuers/{slug}/status/{kind}/{number}"

    def url(self, list_id: str) -> str:
        return self.base_url.rstrip("/") + self.path(list_id)

    def list_id_for_url(self, url: str) -> str | None:
        """The id of one of our lists when the URL is ours, else None (a list another issuer publishes)."""
        base = self.base_url.rstrip("/")
        if not url.startswith(base + "/"):
            return None
        match = _LIST_PATH.match(url[len(base) :])
        if match is None:
            return None
        return f"{match['slug']}/{match['kind']}/{match['n']}"
