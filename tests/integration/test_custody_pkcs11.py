"""The PKCS#11 key custody on real SoftHSM2 tokens, one fresh token per test."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pkcs11
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11.constants import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive, UserAlreadyLoggedIn
from pkcs11.mechanisms import KeyType, Mechanism
from pkcs11.types import Session
from pkcs11.util.ec import encode_named_curve_parameters

from ec_issuer.config import Pkcs11Settings
from ec_issuer.core.encoding import b64url_decode
from ec_issuer.core.errors import InvalidInput, Unavailable
from ec_issuer.custody.pkcs11 import Pkcs11Custody
from ec_issuer.keys.model import Algorithm

pytest_plugins = ["tests.backends.softhsm"]

ALGORITHMS = [Algorithm.ES256, Algorithm.EDDSA]
CURVES = {
    Algorithm.ES256: (KeyType.EC, "secp256r1", Mechanism.EC_KEY_PAIR_GEN),
    Algorithm.EDDSA: (KeyType.EC_EDWARDS, "1.3.101.112", Mechanism.EC_EDWARDS_KEY_PAIR_GEN),
}


@pytest.fixture
def custody(pkcs11_settings: Pkcs11Settings) -> Pkcs11Custody:
    return Pkcs11Custody(pkcs11_settings)


def verify(jwk: dict[str, Any], algorithm: Algorithm, signature: bytes, data: bytes) -> None:
    """Independent of the code under test: the JWK members and the JOSE signature form only."""
    if algorithm is Algorithm.ES256:
        assert (jwk["kty"], jwk["crv"], len(signature)) == ("EC", "P-256", 64)
        x, y = (int.from_bytes(b64url_decode(jwk[member]), "big") for member in ("x", "y"))
        public = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        public.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    else:
        assert (jwk["kty"], jwk["crv"], len(signature)) == ("OKP", "Ed25519", 64)
        ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"])).verify(signature, data)


@contextmanager
def token_session(settings: Pkcs11Settings) -> Iterator[Session]:
    """A session of the test's own on the token, beside the custody's."""
    token = pkcs11.lib(settings.module).get_token(token_label=settings.token_label)
    try:
        session = token.open(rw=True, user_pin=settings.pin)
    except UserAlreadyLoggedIn:
        session = token.open(rw=True)  # login is per process: the custody's login covers this session
    with session:
        yield session


def make_pair(session: Session, algorithm: Algorithm, label: str, *, public_label: str | None = None) -> None:
    key_type, curve, mechanism = CURVES[algorithm]
    session.generate_keypair(
        key_type,
        store=True,
        label=label,
        mechanism=mechanism,
        public_template={
            Attribute.EC_PARAMS: encode_named_curve_parameters(curve),
            Attribute.LABEL: public_label or label,
        },
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_generated_keys_sign_verifiably(custody: Pkcs11Custody, algorithm: Algorithm) -> None:
    key = custody.generate(algorithm)

    assert key.key_ref.startswith("ec-issuer-")
    data = b"header.payload " + algorithm.value.encode()
    verify(key.public_jwk, algorithm, custody.sign(key.key_ref, algorithm, data), data)
    items = [f"credential {n}".encode() for n in range(5)]
    signatures = custody.sign_many(key.key_ref, algorithm, items)
    assert len(signatures) == 5
    for item, signature in zip(items, signatures, strict=True):
        verify(key.public_jwk, algorithm, signature, item)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_generated_private_keys_never_leave_the_token(
    custody: Pkcs11Custody, pkcs11_settings: Pkcs11Settings, algorithm: Algorithm
) -> None:
    key = custody.generate(algorithm)

    with token_session(pkcs11_settings) as session:
        private = session.get_key(ObjectClass.PRIVATE_KEY, label=key.key_ref)
        assert private[Attribute.TOKEN] is True
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.DERIVE] is False
        assert private[Attribute.ID] == uuid.UUID(key.key_ref.removeprefix("ec-issuer-")).bytes
        with pytest.raises(AttributeSensitive):
            private[Attribute.VALUE]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_key_pair_on_the_token_is_imported_by_label(pkcs11_settings: Pkcs11Settings, algorithm: Algorithm) -> None:
    with token_session(pkcs11_settings) as session:
        make_pair(session, algorithm, "made-by-the-hsm-admin")
    custody = Pkcs11Custody(pkcs11_settings)

    key = custody.import_key(algorithm, "made-by-the-hsm-admin")

    assert key.key_ref == "made-by-the-hsm-admin"
    verify(key.public_jwk, algorithm, custody.sign(key.key_ref, algorithm, b"data"), b"data")


def test_import_refuses_a_key_of_another_algorithm(pkcs11_settings: Pkcs11Settings) -> None:
    with token_session(pkcs11_settings) as session:
        make_pair(session, Algorithm.EDDSA, "an-ed25519-key")

    with pytest.raises(InvalidInput) as raised:
        Pkcs11Custody(pkcs11_settings).import_key(Algorithm.ES256, "an-ed25519-key")
    assert [error.pointer for error in raised.value.errors] == ["/material"]
    assert "ES256" in raised.value.errors[0].detail


def test_import_refuses_a_curve_other_than_p256(pkcs11_settings: Pkcs11Settings) -> None:
    with token_session(pkcs11_settings) as session:
        session.generate_keypair(
            KeyType.EC,
            store=True,
            label="a-p384-key",
            public_template={Attribute.EC_PARAMS: encode_named_curve_parameters("secp384r1")},
        )

    with pytest.raises(InvalidInput) as raised:
        Pkcs11Custody(pkcs11_settings).import_key(Algorithm.ES256, "a-p384-key")
    assert [error.pointer for error in raised.value.errors] == ["/material"]


def test_import_refuses_an_unknown_label(custody: Pkcs11Custody) -> None:
    with pytest.raises(InvalidInput) as raised:
        custody.import_key(Algorithm.ES256, "no-such-key")
    assert [error.pointer for error in raised.value.errors] == ["/material"]
    assert "found 0 and 0" in raised.value.errors[0].detail


def test_import_refuses_objects_that_share_a_label_but_are_not_one_pair(pkcs11_settings: Pkcs11Settings) -> None:
    with token_session(pkcs11_settings) as session:
        make_pair(session, Algorithm.ES256, "shared", public_label="first-public")
        make_pair(session, Algorithm.ES256, "second-private", public_label="shared")

    with pytest.raises(InvalidInput) as raised:
        Pkcs11Custody(pkcs11_settings).import_key(Algorithm.ES256, "shared")
    assert "not one key pair" in raised.value.errors[0].detail


def test_check_passes_on_a_usable_token(custody: Pkcs11Custody) -> None:
    custody.check()
    custody.check()


def test_nothing_is_loaded_before_first_use(pkcs11_settings: Pkcs11Settings) -> None:
    custody = Pkcs11Custody(replace(pkcs11_settings, module="/nonexistent/libpkcs11.so"))

    with pytest.raises(Unavailable, match=r"module /nonexistent/libpkcs11\.so cannot be loaded"):
        custody.check()


def test_check_names_a_missing_token(pkcs11_settings: Pkcs11Settings) -> None:
    custody = Pkcs11Custody(replace(pkcs11_settings, token_label="not-initialised"))

    with pytest.raises(Unavailable, match="no PKCS#11 token labelled 'not-initialised'"):
        custody.check()


def test_a_wrong_pin_is_reported_without_the_pin_and_not_retried(pkcs11_settings: Pkcs11Settings) -> None:
    custody = Pkcs11Custody(replace(pkcs11_settings, pin="wrong-pin-8261"))

    for _ in range(2):
        with pytest.raises(Unavailable, match="refused the PIN") as raised:
            custody.check()
        chain: BaseException | None = raised.value
        while chain is not None:
            assert "wrong-pin-8261" not in f"{chain} {chain!r}"
            chain = chain.__cause__ or chain.__context__
    with pytest.raises(Unavailable, match="refused the PIN"):
        custody.sign("ec-issuer-anything", Algorithm.ES256, b"data")


def test_signing_with_a_key_missing_from_the_token_is_unavailable(custody: Pkcs11Custody) -> None:
    custody.generate(Algorithm.ES256)

    with pytest.raises(Unavailable, match="key ec-issuer-gone is missing from the PKCS#11 token"):
        custody.sign("ec-issuer-gone", Algorithm.ES256, b"data")


def test_a_key_is_not_used_with_another_algorithm(custody: Pkcs11Custody) -> None:
    key = custody.generate(Algorithm.EDDSA)

    with pytest.raises(ValueError, match="does not match algorithm ES256"):
        custody.sign(key.key_ref, Algorithm.ES256, b"data")


def test_a_session_lost_under_the_custody_is_replaced(custody: Pkcs11Custody, pkcs11_settings: Pkcs11Settings) -> None:
    key = custody.generate(Algorithm.ES256)
    pkcs11.lib(pkcs11_settings.module).reinitialize()  # as after an HSM restart: every session handle is gone

    # The dead session is noticed and replaced within the same call: the caller sees no error.
    verify(key.public_jwk, Algorithm.ES256, custody.sign(key.key_ref, Algorithm.ES256, b"data"), b"data")
    verify(key.public_jwk, Algorithm.ES256, custody.sign(key.key_ref, Algorithm.ES256, b"more"), b"more")


def test_a_key_missing_from_the_token_fails_even_after_a_fresh_session(custody: Pkcs11Custody) -> None:
    custody.generate(Algorithm.ES256)  # a session exists, so a failure is retried once on a new one
    with pytest.raises(Unavailable, match="missing"):
        custody.sign("ec-issuer-not-on-the-token", Algorithm.ES256, b"data")


def test_several_threads_sign_at_once(custody: Pkcs11Custody) -> None:
    keys = {algorithm: custody.generate(algorithm) for algorithm in ALGORITHMS}

    def sign(n: int) -> tuple[Algorithm, bytes, bytes]:
        algorithm = ALGORITHMS[n % 2]
        data = f"thread input {n}".encode()
        return algorithm, data, custody.sign(keys[algorithm].key_ref, algorithm, data)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(sign, range(400)))

    for algorithm, data, signature in results:
        verify(keys[algorithm].public_jwk, algorithm, signature, data)


def test_a_forked_worker_opens_its_own_session(custody: Pkcs11Custody) -> None:
    key = custody.generate(Algorithm.EDDSA)
    custody.sign(key.key_ref, Algorithm.EDDSA, b"the parent is logged in before the fork")
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)

    def child() -> None:
        try:
            sending.send(("ok", custody.sign(key.key_ref, Algorithm.EDDSA, b"from the child")))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
            sending.send(("error", repr(exc)))

    worker = context.Process(target=child)
    worker.start()
    outcome, value = receiving.recv()
    worker.join(timeout=30)

    assert (outcome, worker.exitcode) == ("ok", 0), value
    verify(key.public_jwk, Algorithm.EDDSA, value, b"from the child")
    # The child's re-initialisation of its copy of the module leaves the parent's session alone.
    verify(key.public_jwk, Algorithm.EDDSA, custody.sign(key.key_ref, Algorithm.EDDSA, b"after"), b"after")
