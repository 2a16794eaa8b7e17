"""The issuing use case: authorize, build, validate, sign and store a credential in one transaction."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel

from ec_issuer.access.model import ApiClient
from ec_issuer.access.policy import AuthorizationPolicy, IssueIntent
from ec_issuer.core.encoding import dumps, dumps_canonical
from ec_issuer.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from ec_issuer.core.validation import reject_control_characters
from ec_issuer.core.vcdm import is_v1
from ec_issuer.credentials import ob3
from ec_issuer.credentials.commands import OPEN_BADGE, IssueCredential, IssueRequest
from ec_issuer.credentials.families import family_of
from ec_issuer.credentials.model import BOTH, JADES, VC_JWT, CredentialStatus, IssuedCredential
from ec_issuer.credentials.ports import DuplicateCredentialId, DuplicateIdempotencyKey
from ec_issuer.credentials.recipient import RecipientIdentity, RecipientReferencer
from ec_issuer.credentials.schema import CredentialSchemaValidator
from ec_issuer.elm import issuing as elm_issuing
from ec_issuer.elm.issuing import EuropeanCredentialMaker
from ec_issuer.events import catalogue
from ec_issuer.issuers.model import Issuer
from ec_issuer.issuers.service import require_issuer_for
from ec_issuer.keys.model import DEFAULT_ALGORITHM, Algorithm, SigningKey
from ec_issuer.keys.ports import KeyCustody
from ec_issuer.keys.service import active_signing_key, custody_named
from ec_issuer.signing.data_integrity.signer import add_proof
from ec_issuer.signing.jose import sign_vc_jwt
from ec_issuer.status.lists import StatusListKind, StatusSlot
from ec_issuer.status.ports import StatusSlotAllocator

MAX_IDEMPOTENCY_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class IssueOutcome:
    credential: IssuedCredential
    replayed: bool  # True when an earlier request with the same idempotency key is answered again
    companion: IssuedCredential | None = None  # the EDC issued with an Open Badge from the same award
    # The token of the EDC's public download link; only its hash is stored, so a replay has none.
    download_token: str | None = None


@dataclass(frozen=True, slots=True)
class _Prepared:
    credentials: list[IssuedCredential]  # the one the request is answered with first
    download_token: str | None = None


class CredentialIssuer:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        policy: AuthorizationPolicy,
        custodians: Mapping[str, KeyCustody],
        schema: CredentialSchemaValidator,
        recipients: RecipientReferencer,
        clock: Clock,
        ids: IdGenerator,
        status_slots: StatusSlotAllocator,
        european: EuropeanCredentialMaker | None = None,
    ) -> None:
        self._uow = uow
        self._european = european or EuropeanCredentialMaker(None)
        self._status_slots = status_slots
        self._policy = policy
        self._custodians = custodians
        self._schema = schema
        self._recipients = recipients
        self._clock = clock
        self._ids = ids

    def issue(self, client: ApiClient, request: IssueRequest, idempotency_key: str | None = None) -> IssueOutcome:
        request_hash: str | None = None  # what a retry with the same key must repeat; without a key, nothing
        if idempotency_key is not None:
            _check_idempotency_key(idempotency_key)
            request_hash = canonical_request_hash(request)
        with self._uow() as uow:
            issuer = require_issuer_for(uow, client, request.issuer, "/issuer")
            if idempotency_key is not None:
                earlier = uow.credentials.get_by_idempotency_key(client.id, idempotency_key)
                if earlier is not None:
                    return _replay(uow, earlier, request_hash)
            prepared = self._prepare(uow, client, issuer, request, idempotency_key, request_hash)
            credential = prepared.credentials[0]
            try:
                for each in prepared.credentials:
                    self._record(uow, each, issuer)
                uow.commit()
            except DuplicateIdempotencyKey:
                pass  # a concurrent request with the same key won; answer as it was answered
            except DuplicateCredentialId:
                raise _id_taken(credential.id) from None  # a concurrent request stored the same id first
            else:
                companion = prepared.credentials[1] if len(prepared.credentials) > 1 else None
                return IssueOutcome(credential, False, companion, prepared.download_token)
        with self._uow() as uow:
            # Only the idempotency constraint raises DuplicateIdempotencyKey, so the key is set.
            earlier = uow.credentials.get_by_idempotency_key(client.id, idempotency_key or "")
            if earlier is None:
                raise Conflict("a concurrent request with this Idempotency-Key did not complete; retry")
            return _replay(uow, earlier, request_hash)

    def issue_all_in(
        self, uow: UnitOfWork, client: ApiClient, requests: Sequence[IssueRequest]
    ) -> list[IssuedCredential]:
        """Issue inside a unit of work the caller commits, so that the caller's own writes (an OID4VCI
        delivery, its used nonce; a validation attestation's links) stand or fall with the credentials. No
        idempotency key: the caller's writes say whether the request was answered before. The caller writes
        only after this returns."""
        prepared: list[tuple[IssuedCredential, Issuer]] = []
        # Every credential is prepared before the first is written: preparing may reserve status slots in
        # a transaction of its own, which on SQLite would wait forever behind this one's write lock.
        for request in requests:
            if isinstance(request, IssueCredential) and request.produce != [OPEN_BADGE]:
                raise InvalidInput(
                    "wallets receive Open Badges only",
                    [FieldError("/credential/produce", "leave it out: a European Digital Credential is a download")],
                )
            issuer = require_issuer_for(uow, client, request.issuer, "/issuer")
            made = self._prepare(uow, client, issuer, request, None, None)
            prepared.append((made.credentials[0], issuer))
        for credential, issuer in prepared:
            self._record(uow, credential, issuer)
        return [credential for credential, _ in prepared]

    def _record(self, uow: UnitOfWork, credential: IssuedCredential, issuer: Issuer) -> None:
        # Built before the first write: on SQLite, from that write to the commit no other worker may write.
        event = catalogue.credential_issued(self._ids, self._clock, credential, issuer.did)
        uow.credentials.add(credential)
        uow.outbox.add(event)

    def _prepare(
        self,
        uow: UnitOfWork,
        client: ApiClient,
        issuer: Issuer,
        request: IssueRequest,
        idempotency_key: str | None,
        request_hash: str | None,
    ) -> _Prepared:
        now = self._clock.now()
        credential_id = f"urn:uuid:{self._ids.new_id()}"
        if isinstance(request, IssueCredential):
            recipient = self._recipient_identity(request)
            achievement_id: str | None = request.achievement.id
            self._authorize(client, issuer, achievement_id, recipient.subject_ref)
            if not request.wants_open_badge:
                edc, token = self._european_credential(client, issuer, request, recipient, now, None)
                return _Prepared([replace(edc, idempotency_key=idempotency_key, request_hash=request_hash)], token)
            document = ob3.build_achievement_credential(
                request,
                issuer=issuer,
                credential_id=credential_id,
                valid_from=request.validFrom or now,
                recipient=recipient,
            )
            pointer_prefix = ""
        else:
            document = ob3.complete_document(request.credential, issuer=issuer, credential_id=credential_id, now=now)
            achievement_id, subject_ref = self._document_subject(document)
            recipient = RecipientIdentity({}, subject_ref)
            pointer_prefix = "/credential"
            self._authorize(client, issuer, achievement_id, recipient.subject_ref)

        securing = request.format or issuer.default_format
        if securing == VC_JWT:
            self._check_schema(document, pointer_prefix)
        # Only a caller-built document can bring an id that is taken; generated ones are fresh UUIDs.
        if document["id"] != credential_id and uow.credentials.get(str(document["id"])) is not None:
            raise _id_taken(str(document["id"]))
        slots = self._assign_status(issuer, document, securing, pointer_prefix)
        # eddsa-rdfc-2022 is the one Data Integrity suite 1EdTech certifies for Open Badges 3.0.
        default_algorithm = DEFAULT_ALGORITHM if securing == VC_JWT else Algorithm.EDDSA
        algorithm = Algorithm(request.algorithm) if request.algorithm else default_algorithm
        key = active_signing_key(uow, issuer, algorithm, "/algorithm")
        custody = custody_named(self._custodians, key.custody)
        jwt_document = _with_token_status(document, slots)
        if securing == VC_JWT:
            payload = dumps(jwt_document)
            signed = sign_vc_jwt(payload, key, custody)
        else:
            secured = _with_proof(document, key, custody, now, pointer_prefix)
            self._check_schema(secured, pointer_prefix)  # the proof too must have the schema's shape
            payload = dumps(secured)
            # With both, the JOSE artefact envelopes the credential without the proof: each stands alone.
            signed = sign_vc_jwt(dumps(jwt_document), key, custody) if securing == BOTH else payload.decode()
        valid_from, valid_until = ob3.validity_window(document)
        family = family_of(document)
        open_badge = IssuedCredential(
            id=str(document["id"]),
            issuer_slug=issuer.slug,
            family=family.name,
            format=securing,
            format_version=family.format_version,
            payload=payload,
            signed=signed,
            kid=key.kid,
            status=CredentialStatus.ACTIVE,
            issued_at=now,
            valid_from=valid_from,
            valid_until=valid_until,
            client_id=client.id,
            subject_ref=recipient.subject_ref,
            achievement_id=achievement_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            status_slots=tuple(slot.ref for slot in slots),
        )
        if not (isinstance(request, IssueCredential) and request.wants_european_credential):
            return _Prepared([open_badge])
        edc, token = self._european_credential(client, issuer, request, recipient, now, open_badge.id)
        return _Prepared([replace(open_badge, companion_id=edc.id), edc], token)

    def _authorize(self, client: ApiClient, issuer: Issuer, achievement_id: str | None, subject_ref: str) -> None:
        decision = self._policy.decide(IssueIntent(client, issuer.slug, achievement_id, subject_ref))
        if not decision.allowed:
            raise Forbidden(decision.reason)

    def _european_credential(
        self,
        client: ApiClient,
        issuer: Issuer,
        request: IssueCredential,
        recipient: RecipientIdentity,
        now: datetime,
        companion_id: str | None,
    ) -> tuple[IssuedCredential, str]:
        """The sealed EDC of the award, with the token of its public download link (stored hashed)."""
        sealed = self._european.make(request, issuer, credential_id=f"urn:credential:{self._ids.new_id()}", now=now)
        valid_from, valid_until = ob3.validity_window(sealed.document)
        token = secrets.token_urlsafe(32)
        credential = IssuedCredential(
            id=str(sealed.document["id"]),
            issuer_slug=issuer.slug,
            family=elm_issuing.FAMILY,
            format=JADES,
            format_version=elm_issuing.FORMAT_VERSION,
            payload=sealed.payload.encode("utf-8"),
            signed=sealed.sealed,
            kid=None,
            status=CredentialStatus.ACTIVE,
            issued_at=now,
            valid_from=valid_from,
            valid_until=valid_until,
            client_id=client.id,
            subject_ref=recipient.subject_ref,
            achievement_id=request.achievement.id,
            companion_id=companion_id,
            download_token_hash=download_token_hash(token),
        )
        return credential, token

    def _assign_status(
        self, issuer: Issuer, document: dict[str, Any], securing: str, pointer_prefix: str
    ) -> list[StatusSlot]:
        """Slots in the issuer's status lists, written into the document (``credentialStatus``).

        Open Badges 3.0 allows a single credentialStatus object, so OB3 credentials carry the first of
        the issuer's purposes; JWT-secured credentials also get a Token Status List slot (two bits:
        valid, invalid, suspended), whatever the purposes, since one entry covers both states.
        """
        if "credentialStatus" in document:
            raise InvalidInput(
                "credentialStatus is assigned by the issuer",
                [FieldError(pointer_prefix + "/credentialStatus", "leave it out: status list entries are assigned")],
            )
        purposes = [StatusListKind(p) for p in issuer.status_purposes]
        if not purposes or is_v1(document):
            return []  # VC 1.1 defines no BitstringStatusListEntry, and we vendor no status context for it
        if ob3.is_open_badge(document):
            purposes = purposes[:1]
        slots = [self._status_slots.allocate(issuer.slug, kind) for kind in purposes]
        entries = [slot.bitstring_entry() for slot in slots]
        document["credentialStatus"] = entries[0] if len(entries) == 1 else entries
        if securing in (VC_JWT, BOTH):
            slots.append(self._status_slots.allocate(issuer.slug, StatusListKind.TOKEN))
        return slots

    def _check_schema(self, document: dict[str, Any], pointer_prefix: str) -> None:
        schema_title = family_of(document).schema_title
        if schema_title is None:
            return
        errors = self._schema.errors(document)
        if errors:
            raise InvalidInput(
                f"the credential does not satisfy the {schema_title} schema",
                [FieldError(pointer_prefix + e.pointer, e.detail) for e in errors],
            )

    def _recipient_identity(self, request: IssueCredential) -> RecipientIdentity:
        # The command guarantees exactly one of the two.
        if request.recipient.email is not None:
            return self._recipients.email_identity(request.recipient.email)
        return self._recipients.did_identity(request.recipient.did or "")

    def _document_subject(self, document: dict[str, Any]) -> tuple[str | None, str]:
        subject = cast(dict[str, Any], document.get("credentialSubject") or {})
        achievement = subject.get("achievement")
        achievement_id = cast(dict[str, Any], achievement).get("id") if isinstance(achievement, dict) else None
        subject_id = subject.get("id")
        if isinstance(subject_id, str):
            return _str_or_none(achievement_id), self._recipients.ref_for_did(subject_id)
        identifiers = subject.get("identifier")
        if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], dict):
            first = cast(dict[str, Any], identifiers[0])
            return _str_or_none(achievement_id), self._recipients.ref_for_identity_hash(str(first.get("identityHash")))
        return _str_or_none(achievement_id), self._recipients.ref_for_identity_hash("")


def _with_token_status(document: dict[str, Any], slots: list[StatusSlot]) -> dict[str, Any]:
    """The document as a JWT payload: with the Token Status List ``status`` claim when it has a slot."""
    token = [slot for slot in slots if slot.kind is StatusListKind.TOKEN]
    return {**document, "status": token[0].token_claim()} if token else document


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _with_proof(
    document: dict[str, Any], key: SigningKey, custody: KeyCustody, now: datetime, pointer_prefix: str
) -> dict[str, Any]:
    """The document with an embedded Data Integrity proof; safe-mode refusals point into the request."""
    try:
        return add_proof(document, key, custody, created=now)
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, [FieldError(pointer_prefix + e.pointer, e.detail) for e in exc.errors]) from None


def _id_taken(credential_id: str) -> Conflict:
    return Conflict(
        f"a credential with id {credential_id!r} exists already",
        [FieldError("/credential/id", "already used; leave it out to get a generated id")],
    )


def _check_idempotency_key(key: str) -> None:
    problem = None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        problem = f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
    else:
        try:
            reject_control_characters(key)
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        raise InvalidInput("Idempotency-Key is not acceptable", [FieldError("Idempotency-Key", problem)])


def canonical_request_hash(request: BaseModel) -> str:
    """What a retry must repeat: the SHA-256 of the parsed request in canonical JSON (key order and
    whitespace of the body do not matter)."""
    return hashlib.sha256(dumps_canonical(request.model_dump(mode="json"))).hexdigest()


def _replay(uow: UnitOfWork, earlier: IssuedCredential, request_hash: str | None) -> IssueOutcome:
    if earlier.request_hash != request_hash:
        raise Conflict(
            "this Idempotency-Key was used with a different request body",
            [FieldError("Idempotency-Key", "already used for another request")],
        )
    companion = uow.credentials.get(earlier.companion_id) if earlier.companion_id else None
    return IssueOutcome(earlier, replayed=True, companion=companion)


def download_token_hash(token: str) -> str:
    """How a public download link's token is stored: a SHA-256, so the table does not hold working links."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
