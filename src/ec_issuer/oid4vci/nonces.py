"""Nonces that carry their own expiry under the server's MAC: handing one out writes nothing, so an
unauthenticated endpoint that hands them out cannot be used to fill the database. Two kinds: the c_nonce of the
nonce endpoint (OID4VCI 1.0 §7), whose use is recorded when it is spent so that it is taken once, and the DPoP
nonce (RFC 9449 §8), good for any number of proofs until it expires."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ec_issuer.core.encoding import b64url_decode, b64url_encode
from ec_issuer.core.ports import Clock

C_NONCE_SECONDS = 300
DPOP_NONCE_SECONDS = 300

Mac = Callable[[bytes], bytes]  # the server's MAC of a message


@dataclass(frozen=True, slots=True)
class LiveNonce:
    """A nonce of ours that has not expired: `key` is what is stored once it is spent."""

    key: str
    expires_at: datetime


class ExpiringNonces:
    """`<payload>.<mac>`, both base64url: the payload is the expiry (8 bytes, seconds since the epoch) and
    `random_bytes` random bytes, the MAC is over the purpose and the payload."""

    def __init__(self, purpose: bytes, mac: Mac, clock: Clock, *, lifetime_seconds: int, random_bytes: int) -> None:
        self._purpose = purpose
        self._mac = mac
        self._clock = clock
        self._lifetime_seconds = lifetime_seconds
        self._random_bytes = random_bytes

    def new(self) -> str:
        expires = int(self._clock.now().timestamp()) + self._lifetime_seconds
        payload = expires.to_bytes(8, "big") + secrets.token_bytes(self._random_bytes)
        return f"{b64url_encode(payload)}.{b64url_encode(self._mac(self._purpose + payload))}"

    def live(self, nonce: str, now: datetime) -> LiveNonce | None:
        """The nonce if it is ours and has not expired at `now`; None otherwise."""
        encoded, _, mac = nonce.partition(".")
        try:
            payload, given = b64url_decode(encoded), b64url_decode(mac)
        except ValueError:
            return None
        if len(payload) != 8 + self._random_bytes or not hmac.compare_digest(given, self._mac(self._purpose + payload)):
            return None
        expires_at = datetime.fromtimestamp(int.from_bytes(payload[:8], "big"), UTC)
        return LiveNonce(encoded, expires_at) if now < expires_at else None
