"""Sealed European Digital Credentials as files: for admins by credential id, for learners by a public link.

The public link carries a random token; only its SHA-256 is stored, so a database dump holds no working
links, and minting a new link replaces the old one. A revoked or suspended credential is not handed out
through the link (410); the admin API still returns it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, cast

from ec_issuer.access.model import ApiClient
from ec_issuer.core.encoding import loads
from ec_issuer.core.errors import Gone, NotFound
from ec_issuer.core.ports import Clock
from ec_issuer.core.unit_of_work import UnitOfWorkFactory
from ec_issuer.credentials.issuing import download_token_hash
from ec_issuer.credentials.model import CredentialStatus, IssuedCredential
from ec_issuer.credentials.reading import CredentialReader

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_UNSAFE_IN_FILE_NAME = re.compile(r"[^\w .()-]+", re.UNICODE)
MAX_FILE_NAME = 100


@dataclass(frozen=True, slots=True)
class SealedFile:
    credential: IssuedCredential
    content: bytes
    file_name: str  # "<title>.jsonld", safe for Content-Disposition


class EuropeanFiles:
    def __init__(self, uow: UnitOfWorkFactory, reader: CredentialReader, clock: Clock) -> None:
        self._uow = uow
        self._reader = reader
        self._clock = clock

    def for_admin(self, client: ApiClient, credential_id: str) -> SealedFile:
        """The EDC itself, or the one issued beside the Open Badge `credential_id`."""
        return _as_file(self._european_of(client, credential_id))

    def new_link_token(self, client: ApiClient, credential_id: str) -> tuple[IssuedCredential, str]:
        credential = self._european_of(client, credential_id)
        token = secrets.token_urlsafe(32)
        with self._uow() as uow:
            uow.credentials.set_download_token(credential.id, download_token_hash(token))
            uow.commit()
        return credential, token

    def for_link(self, token: str) -> SealedFile:
        if not _TOKEN.match(token):
            raise NotFound("no such download")
        with self._uow() as uow:
            credential = uow.credentials.get_by_download_token(download_token_hash(token))
        if credential is None:
            raise NotFound("no such download")
        status = credential.effective_status(self._clock.now())
        if status in (CredentialStatus.REVOKED, CredentialStatus.SUSPENDED):
            raise Gone(f"this credential was {status.value} by its issuer")
        return _as_file(credential)

    def _european_of(self, client: ApiClient, credential_id: str) -> IssuedCredential:
        credential = self._reader.get(client, credential_id)
        if credential.is_sealed_file:
            return credential
        if credential.companion_id is not None:
            companion = self._reader.get(client, credential.companion_id)
            if companion.is_sealed_file:
                return companion
        raise NotFound(f"credential '{credential_id}' has no European Digital Credential")


def _as_file(credential: IssuedCredential) -> SealedFile:
    return SealedFile(credential, credential.signed.encode("utf-8"), file_name(credential.payload))


def file_name(payload: bytes) -> str:
    """`<title>.jsonld` from the credential's display title, reduced to characters safe in a file name."""
    title = "European Digital Credential"
    try:
        document = loads(payload)
        titles = cast(dict[str, Any], document["displayParameter"]["title"])
        first = next(iter(titles.values()))
        if isinstance(first, str) and first.strip():
            title = first
    except (ValueError, KeyError, TypeError, StopIteration):
        pass
    safe = _UNSAFE_IN_FILE_NAME.sub("_", title).strip(" ._")[:MAX_FILE_NAME] or "credential"
    return f"{safe}.jsonld"
