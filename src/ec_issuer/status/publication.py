"""Publishing status lists: the signed list as verifiers fetch it, rebuilt only when its values changed.

- A Bitstring Status List is published as a ``BitstringStatusListCredential`` (VC 2.0), secured twice:
  as ``vc+jwt`` and with an embedded Data Integrity proof (eddsa-rdfc-2022 when the issuer has an
  Ed25519 key, else ecdsa-rdfc-2019).
- A Token Status List is published as a Status List Token, a JWT with ``typ: statuslist+jwt``.

The published form of a revision is stored with the list, so every worker serves the same bytes and
signs a revision at most a few times (when several requests race to rebuild it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ec_issuer.core.encoding import b64url_encode, dumps, format_datetime
from ec_issuer.core.errors import NotFound
from ec_issuer.core.ports import Clock
from ec_issuer.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from ec_issuer.core.vcdm import VC_V2_CONTEXT
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm, KeyState, SigningKey
from ec_issuer.keys.ports import KeyCustody
from ec_issuer.keys.service import active_signing_key, custody_named
from ec_issuer.signing.data_integrity.signer import add_proof
from ec_issuer.signing.jose import sign_compact, sign_vc_jwt
from ec_issuer.status.bitstring import BitstringStatusList
from ec_issuer.status.lists import (
    BITSTRING_CREDENTIAL_TYPE,
    BITSTRING_SUBJECT_TYPE,
    StatusListKind,
    StatusListRecord,
    StatusListUrls,
)
from ec_issuer.status.token_status_list import TokenStatusList

STATUS_LIST_JWT_TYP = "statuslist+jwt"
STATUS_LIST_JWT_MEDIA_TYPE = "application/statuslist+jwt"
# The draft asks for the highest level; on lists this sparse, level 9 costs several times level 6's
# time for output a few bytes shorter (bench/status.py measures both).
TOKEN_LIST_ZLIB_LEVEL = 6


@dataclass(frozen=True, slots=True)
class PublishedList:
    kind: StatusListKind
    revision: int
    jwt: str  # vc+jwt of the list credential, or the Status List Token
    document: str | None  # the list credential with its Data Integrity proof (bitstring lists only)

    @staticmethod
    def etag(body: str) -> str:
        """A strong validator for one representation, unquoted: its bytes decide it."""
        return b64url_encode(hashlib.sha256(body.encode()).digest()[:18])


@dataclass(frozen=True, slots=True)
class ListContents:
    """What a list says at one revision, before it is signed."""

    record: StatusListRecord
    reported: list[tuple[int, int]]


class StatusListPublisher:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        custodians: Mapping[str, KeyCustody],
        clock: Clock,
        urls: StatusListUrls,
        ttl_seconds: int,
    ) -> None:
        self._uow = uow
        self._custodians = custodians
        self._clock = clock
        self._urls = urls
        self._ttl_seconds = ttl_seconds

    @property
    def ttl_seconds(self) -> int:
        return self._ttl_seconds

    def current(self, list_id: str) -> PublishedList:
        """The list as published now, signing the latest revision first if nobody has yet."""
        with self._uow() as uow:
            record = uow.status_lists.get(list_id)
            if record is None:
                raise NotFound(f"no status list '{list_id}'")
            if record.published_revision == record.revision and record.published_jwt is not None:
                return PublishedList(record.kind, record.revision, record.published_jwt, record.published_document)
            # The revision is read before the values: a change committed in between is published
            # under the older revision number and published again on the next request.
            contents = ListContents(record, uow.status_lists.reported(list_id))
            issuer = uow.issuers.get(record.issuer_slug)
            if issuer is None:  # pragma: no cover - a foreign key guarantees it
                raise NotFound(f"no issuer '{record.issuer_slug}'")
            now = self._clock.now()
            published = self.sign(uow, issuer, contents, now)
            uow.status_lists.save_publication(list_id, record.revision, published.jwt, published.document, now)
            uow.commit()
            return published

    def sign(self, uow: UnitOfWork, issuer: Issuer, contents: ListContents, now: datetime) -> PublishedList:
        record = contents.record
        url = self._urls.url(record.id)
        jwt_key = _preferred_key(uow, issuer, (Algorithm.ES256, Algorithm.EDDSA))
        if record.kind is StatusListKind.TOKEN:
            claims = token_list_claims(issuer, url, record.size, contents.reported, now, self._ttl_seconds)
            jwt = sign_compact(dumps(claims), jwt_key, self._custody(jwt_key), typ=STATUS_LIST_JWT_TYP)
            return PublishedList(record.kind, record.revision, jwt, None)
        credential = bitstring_list_credential(
            issuer, url, record.kind, record.size, contents.reported, now, self._ttl_seconds
        )
        jwt = sign_vc_jwt(dumps(credential), jwt_key, self._custody(jwt_key))
        proof_key = _preferred_key(uow, issuer, (Algorithm.EDDSA, Algorithm.ES256))
        document = add_proof(credential, proof_key, self._custody(proof_key), created=now)
        return PublishedList(record.kind, record.revision, jwt, dumps(document).decode())

    def _custody(self, key: SigningKey) -> KeyCustody:
        return custody_named(self._custodians, key.custody)


def bitstring_list_credential(
    issuer: Issuer,
    url: str,
    kind: StatusListKind,
    size: int,
    reported: list[tuple[int, int]],
    now: datetime,
    ttl_seconds: int,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` (Bitstring Status List v1.0 §2.2)."""
    bits = BitstringStatusList.with_set(size, (index for index, value in reported if value))
    return {
        "@context": [VC_V2_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", BITSTRING_CREDENTIAL_TYPE],
        "issuer": issuer.did,
        "validFrom": format_datetime(now),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": BITSTRING_SUBJECT_TYPE,
            "statusPurpose": kind.value,
            "encodedList": bits.encode(),
            "ttl": ttl_seconds * 1000,  # milliseconds in this specification
        },
    }


def token_list_claims(
    issuer: Issuer, url: str, size: int, reported: list[tuple[int, int]], now: datetime, ttl_seconds: int
) -> dict[str, Any]:
    """The claims of a Status List Token (draft-ietf-oauth-status-list §5.1)."""
    values = TokenStatusList.with_values(size, reported, bits=StatusListKind.TOKEN.bits_per_entry)
    return {
        "iss": issuer.did,
        "sub": url,
        "iat": int(now.timestamp()),
        "ttl": ttl_seconds,  # seconds in this specification
        "status_list": values.to_claim(level=TOKEN_LIST_ZLIB_LEVEL),
    }


def _preferred_key(uow: UnitOfWork, issuer: Issuer, algorithms: tuple[Algorithm, ...]) -> SigningKey:
    held = {k.algorithm for k in uow.keys.for_issuer(issuer.slug) if k.state is KeyState.ACTIVE}
    for algorithm in algorithms:
        if algorithm in held:
            return active_signing_key(uow, issuer, algorithm, "")
    return active_signing_key(uow, issuer, algorithms[0], "")
