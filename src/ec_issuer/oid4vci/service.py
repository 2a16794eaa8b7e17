"""The built-in OID4VCI 1.0 issuer: offers, the pre-authorized code flow, nonces, credentials, notifications.

Secrets are kept only as hashes: the access token and the pre-authorized code as SHA-256 (they are 256-bit
random), the transaction code as an HMAC under a server key (it is a short PIN). The pre-authorized code
itself is derived from the offer id under that key, so the offer document can be served again until it
expires without the code being stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import quote

from ec_issuer.access.model import ApiClient
from ec_issuer.core.encoding import b64url_encode, dumps, loads
from ec_issuer.core.errors import DomainError, Forbidden, NotFound
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from ec_issuer.credentials.commands import IssueCredential
from ec_issuer.credentials.issuing import CredentialIssuer
from ec_issuer.credentials.model import IssuedCredential
from ec_issuer.events import catalogue as events
from ec_issuer.oid4vci import authorization, draft13
from ec_issuer.oid4vci.commands import CreateOffer, checked_awards
from ec_issuer.oid4vci.configurations import configuration_named
from ec_issuer.oid4vci.dpop import DpopRequest
from ec_issuer.oid4vci.dpop_binding import DpopBinding, DpopPolicy, PresentedToken
from ec_issuer.oid4vci.errors import (
    ProtocolError,
    invalid_credential_request,
    invalid_grant,
    invalid_proof,
    invalid_request,
)
from ec_issuer.oid4vci.external_as import (
    ExternalAuthorizationServer,
    ExternalTokenRedemption,
    with_authorization_servers,
)
from ec_issuer.oid4vci.metadata import ACCESS_TOKEN_SECONDS, BATCH_SIZE, IssuerEndpoints
from ec_issuer.oid4vci.model import (
    AUTHORIZATION_CODE_GRANT,
    OFFER_SCHEME,
    PRE_AUTHORIZED_GRANT,
    AccessGrant,
    AuthorizationRequest,
    Award,
    DeferredTransaction,
    Delivery,
    Offer,
    OfferState,
    TxCodeSpec,
)
from ec_issuer.oid4vci.nonces import C_NONCE_SECONDS, DPOP_NONCE_SECONDS, ExpiringNonces, LiveNonce
from ec_issuer.oid4vci.permissions import check_achievements, offer_issuer
from ec_issuer.oid4vci.ports import OfferStore
from ec_issuer.oid4vci.proofs import InvalidProof, ProofWindow, ProvenHolder, verify_jwt_proof
from ec_issuer.oid4vci.template_service import CredentialTemplates

TX_CODE_FREE_ATTEMPTS = 5
TX_CODE_LOCKOUT = timedelta(seconds=30)  # doubled with each further wrong code
DEFERRED_INTERVAL_SECONDS = 5  # how long a wallet should wait before asking again
DEFERRED_PICKUP = timedelta(days=30)
NOTIFICATION_EVENTS = frozenset({"credential_accepted", "credential_failure", "credential_deleted"})
_TEXT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: the learner types it


@dataclass(frozen=True, slots=True)
class CreatedOffer:
    offer: Offer
    document: dict[str, Any]  # the credential offer object
    offer_uri: str  # credential_offer_uri
    link_by_reference: str
    link_by_value: str
    tx_code: str | None  # returned once, for the operator to send the learner out of band


@dataclass(frozen=True, slots=True)
class CredentialResponse:
    body: dict[str, Any]
    status: int = 200  # 202 for a deferred credential


class Oid4vciIssuer:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        store: OfferStore,
        issuing: CredentialIssuer,
        endpoints: IssuerEndpoints,
        clock: Clock,
        ids: IdGenerator,
        secret: bytes,
        proof_window: ProofWindow | None = None,
        *,
        templates: CredentialTemplates,
        deferred_notification_id: bool = True,
        token_c_nonce: bool = False,
        dpop: DpopPolicy | None = None,
        external_as: ExternalAuthorizationServer | None = None,
    ) -> None:
        self._uow = uow
        self._store = store
        self._issuing = issuing
        self._templates = templates
        self.endpoints = endpoints
        self._clock = clock
        self._ids = ids
        self._secret = secret
        self._proof_window = proof_window or ProofWindow()
        self._deferred_notification_id = deferred_notification_id
        self._token_c_nonce = token_c_nonce
        self._c_nonces = ExpiringNonces(
            b"c-nonce:", self._mac, clock, lifetime_seconds=C_NONCE_SECONDS, random_bytes=16
        )
        dpop_nonces = ExpiringNonces(
            b"dpop-nonce:", self._mac, clock, lifetime_seconds=DPOP_NONCE_SECONDS, random_bytes=0
        )
        self._dpop_binding = DpopBinding(dpop or DpopPolicy(), dpop_nonces, clock, uow)
        # OID4VCI_AUTHORIZATION_SERVER: its access tokens are accepted too, after ours (external_as.py).
        if (external_as.issuer if external_as else None) != endpoints.external_authorization_server:
            raise ValueError("the external authorization server and the endpoints' must be the same")
        self._external = (
            ExternalTokenRedemption(external_as, store, clock, ids, secret, endpoints.issuer_id, self._offer_named_by)
            if external_as is not None
            else None
        )

    # --- offers (admin) -------------------------------------------------------------------------------

    def create_offer(self, client: ApiClient, command: CreateOffer) -> CreatedOffer:
        issuer = offer_issuer(self._uow, client, command)
        awards = checked_awards(command, self._templates.offerable(issuer.slug, command.template_ids))
        check_achievements(client, awards)
        now = self._clock.now()
        offer_id = self._ids.new_id()
        tx_code = _new_tx_code(command.tx_code.length, command.tx_code.input_mode) if command.tx_code else None
        offer = Offer(
            id=offer_id,
            issuer_slug=issuer.slug,
            client_id=client.id,
            reference=secrets.token_urlsafe(24),
            awards=tuple(
                Award(f"{offer_id}/{position}", award.configuration_id, award.credential, award.deferred)
                for position, award in enumerate(awards)
            ),
            code_hash=_sha256(self._pre_authorized_code(offer_id)),
            tx_code=(
                TxCodeSpec(command.tx_code.input_mode, command.tx_code.length, command.tx_code.description)
                if command.tx_code
                else None
            ),
            tx_code_hash=self._tx_code_hash(offer_id, tx_code) if tx_code else None,
            state=OfferState.CREATED,
            created_at=now,
            expires_at=now + timedelta(seconds=command.expires_in),
            grant_types=tuple(
                PRE_AUTHORIZED_GRANT if grant == "pre-authorized_code" else AUTHORIZATION_CODE_GRANT
                for grant in dict.fromkeys(command.grants)
            ),
        )
        # Before the offer is stored: a template retired in between still stays listed for as long as it lives.
        self._templates.note_offered(issuer.slug, command.template_ids, offer.expires_at)
        self._store.add_offer(offer, events.offer_created(self._ids, self._clock, offer, issuer.did))
        return self._created(offer, tx_code)

    def offer_for(self, client: ApiClient, offer_id: str) -> Offer:
        offer = self._store.offer(offer_id)
        if offer is None or not client.may_use_issuer(offer.issuer_slug):
            raise NotFound("no such offer")
        return offer

    def offer_document(self, slug: str, reference: str) -> dict[str, Any]:
        """The offer by reference: the same document on every GET until the offer expires (wallets fetch twice)."""
        offer = self._store.offer_by_reference(reference)
        if offer is None or offer.issuer_slug != slug or offer.state_at(self._clock.now()) is OfferState.EXPIRED:
            raise NotFound("no such offer, or it has expired")
        return self._document(offer)

    def created(self, offer: Offer) -> CreatedOffer:
        return self._created(offer, None)

    # --- token endpoint --------------------------------------------------------------------------------

    def exchange(self, slug: str, form: Mapping[str, str], dpop: DpopRequest | None = None) -> dict[str, Any]:
        """The token endpoint. With a DPoP proof, the access token is bound to the proof's key."""
        jkt = self._dpop_binding.key_at_token_endpoint(dpop)
        grant_type = form.get("grant_type")
        if grant_type == AUTHORIZATION_CODE_GRANT:
            return self._exchange_authorization_code(slug, form, jkt)
        if grant_type != PRE_AUTHORIZED_GRANT:
            raise ProtocolError(
                "unsupported_grant_type", f"grant_type must be {PRE_AUTHORIZED_GRANT} or {AUTHORIZATION_CODE_GRANT}"
            )
        code = form.get("pre-authorized_code")
        if not code:
            raise invalid_request("pre-authorized_code is missing")
        now = self._clock.now()
        offer = self._store.offer_by_code(_sha256(code))
        if offer is None or offer.issuer_slug != slug or PRE_AUTHORIZED_GRANT not in offer.grant_types:
            raise invalid_grant("unknown pre-authorized code")
        if now >= offer.expires_at:
            raise invalid_grant("the pre-authorized code has expired")
        if offer.code_redeemed_at is not None:
            raise invalid_grant("the pre-authorized code has already been used")
        self._check_tx_code(offer, form.get("tx_code"), now)
        return self._access(offer, now, jkt)

    def _exchange_authorization_code(self, slug: str, form: Mapping[str, str], jkt: str | None) -> dict[str, Any]:
        code = form.get("code")
        if not code:
            raise invalid_request("code is missing")
        now = self._clock.now()
        request = self._store.authorization_by_code(_sha256(code))
        if request is None or now >= request.expires_at:
            raise invalid_grant("unknown or expired authorization code")
        offer = self._store.offer(request.offer_id)
        if offer is None or offer.issuer_slug != slug:
            raise invalid_grant("unknown or expired authorization code")
        if form.get("redirect_uri") != request.redirect_uri:
            raise invalid_grant("redirect_uri differs from the authorization request's")
        if form.get("client_id", request.client_id) != request.client_id:
            raise invalid_grant("the code was issued to another client")
        if not authorization.pkce_matches(form.get("code_verifier"), request.code_challenge):
            raise invalid_grant("code_verifier does not match the code_challenge (PKCE)")
        if offer.code_redeemed_at is not None:
            raise invalid_grant("the authorization code has already been used")
        return self._access(offer, now, jkt)

    def _access(self, offer: Offer, now: datetime, jkt: str | None) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        grant = AccessGrant(offer.id, now + timedelta(seconds=ACCESS_TOKEN_SECONDS))
        event = events.token_issued(self._ids, self._clock, offer, self._issuer_id(offer))
        if not self._store.redeem_code(offer.id, now, _token_hash(token, jkt), grant, event):
            raise invalid_grant("the offer's code has already been used")
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "DPoP" if jkt else "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
        }
        if self._token_c_nonce:  # draft 13 handed the first c_nonce out here; 1.0 has the nonce endpoint
            answer |= {"c_nonce": self.new_nonce(), "c_nonce_expires_in": C_NONCE_SECONDS}
        return answer

    # --- authorization code flow: PAR and the authorization endpoint -------------------------------------

    def push_authorization_request(self, slug: str, form: Mapping[str, str]) -> dict[str, Any]:
        client_id, redirect_uri, challenge, state, issuer_state = authorization.pushed_request_fields(form)
        if self._external is not None:  # else anyone holding the issuer_state would skip the learner's login
            raise ProtocolError(
                "access_denied", f"authorization requests go to the authorization server {self._external.server.issuer}"
            )
        offer = self._offer_of_issuer_state(slug, issuer_state)
        request_uri = authorization.REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        expires_at = self._clock.now() + timedelta(seconds=authorization.REQUEST_URI_SECONDS)
        self._store.add_authorization_request(
            AuthorizationRequest(_sha256(request_uri), offer.id, client_id, redirect_uri, challenge, state, expires_at)
        )
        return {"request_uri": request_uri, "expires_in": authorization.REQUEST_URI_SECONDS}

    def authorize(self, slug: str, query: Mapping[str, str]) -> str:
        """The authorization endpoint: the redirect (with `code`, `state` and `iss`) for a pushed request."""
        request_uri = query.get("request_uri")
        if not request_uri:
            raise invalid_request("this server requires pushed authorization requests: send request_uri")
        now = self._clock.now()
        pushed = self._store.authorization_request(_sha256(request_uri))
        if pushed is None or pushed.code_hash is not None or now >= pushed.expires_at:
            raise invalid_request("unknown, used or expired request_uri")
        if query.get("client_id") != pushed.client_id:
            raise invalid_request("client_id differs from the pushed request's")
        offer = self._store.offer(pushed.offer_id)
        issuer_id = self.endpoints.issuer_id(slug)
        if offer is None or offer.issuer_slug != slug or now >= offer.expires_at or offer.code_redeemed_at:
            return authorization.redirect(
                pushed.redirect_uri, {"error": "access_denied", "state": pushed.state, "iss": issuer_id}
            )
        code = secrets.token_urlsafe(32)
        expires_at = now + timedelta(seconds=authorization.CODE_SECONDS)
        if not self._store.authorize(pushed.request_uri_hash, _sha256(code), expires_at, now):
            raise invalid_request("unknown, used or expired request_uri")
        return authorization.redirect(pushed.redirect_uri, {"code": code, "state": pushed.state, "iss": issuer_id})

    def _check_tx_code(self, offer: Offer, given: str | None, now: datetime) -> None:
        if offer.tx_code_hash is None:
            if given is not None:
                raise invalid_request("this offer has no transaction code; do not send tx_code")
            return
        if not given:
            raise invalid_request("tx_code is missing: this offer needs the transaction code sent to the learner")
        if offer.tx_retry_after is not None and now < offer.tx_retry_after:
            wait = int((offer.tx_retry_after - now).total_seconds()) + 1
            raise invalid_grant(f"too many wrong transaction codes; try again in {wait} s")
        if hmac.compare_digest(self._tx_code_hash(offer.id, given), offer.tx_code_hash):
            return
        failures = offer.tx_failures + 1
        over = failures - TX_CODE_FREE_ATTEMPTS
        retry_after = now + TX_CODE_LOCKOUT * (2 ** min(over, 16)) if over >= 0 else None
        self._store.record_tx_failure(offer.id, failures, retry_after)
        raise invalid_grant("wrong transaction code")

    # --- nonce endpoint --------------------------------------------------------------------------------

    def new_nonce(self) -> str:
        """A c_nonce that carries its own expiry under our MAC (oid4vci/nonces.py). Only a used nonce is
        stored, until it expires, to refuse its second use."""
        return self._c_nonces.new()

    def _spend_nonces(self, uow: UnitOfWork, nonces: Sequence[LiveNonce]) -> None:
        if not all(uow.wallet_requests.use_nonce(nonce.key, nonce.expires_at) for nonce in nonces):
            raise ProtocolError("invalid_nonce", "the c_nonce is unknown, used or expired; fetch a new one")

    def _mac(self, message: bytes) -> bytes:
        return hmac.new(self._secret, message, "sha256").digest()[:16]

    def purge(self) -> int:
        """Forget what has expired: used nonces, access tokens past any deferred pickup. Rows removed."""
        now = self._clock.now()
        return self._store.purge(now, now - DEFERRED_PICKUP)

    # --- credential endpoint ---------------------------------------------------------------------------

    def request_credential(self, slug: str, token: PresentedToken | None, body: Any) -> CredentialResponse:
        offer = self._offer_of_token(slug, token)
        request = _json_object(body)
        if request is None:
            raise invalid_credential_request("the credential request must be a JSON object")
        if draft13.is_draft13(request):
            answer = self._credential_response(offer, draft13.translate(request), by_format=True)
            return CredentialResponse(draft13.response(answer.body, self.new_nonce(), C_NONCE_SECONDS), answer.status)
        return self._credential_response(offer, request)

    def _credential_response(
        self, offer: Offer, request: dict[str, Any], *, by_format: bool = False
    ) -> CredentialResponse:
        award = self._award_for(offer, request, by_format=by_format)
        holders, nonces = self._holders(offer, request.get("proofs"))
        dids = tuple(holder.did for holder in holders)
        if award.deferred and offer.released_at is None:
            transaction = DeferredTransaction(secrets.token_urlsafe(24), offer.id, award.id, dids, self._clock.now())
            with self._uow() as uow:
                self._spend_nonces(uow, nonces)
                uow.wallet_requests.add_transaction(transaction)
                uow.commit()
            return CredentialResponse({"transaction_id": transaction.id, "interval": DEFERRED_INTERVAL_SECONDS}, 202)
        return self._deliver(offer, award, dids, nonces=nonces)

    def _deliver(
        self,
        offer: Offer,
        award: Award,
        holder_dids: tuple[str, ...],
        *,
        nonces: Sequence[LiveNonce] = (),
        transaction: DeferredTransaction | None = None,
    ) -> CredentialResponse:
        """Sign the award for each holder and record the delivery (spending the nonce, settling the deferred
        transaction) in one unit of work: a refused nonce or transaction leaves no credential behind."""
        configuration = configuration_named(award.configuration_id)
        if configuration is None:
            raise ProtocolError("credential_request_denied", "the award names no configuration of ours")
        commands = [
            IssueCredential.model_validate(
                {
                    **award.request,
                    "issuer": offer.issuer_slug,
                    "recipient": {"did": did},
                    "format": configuration.securing,
                }
            )
            for did in holder_dids
        ]
        with self._uow() as uow:
            client = uow.clients.get(offer.client_id)
            if client is None or client.disabled:
                raise ProtocolError("credential_request_denied", "the offer's issuing client no longer exists")
            try:
                issued = self._issuing.issue_all_in(uow, client, commands)
            except Forbidden as exc:
                raise ProtocolError("credential_request_denied", str(exc)) from None
            except DomainError as exc:
                raise ProtocolError("credential_request_denied", f"the award cannot be issued: {exc}") from None
            self._spend_nonces(uow, nonces)
            notification_id = secrets.token_urlsafe(18)
            delivery = Delivery(notification_id, offer.id, award.id, tuple(c.id for c in issued), self._clock.now())
            if not uow.wallet_requests.record_delivery(delivery, transaction.id if transaction else None):
                raise ProtocolError("invalid_transaction_id", "this transaction_id has already been redeemed")
            uow.outbox.add(
                events.credentials_delivered(
                    self._ids, self._clock, offer, delivery, award.configuration_id, self._issuer_id(offer)
                )
            )
            uow.commit()
        body: dict[str, Any] = {"credentials": [{"credential": _wire_form(credential)} for credential in issued]}
        if transaction is None or self._deferred_notification_id:
            body["notification_id"] = notification_id
        return CredentialResponse(body)

    def _award_for(self, offer: Offer, request: dict[str, Any], *, by_format: bool) -> Award:
        """The award a request asks for. With `by_format` (draft 13, which has no configuration ids), any award
        in the format of the configuration asked for will do."""
        configuration_id = request.get("credential_configuration_id")
        identifier = request.get("credential_identifier")
        if (configuration_id is None) == (identifier is None):
            raise invalid_credential_request("give exactly one of credential_configuration_id or credential_identifier")
        if identifier is not None:
            award = next((a for a in offer.awards if a.id == identifier), None)
            if award is None:
                raise ProtocolError("unknown_credential_identifier", "no such credential_identifier in this offer")
            return award
        wanted = configuration_named(configuration_id) if isinstance(configuration_id, str) else None
        if wanted is None:
            raise ProtocolError("unknown_credential_configuration", "unknown credential_configuration_id")
        candidates = [
            award
            for award in offer.awards
            if award.configuration_id == wanted.id or (by_format and _format_of(award) == wanted.format)
        ]
        if not candidates:
            raise ProtocolError("unknown_credential_configuration", "this configuration was not offered")
        if len(candidates) == 1:
            return candidates[0]
        # Several awards in one configuration are handed out in turn, then again from the first
        # (a wallet may ask again, say after losing a credential; earlier credentials stay valid).
        return candidates[self._store.deliveries_in(offer.id, {a.id for a in candidates}) % len(candidates)]

    def _holders(self, offer: Offer, value: object) -> tuple[list[ProvenHolder], list[LiveNonce]]:
        """The holders the proofs prove, and their c_nonces (checked, but spent only with the answer)."""
        if value is None:
            raise invalid_proof("proofs is missing: the credential is bound to a key the wallet must prove")
        proofs = _json_object(value)
        if proofs is None or len(proofs) != 1:
            raise invalid_credential_request("proofs must be an object with exactly one proof type")
        jwts: object = proofs.get("jwt")
        if jwts is None:
            raise invalid_proof("only the jwt proof type is supported")
        if not isinstance(jwts, list) or not jwts:
            raise invalid_credential_request("proofs.jwt must be a non-empty array")
        tokens = cast(list[object], jwts)
        if len(tokens) > BATCH_SIZE:
            raise invalid_credential_request(f"at most {BATCH_SIZE} proofs in one request")
        now = self._clock.now()
        holders: list[ProvenHolder] = []
        for position, jwt in enumerate(tokens):
            try:
                holders.append(
                    verify_jwt_proof(jwt, issuer_id=self._issuer_id(offer), now=now, window=self._proof_window)
                )
            except InvalidProof as exc:
                raise invalid_proof(f"proof {position}: {exc}") from None
        nonces = {holder.nonce for holder in holders}
        if None in nonces:
            raise invalid_proof("every proof must carry the c_nonce from the nonce endpoint")
        usable = [self._c_nonces.live(str(nonce), now) for nonce in nonces]
        if None in usable:
            raise ProtocolError("invalid_nonce", "the c_nonce is unknown, used or expired; fetch a new one")
        # A batch's proofs normally share one nonce; each distinct one is spent once, with the answer.
        return holders, [nonce for nonce in usable if nonce is not None]

    # --- notification endpoint -------------------------------------------------------------------------

    def notify(self, slug: str, token: PresentedToken | None, body: Any) -> None:
        offer = self._offer_of_token(slug, token)
        notification = _json_object(body)
        if notification is None:
            raise ProtocolError("invalid_notification_request", "the notification must be a JSON object")
        notification_id: object = notification.get("notification_id")
        event: object = notification.get("event")
        if not isinstance(notification_id, str) or not isinstance(event, str) or event not in NOTIFICATION_EVENTS:
            raise ProtocolError(
                "invalid_notification_request",
                f"give a notification_id and an event, one of {', '.join(sorted(NOTIFICATION_EVENTS))}",
            )
        delivery = self._store.delivery(notification_id)
        if delivery is None or delivery.offer_id != offer.id:
            raise ProtocolError("invalid_notification_id", "no such notification_id for this access token")
        outbox_event = events.notification_received(
            self._ids,
            self._clock,
            offer,
            delivery,
            str(event),
            self._issuer_id(offer),  # pyright: ignore[reportUnknownArgumentType]
        )
        # The wallet's word changes nothing about the credentials; a repeat is answered alike and not recorded.
        self._store.record_notification(notification_id, str(event), self._clock.now(), outbox_event)  # pyright: ignore[reportUnknownArgumentType]

    # --- deferred endpoint ------------------------------------------------------------------------------

    def deferred(self, slug: str, token: PresentedToken | None, body: object) -> CredentialResponse:
        """The deferred credential endpoint: 202 with the same transaction_id while the award waits for its
        release, then 200 with the credentials, once; after that the transaction_id is unknown."""
        offer = self._offer_of_token(slug, token, deferred_pickup=True)
        request = _json_object(body)
        transaction_id: object = request.get("transaction_id") if request is not None else None
        if not isinstance(transaction_id, str):
            raise invalid_credential_request("give the transaction_id of a deferred credential")
        transaction = self._store.transaction(transaction_id)
        if transaction is None or transaction.offer_id != offer.id or transaction.delivered_at is not None:
            raise ProtocolError("invalid_transaction_id", "unknown or already redeemed transaction_id")
        if offer.released_at is None:
            return CredentialResponse({"transaction_id": transaction.id, "interval": DEFERRED_INTERVAL_SECONDS}, 202)
        award = next(a for a in offer.awards if a.id == transaction.award_id)
        return self._deliver(offer, award, transaction.holder_dids, transaction=transaction)

    def release(self, client: ApiClient, offer_id: str) -> Offer:
        """Let the offer's deferred awards be signed: waiting wallets get them at their next deferred request."""
        offer = self.offer_for(client, offer_id)
        if offer.released_at is None:
            self._store.release(offer.id, self._clock.now())
        return self.offer_for(client, offer_id)

    def link_by_reference(self, slug: str, reference: str) -> str:
        offer_uri = self.endpoints.offer_uri(slug, reference)
        return f"{OFFER_SCHEME}?credential_offer_uri={quote(offer_uri, safe='')}"

    # --- shared ----------------------------------------------------------------------------------------

    def _offer_of_token(self, slug: str, token: PresentedToken | None, *, deferred_pickup: bool = False) -> Offer:
        if token is None:
            raise self._dpop_binding.challenge("an access token is required (Authorization: Bearer or DPoP)")
        jkt = self._dpop_binding.key_at_resource(token)
        found = self._store.offer_of_token(_token_hash(token.value, jkt))
        if found is None and self._external is not None:  # not ours: perhaps the external server's
            return self._external.offer_of(slug, token.value, jkt)
        if found is None:
            # A DPoP-bound token sent as Bearer, or with another key's proof, is not found either: its
            # binding is part of the stored hash.
            raise self._dpop_binding.challenge("the access token is unknown, has expired, or is bound to another key")
        grant, offer = found
        # A deferred credential is asked for with the token of the original request (§9.1), which may come
        # hours later than a 5-minute token lives; for that endpoint alone, and only together with a pending
        # transaction_id (a second secret), the token is honoured for DEFERRED_PICKUP after it was issued.
        valid_until = grant.expires_at + DEFERRED_PICKUP if deferred_pickup else grant.expires_at
        if self._clock.now() >= valid_until:
            raise self._dpop_binding.challenge("the access token is unknown, has expired, or is bound to another key")
        if offer.issuer_slug != slug:
            raise self._dpop_binding.challenge("the access token is not for this credential issuer")
        return offer

    @property
    def dpop(self) -> DpopPolicy:
        return self._dpop_binding.policy

    def dpop_nonce(self) -> str:
        return self._dpop_binding.nonce()

    def _issuer_id(self, offer: Offer) -> str:
        return self.endpoints.issuer_id(offer.issuer_slug)

    def _document(self, offer: Offer) -> dict[str, Any]:
        grants: dict[str, Any] = {}
        if PRE_AUTHORIZED_GRANT in offer.grant_types:
            grant: dict[str, Any] = {"pre-authorized_code": self._pre_authorized_code(offer.id)}
            if offer.tx_code is not None:
                grant["tx_code"] = offer.tx_code.as_offer()
            grants[PRE_AUTHORIZED_GRANT] = grant
        if AUTHORIZATION_CODE_GRANT in offer.grant_types:
            grants[AUTHORIZATION_CODE_GRANT] = {"issuer_state": self._issuer_state(offer.id)}
        external = self.endpoints.external_authorization_server
        return {
            "credential_issuer": self._issuer_id(offer),
            "credential_configuration_ids": offer.configuration_ids,
            "grants": with_authorization_servers(grants, self._issuer_id(offer), external),
        }

    def _issuer_state(self, offer_id: str) -> str:
        # Derived, like the pre-authorized code, and found again through the offer id it carries.
        mac = hmac.new(self._secret, f"issuer-state:{offer_id}".encode(), "sha256").digest()
        return f"{offer_id}.{b64url_encode(mac)}"

    def _offer_of_issuer_state(self, slug: str, issuer_state: str) -> Offer:
        offer = self._offer_named_by(slug, issuer_state)
        if offer is None:
            raise ProtocolError("access_denied", "unknown issuer_state")
        if self._clock.now() >= offer.expires_at or offer.code_redeemed_at is not None:
            raise ProtocolError("access_denied", "the offer has expired or has been redeemed")
        return offer

    def _offer_named_by(self, slug: str, issuer_state: str) -> Offer | None:
        """The authorization-code offer of this issuer that the issuer_state names, if its MAC is ours."""
        offer_id, _, _ = issuer_state.partition(".")
        offer = self._store.offer(offer_id) if len(offer_id) <= 64 else None
        if (
            offer is None
            or offer.issuer_slug != slug
            or AUTHORIZATION_CODE_GRANT not in offer.grant_types
            or not hmac.compare_digest(issuer_state, self._issuer_state(offer.id))
        ):
            return None
        return offer

    def _created(self, offer: Offer, tx_code: str | None) -> CreatedOffer:
        document = self._document(offer)
        offer_uri = self.endpoints.offer_uri(offer.issuer_slug, offer.reference)
        return CreatedOffer(
            offer=offer,
            document=document,
            offer_uri=offer_uri,
            link_by_reference=self.link_by_reference(offer.issuer_slug, offer.reference),
            link_by_value=f"{OFFER_SCHEME}?credential_offer={quote(dumps(document).decode(), safe='')}",
            tx_code=tx_code,
        )

    def _pre_authorized_code(self, offer_id: str) -> str:
        return b64url_encode(hmac.new(self._secret, f"pre-authorized-code:{offer_id}".encode(), "sha256").digest())

    def _tx_code_hash(self, offer_id: str, tx_code: str) -> str:
        return hmac.new(self._secret, f"tx-code:{offer_id}:{tx_code}".encode(), "sha256").hexdigest()


def _wire_form(credential: IssuedCredential) -> str | dict[str, Any]:
    """jwt_vc_json: the compact JWS; ldp_vc: the credential object with its embedded proof."""
    if credential.jws is not None:
        return credential.jws
    return loads(credential.payload)


def _format_of(award: Award) -> str | None:
    configuration = configuration_named(award.configuration_id)
    return configuration.format if configuration is not None else None


def _json_object(value: object) -> dict[str, Any] | None:
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def _new_tx_code(length: int, input_mode: str) -> str:
    alphabet = "0123456789" if input_mode == "numeric" else _TEXT_ALPHABET
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _token_hash(token: str, jkt: str | None) -> str:
    """How an access token is stored. A DPoP-bound token is stored with its key's thumbprint, so it is
    found only when presented together with a proof by that key (and never as a bare Bearer token)."""
    return _sha256(token if jkt is None else f"{token} dpop:{jkt}")
