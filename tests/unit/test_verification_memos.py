"""What one verification, and one verifier process, remember: each key resolved once per verification, and
each status list signature checked once per token and key."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from ec_issuer.credentials import status_checks
from ec_issuer.credentials.status_checks import VerifiedListSignatures
from ec_issuer.keys.resolution import ResolvedKey, ResolvedOnce
from ec_issuer.signing.jose import CompactJws, parse_compact


def es256_pair() -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    private = ec.generate_private_key(ec.SECP256R1())
    return private, ECAlgorithm.to_jwk(private.public_key(), as_dict=True)


def signed(private: ec.EllipticCurvePrivateKey, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, private, algorithm="ES256", headers={"typ": "statuslist+jwt", "kid": "k1"})


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The signature checks actually made, by token."""
    made: list[str] = []
    real = status_checks.verify_signature

    def counting(jws: CompactJws, jwk: dict[str, Any]) -> bool:
        made.append(jws.signing_input.decode())
        return real(jws, jwk)

    monkeypatch.setattr(status_checks, "verify_signature", counting)
    return made


def test_a_list_signature_is_checked_once_per_token_and_key(checks: list[str]) -> None:
    private, jwk = es256_pair()
    token = signed(private, {"sub": "https://issuer.test/lists/1", "n": 1})
    memo = VerifiedListSignatures()
    assert [memo.verifies(token, parse_compact(token), jwk) for _ in range(3)] == [True, True, True]
    assert len(checks) == 1


def test_another_token_or_another_key_is_checked_anew(checks: list[str]) -> None:
    private, jwk = es256_pair()
    _, other_jwk = es256_pair()
    token = signed(private, {"sub": "https://issuer.test/lists/1", "n": 1})
    memo = VerifiedListSignatures()
    assert memo.verifies(token, parse_compact(token), jwk)

    header, _, signature = token.split(".")
    tampered_payload = signed(private, {"sub": "https://issuer.test/lists/1", "n": 2}).split(".")[1]
    tampered = f"{header}.{tampered_payload}.{signature}"
    assert memo.verifies(tampered, parse_compact(tampered), jwk) is False
    assert memo.verifies(token, parse_compact(token), other_jwk) is False
    assert len(checks) == 3
    assert memo.verifies(tampered, parse_compact(tampered), jwk) is False  # a failure is remembered too
    assert len(checks) == 3


def test_the_least_recently_used_outcome_is_forgotten_first(checks: list[str]) -> None:
    private, jwk = es256_pair()
    tokens = [signed(private, {"n": n}) for n in range(3)]
    memo = VerifiedListSignatures(capacity=2)
    for token in (tokens[0], tokens[1], tokens[0], tokens[2]):  # tokens[1] is the least recently used
        assert memo.verifies(token, parse_compact(token), jwk)
    assert len(checks) == 3
    assert memo.verifies(tokens[0], parse_compact(tokens[0]), jwk)
    assert len(checks) == 3
    assert memo.verifies(tokens[1], parse_compact(tokens[1]), jwk)
    assert len(checks) == 4


class CountingResolver:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def resolve(self, kid: str) -> ResolvedKey | None:
        self.asked.append(kid)
        return ResolvedKey({"kty": "OKP"}, "did:web:acme.example") if kid.startswith("did:web") else None


def test_a_verification_resolves_each_kid_once_found_or_not() -> None:
    stored = CountingResolver()
    keys = ResolvedOnce(stored)
    found = [keys.resolve("did:web:acme.example#k1") for _ in range(3)]
    missing = [keys.resolve("did:nope:nowhere#k9") for _ in range(2)]
    assert found[0] is found[1] is found[2] is not None
    assert missing == [None, None]
    assert stored.asked == ["did:web:acme.example#k1", "did:nope:nowhere#k9"]
    assert ResolvedOnce(stored).resolve("did:web:acme.example#k1") is not None  # a new verification asks again
    assert len(stored.asked) == 3
