"""An external OAuth 2.0 authorization server for the authorization code flow (OID4VCI 1.0 §5, §12.2.4).

A deployment may name an authorization server of its own (the institution's Keycloak, say) that authenticates
the learner. It is listed in `authorization_servers` beside the built-in server, which keeps serving the
pre-authorized code, and offers with the authorization code grant name it as their `authorization_server`.
The wallet sends the offer's `issuer_state` in its authorization request; the external server copies it into
the access token (a claim of the RFC 9068 JWT, or a member of the RFC 7662 introspection answer). Its tokens
are then accepted at the credential, deferred and notification endpoints for the offer that issuer_state
names, after our own tokens are looked up first.

The offer is redeemed by the first token used for it, as our own token endpoint redeems it: state
token_issued, the `offer.redeemed` event. The grant is bound to who was authorized: the token's client and
subject. Later tokens for the offer (a refreshed one) must come for the same client and subject; anyone
else's token for an offer already redeemed is refused, like a second redemption of a pre-authorized code.

How a token is checked is behind the `ExternalAccessTokens` port (`external_tokens.py` holds the checks; the
HTTP fetching of keys and introspection answers is an adapter in `ec_issuer.fetching`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ec_issuer.core.encoding import dumps
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.events import catalogue as events
from ec_issuer.oid4vci.errors import InvalidToken, ProtocolError
from ec_issuer.oid4vci.model import AUTHORIZATION_CODE_GRANT, PRE_AUTHORIZED_GRANT, AccessGrant, Offer
from ec_issuer.oid4vci.ports import OfferStore


@dataclass(frozen=True, slots=True)
class ExternalGrant:
    """What the external authorization server's access token says, once checked."""

    issuer_state: str  # the offer's issuer_state, copied by the server from the authorization request
    expires_at: datetime
    client_id: str | None
    subject: str | None
    token_id: str | None = None  # jti
    dpop_jkt: str | None = None  # cnf.jkt: the token is DPoP-bound to the key with this thumbprint (RFC 9449 §6)


class ExternalAccessTokens(Protocol):
    def grant_of(self, token: str, audience: str) -> ExternalGrant:
        """The grant of a valid access token of the external server for `audience` (our credential issuer
        identifier). InvalidToken when it is not one; AuthorizationServerUnavailable when the server cannot
        be asked (its keys or its introspection endpoint are out of reach)."""
        ...


class AuthorizationServerUnavailable(ProtocolError):
    """The external authorization server could not be reached: 503, the wallet may try again later."""

    def __init__(self, description: str) -> None:
        super().__init__("temporarily_unavailable", description, 503)


@dataclass(frozen=True, slots=True)
class ExternalAuthorizationServer:
    issuer: str  # its issuer identifier (RFC 8414), compared byte for byte with the tokens' `iss`
    tokens: ExternalAccessTokens


class ExternalTokenRedemption:
    """Maps an external access token to the offer its issuer_state names, redeeming the offer on first use."""

    def __init__(
        self,
        server: ExternalAuthorizationServer,
        store: OfferStore,
        clock: Clock,
        ids: IdGenerator,
        secret: bytes,
        issuer_id: Callable[[str], str],
        offer_named_by: Callable[[str, str], Offer | None],
    ) -> None:
        self.server = server
        self._store = store
        self._clock = clock
        self._ids = ids
        self._secret = secret
        self._issuer_id = issuer_id  # slug -> credential issuer identifier
        self._offer_named_by = offer_named_by  # (slug, issuer_state) -> the offer, when the MAC matches

    def offer_of(self, slug: str, token: str, dpop_jkt: str | None = None) -> Offer:
        """The offer of an external access token, presented as Bearer (`dpop_jkt` None) or as DPoP with a proof
        checked already, by the key with thumbprint `dpop_jkt`."""
        grant = self.server.tokens.grant_of(token, self._issuer_id(slug))
        if grant.dpop_jkt is not None and dpop_jkt is None:
            raise InvalidToken("the access token is DPoP-bound: send it as DPoP with a proof by its key", scheme="DPoP")
        if grant.dpop_jkt != dpop_jkt:
            raise InvalidToken("the access token is not bound to the key of the DPoP proof", scheme="DPoP")
        now = self._clock.now()
        if now >= grant.expires_at:  # the verifier checked exp with its leeway; our own tokens have none
            raise InvalidToken("the access token has expired")
        offer = self._offer_named_by(slug, grant.issuer_state)
        if offer is None:
            raise InvalidToken("the access token's issuer_state names no offer of this credential issuer")
        binding = self._binding(offer.id, grant)
        if offer.code_redeemed_at is None:
            if now >= offer.expires_at:
                raise InvalidToken("the offer the access token is for has expired")
            event = events.token_issued(self._ids, self._clock, offer, self._issuer_id(slug))
            if self._store.redeem_code(offer.id, now, binding, AccessGrant(offer.id, grant.expires_at), event):
                return offer
        # Redeemed before: by this client and subject (a later or refreshed token), or by someone else.
        bound = self._store.offer_of_token(binding)
        if bound is None or bound[1].id != offer.id:
            raise InvalidToken("the offer has already been redeemed by another authorization")
        return offer

    def _binding(self, offer_id: str, grant: ExternalGrant) -> str:
        """The key the redemption is kept under, in the access token table: a MAC of the offer and who was
        authorized. It is no token's SHA-256, so no bearer token can be found under it."""
        who = dumps(["external-grant", offer_id, self.server.issuer, grant.client_id, grant.subject])
        return hmac.new(self._secret, who, hashlib.sha256).hexdigest()


def with_authorization_servers(grants: dict[str, Any], built_in: str, external: str | None) -> dict[str, Any]:
    """The offer's grants, each naming its authorization server when there are two (OID4VCI 1.0 §4.1.1):
    the built-in one for the pre-authorized code, the external one for the authorization code."""
    if external is None:
        return grants
    named = dict(grants)
    if PRE_AUTHORIZED_GRANT in named:
        named[PRE_AUTHORIZED_GRANT] = {**named[PRE_AUTHORIZED_GRANT], "authorization_server": built_in}
    if AUTHORIZATION_CODE_GRANT in named:
        named[AUTHORIZATION_CODE_GRANT] = {**named[AUTHORIZATION_CODE_GRANT], "authorization_server": external}
    return named
