"""Binding access tokens to a wallet's key with DPoP (RFC 9449) at the token and credential endpoints: whether
a proof is needed, and checking one (its signature, method, URL and access token hash through `oid4vci/dpop.py`,
the server's nonce, and a `jti` taken only once)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ec_issuer.core.encoding import b64url_encode
from ec_issuer.core.ports import Clock
from ec_issuer.core.unit_of_work import UnitOfWorkFactory
from ec_issuer.oid4vci.dpop import DpopProof, DpopRequest, InvalidDpopProof, verify_dpop_proof
from ec_issuer.oid4vci.errors import InvalidToken, ProtocolError
from ec_issuer.oid4vci.nonces import ExpiringNonces
from ec_issuer.oid4vci.proofs import ProofWindow


@dataclass(frozen=True, slots=True)
class DpopPolicy:
    """Whether access tokens must be DPoP-bound, and whether proofs must carry our DPoP nonce."""

    required: bool = False
    nonce: bool = True
    window: ProofWindow = field(default_factory=ProofWindow)


@dataclass(frozen=True, slots=True)
class PresentedToken:
    """The access token of a resource request, its scheme (`bearer` or `dpop`), and the DPoP proof sent."""

    value: str
    scheme: Literal["bearer", "dpop"]
    dpop: DpopRequest | None = None


class DpopBinding:
    def __init__(self, policy: DpopPolicy, nonces: ExpiringNonces, clock: Clock, uow: UnitOfWorkFactory) -> None:
        self.policy = policy
        self._nonces = nonces
        self._clock = clock
        self._uow = uow

    def nonce(self) -> str:
        """A DPoP nonce: good for DPOP_NONCE_SECONDS, for any number of proofs, and stored nowhere."""
        return self._nonces.new()

    def key_at_token_endpoint(self, dpop: DpopRequest | None) -> str | None:
        """The thumbprint of the key the new access token is bound to; None for a Bearer token."""
        if dpop is None or not dpop.proofs:
            if self.policy.required:
                raise ProtocolError("invalid_dpop_proof", "this server binds access tokens: send a DPoP proof")
            return None
        try:
            return self._checked(dpop, None).jkt
        except _DpopRefused as refused:
            raise ProtocolError(refused.error, refused.description, 400, refused.headers) from None

    def key_at_resource(self, token: PresentedToken) -> str | None:
        """The thumbprint of the key that proved possession of the token; None for a Bearer token."""
        if token.scheme == "bearer":
            if self.policy.required:
                raise self.challenge("this server accepts DPoP-bound access tokens only")
            return None
        if token.dpop is None:
            raise self.challenge("a DPoP access token needs a DPoP proof")
        try:
            return self._checked(token.dpop, token.value).jkt
        except _DpopRefused as refused:
            raise InvalidToken(
                refused.description, error=refused.error, scheme="DPoP", headers=refused.headers
            ) from None

    def challenge(self, description: str) -> InvalidToken:
        """A refused access token, challenging with the scheme this server asks for."""
        return InvalidToken(description, scheme="DPoP" if self.policy.required else "Bearer")

    def _checked(self, dpop: DpopRequest, access_token: str | None) -> DpopProof:
        now = self._clock.now()
        try:
            proof = verify_dpop_proof(dpop, now=now, window=self.policy.window, access_token=access_token)
        except InvalidDpopProof as exc:
            raise _DpopRefused("invalid_dpop_proof", str(exc)) from None
        if self.policy.nonce and (proof.nonce is None or self._nonces.live(proof.nonce, now) is None):
            raise _DpopRefused(
                "use_dpop_nonce", "send a DPoP proof with the server's nonce", {"DPoP-Nonce": self.nonce()}
            )
        # The jti is remembered for as long as a proof with that iat is accepted, so no proof is taken twice.
        remembered_until = proof.issued_at + self.policy.window.max_age + self.policy.window.max_ahead
        replay_key = b64url_encode(hashlib.sha256(f"dpop-jti:{proof.jkt}:{proof.jti}".encode()).digest())
        with self._uow() as uow:
            first_use = uow.wallet_requests.use_nonce(replay_key, remembered_until)
            uow.commit()
        if not first_use:
            raise _DpopRefused("invalid_dpop_proof", "this DPoP proof (its jti) has been used before")
        return proof


class _DpopRefused(Exception):
    def __init__(self, error: str, description: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.headers = headers
