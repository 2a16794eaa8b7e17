"""Nonces that carry their expiry under the server's MAC (oid4vci/nonces.py)."""

from __future__ import annotations

import hmac
from datetime import timedelta

from ec_issuer.oid4vci.nonces import ExpiringNonces
from tests.support import SettableClock


def mac(message: bytes) -> bytes:
    return hmac.new(b"server secret", message, "sha256").digest()[:16]


def nonces(purpose: bytes, clock: SettableClock, random_bytes: int = 16) -> ExpiringNonces:
    return ExpiringNonces(purpose, mac, clock, lifetime_seconds=300, random_bytes=random_bytes)


def test_a_nonce_is_live_until_its_expiry() -> None:
    clock = SettableClock()
    c_nonces = nonces(b"c-nonce:", clock)
    nonce = c_nonces.new()
    live = c_nonces.live(nonce, clock.now())
    assert live is not None and live.key == nonce.split(".")[0]
    assert live.expires_at - clock.now() <= timedelta(seconds=300)
    assert c_nonces.live(nonce, live.expires_at - timedelta(seconds=1)) is not None
    assert c_nonces.live(nonce, live.expires_at) is None
    assert c_nonces.new() != nonce  # random part


def test_a_nonce_of_one_purpose_is_not_one_of_another() -> None:
    clock = SettableClock()
    c_nonce = nonces(b"c-nonce:", clock).new()
    dpop_nonces = nonces(b"dpop-nonce:", clock)
    assert dpop_nonces.live(c_nonce, clock.now()) is None
    assert nonces(b"dpop-nonce:", clock, random_bytes=0).live(c_nonce, clock.now()) is None


def test_forged_or_garbled_nonces_are_not_live() -> None:
    clock = SettableClock()
    c_nonces = nonces(b"c-nonce:", clock)
    payload, _, tag = c_nonces.new().partition(".")
    other_payload = c_nonces.new().partition(".")[0]
    for forged in (f"{other_payload}.{tag}", payload, "", ".", "not base64!.x", f"{payload}.{tag}A"):
        assert c_nonces.live(forged, clock.now()) is None, forged
