"""Reading issued credentials back: one by id, or pages of them with filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ec_issuer.access.model import ApiClient
from ec_issuer.core.encoding import b64url_decode, b64url_encode, dumps, format_datetime, loads, parse_datetime
from ec_issuer.core.errors import FieldError, InvalidInput, NotFound
from ec_issuer.core.ports import Clock
from ec_issuer.core.unit_of_work import UnitOfWorkFactory
from ec_issuer.core.validation import reject_control_characters
from ec_issuer.credentials.model import CredentialFilter, CredentialStatus, IssuedCredential, PageCursor
from ec_issuer.credentials.recipient import RecipientReferencer
from ec_issuer.issuers.service import find_issuer

MAX_PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class ListQuery:
    issuer: str | None = None
    status: str | None = None
    recipient: str | None = None
    issued_after: datetime | None = None
    issued_before: datetime | None = None
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Page:
    items: list[IssuedCredential]
    next_cursor: str | None


def encode_cursor(cursor: PageCursor) -> str:
    return b64url_encode(dumps([format_datetime(cursor.issued_at), cursor.id]))


def decode_cursor(text: str) -> PageCursor:
    try:
        issued_at, credential_id = loads(b64url_decode(text))
        return PageCursor(parse_datetime(str(issued_at)), reject_control_characters(str(credential_id)))
    except (ValueError, TypeError):
        raise InvalidInput(
            "the cursor is not valid", [FieldError("cursor", "use the value a previous page returned")]
        ) from None


class CredentialReader:
    def __init__(self, uow: UnitOfWorkFactory, recipients: RecipientReferencer) -> None:
        self._uow = uow
        self._recipients = recipients

    def get(self, client: ApiClient, credential_id: str) -> IssuedCredential:
        credential = self.find(credential_id)
        if credential is None or not client.may_use_issuer(credential.issuer_slug):
            raise NotFound(f"no credential '{credential_id}'")
        return credential

    def find(self, credential_id: str) -> IssuedCredential | None:
        """Any client's credential, for the public verification page: whoever holds a credential may check
        it, so no issuer scope applies (the page decides what of it to show)."""
        with self._uow() as uow:
            credential = uow.credentials.get(normalize_credential_id(credential_id))
            if credential is None and ":" not in credential_id:
                credential = uow.credentials.get(f"urn:credential:{credential_id}")  # a European Digital Credential
        return credential

    def page(self, client: ApiClient, query: ListQuery) -> Page:
        if not 1 <= query.limit <= MAX_PAGE_SIZE:
            raise InvalidInput("limit is out of range", [FieldError("limit", f"must be 1 to {MAX_PAGE_SIZE}")])
        status = None
        if query.status is not None:
            try:
                status = CredentialStatus(query.status)
            except ValueError:
                allowed = ", ".join(s.value for s in CredentialStatus)
                raise InvalidInput("unknown status", [FieldError("status", f"one of {allowed}")]) from None
        with self._uow() as uow:
            scope = client.issuer_scope
            if query.issuer is not None:
                issuer = find_issuer(uow, query.issuer)
                slug = issuer.slug if issuer else query.issuer
                # A filter outside the client's scope simply matches nothing.
                scope = () if scope is not None and slug not in scope else (slug,)
            where = CredentialFilter(
                issuer_slugs=scope,
                status=status,
                subject_ref=self._recipients.ref_for_query(query.recipient) if query.recipient else None,
                issued_after=query.issued_after,
                issued_before=query.issued_before,
            )
            after = decode_cursor(query.cursor) if query.cursor else None
            rows = uow.credentials.page(where, after, query.limit + 1)
        items = rows[: query.limit]
        next_cursor = None
        if len(rows) > query.limit:
            last = items[-1]
            next_cursor = encode_cursor(PageCursor(last.issued_at, last.id))
        return Page(items, next_cursor)


def normalize_credential_id(credential_id: str) -> str:
    """Credentials are addressed by their id or by the bare UUID (`urn:uuid:` ids; EDCs' `urn:credential:`
    ids are tried next by `CredentialReader.get`)."""
    return credential_id if ":" in credential_id else f"urn:uuid:{credential_id}"


class StoredStatuses:
    """The verifier's view of credentials issued here: their status, expiry included."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def status_of(self, credential_id: str, issuer_id: str) -> CredentialStatus | None:
        with self._uow() as uow:
            credential = uow.credentials.get(credential_id)
            issuer = uow.issuers.get(credential.issuer_slug) if credential else None
        if credential is None or issuer is None or issuer.did != issuer_id:
            return None
        return credential.effective_status(self._clock.now())
