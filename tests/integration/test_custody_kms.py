"""The AWS KMS custody adapter against moto, and against a botocore Stubber where moto is not faithful.

AWS KMS cannot run here. moto stands in for it where it behaves like KMS (P-256 keys, RAW signing,
describe/alias/public-key calls); the gaps listed in tests/backends/kms.py (DIGEST signing, Ed25519,
errors for disabled keys) are tested with a Stubber, which checks each request against what the AWS
API reference documents and answers what KMS would answer. Nothing here has run against real KMS.
"""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

from ec_issuer.config import KmsSettings
from ec_issuer.core.errors import InvalidInput, Unavailable
from ec_issuer.custody.formats import raw_ecdsa_signature
from ec_issuer.custody.kms import MAX_RAW_MESSAGE, KmsCustody
from ec_issuer.keys.jwk import public_jwk, public_key_from_jwk
from ec_issuer.keys.model import Algorithm
from tests.backends.kms import (
    REGION,
    MotoKms,
    closed_port,
    moto_kms_fixture,  # noqa: F401 - registers the `moto_kms` fixture
    use_fake_credentials,
)

SIGNING_INPUT = b"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJkaWQ6d2ViOmlzc3Vlci50ZXN0In0"
ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def verify(jwk: dict[str, Any], data: bytes, signature: bytes) -> None:
    """Verify a JOSE-form signature with `cryptography`; raises InvalidSignature."""
    key = public_key_from_jwk(jwk)
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, data)
        return
    assert len(signature) == 64
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key.verify(der, data, ec.ECDSA(hashes.SHA256()))


def spki(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


# --- moto: where it behaves like KMS --------------------------------------------------------------


def test_generate_es256_creates_a_tagged_signing_key_and_signs_raw_verifiably(moto_kms: MotoKms) -> None:
    custody = KmsCustody(moto_kms.settings, moto_kms.client)

    key = custody.generate(Algorithm.ES256)
    signature = custody.sign(key.key_ref, Algorithm.ES256, SIGNING_INPUT)

    assert custody.name == "kms"
    assert key.key_ref.startswith(f"arn:aws:kms:{REGION}:")
    metadata = moto_kms.client.describe_key(KeyId=key.key_ref)["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert metadata["Description"] == "ec-issuer ES256 signing key"
    tags = moto_kms.client.list_resource_tags(KeyId=metadata["KeyId"])["Tags"]
    assert {"TagKey": "ec-issuer", "TagValue": "true"} in tags
    assert key.public_jwk["kty"] == "EC"
    assert key.public_jwk["crv"] == "P-256"
    assert "d" not in key.public_jwk
    verify(key.public_jwk, SIGNING_INPUT, signature)
    with pytest.raises(InvalidSignature):
        verify(key.public_jwk, SIGNING_INPUT + b"x", signature)


def test_sign_many_signs_each_input(moto_kms: MotoKms) -> None:
    custody = KmsCustody(moto_kms.settings, moto_kms.client)
    key = custody.generate(Algorithm.ES256)
    items = [b"first", b"second", b"x" * MAX_RAW_MESSAGE]

    signatures = custody.sign_many(key.key_ref, Algorithm.ES256, items)

    assert len(signatures) == 3
    for data, signature in zip(items, signatures, strict=True):
        verify(key.public_jwk, data, signature)


def test_without_an_injected_client_one_is_built_from_the_settings(moto_kms: MotoKms) -> None:
    custody = KmsCustody(moto_kms.settings)

    custody.check()
    key = custody.generate(Algorithm.ES256)
    verify(key.public_jwk, SIGNING_INPUT, custody.sign(key.key_ref, Algorithm.ES256, SIGNING_INPUT))


@pytest.mark.parametrize("name_by", ["key id", "key ARN", "alias", "alias ARN"])
def test_import_resolves_any_key_name_to_the_key_arn(moto_kms: MotoKms, name_by: str) -> None:
    custody = KmsCustody(moto_kms.settings, moto_kms.client)
    metadata = moto_kms.client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    moto_kms.client.create_alias(AliasName="alias/issuer-acme", TargetKeyId=metadata["KeyId"])
    alias_arn = metadata["Arn"].replace(f"key/{metadata['KeyId']}", "alias/issuer-acme")
    material = {
        "key id": metadata["KeyId"],
        "key ARN": metadata["Arn"],
        "alias": "alias/issuer-acme",
        "alias ARN": alias_arn,
    }[name_by]

    imported = custody.import_key(Algorithm.ES256, f" {material}\n")

    assert imported.key_ref == metadata["Arn"]
    public = moto_kms.client.get_public_key(KeyId=metadata["KeyId"])["PublicKey"]
    assert imported.public_jwk == public_jwk(_load_der_public(public))
    verify(imported.public_jwk, SIGNING_INPUT, custody.sign(imported.key_ref, Algorithm.ES256, SIGNING_INPUT))


def _load_der_public(der: bytes) -> ec.EllipticCurvePublicKey:
    key = load_der_public_key(der)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def _key(client: Any, spec: str, usage: str) -> str:
    return str(client.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"])


def _disabled(client: Any) -> str:
    key_id = _key(client, "ECC_NIST_P256", "SIGN_VERIFY")
    client.disable_key(KeyId=key_id)
    return key_id


def _pending_deletion(client: Any) -> str:
    key_id = _key(client, "ECC_NIST_P256", "SIGN_VERIFY")
    client.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    return key_id


UNUSABLE_KEYS: dict[str, tuple[Algorithm, Callable[[Any], str], str]] = {
    "P-384 key for ES256": (Algorithm.ES256, lambda c: _key(c, "ECC_NIST_P384", "SIGN_VERIFY"), "ECC_NIST_P384"),
    "P-256 key for EdDSA": (Algorithm.EDDSA, lambda c: _key(c, "ECC_NIST_P256", "SIGN_VERIFY"), "ECC_NIST_P256"),
    "RSA signing key": (Algorithm.ES256, lambda c: _key(c, "RSA_2048", "SIGN_VERIFY"), "RSA_2048"),
    "encryption key": (Algorithm.ES256, lambda c: _key(c, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), "ENCRYPT_DECRYPT"),
    "disabled key": (Algorithm.ES256, _disabled, "Disabled"),
    "key pending deletion": (Algorithm.ES256, _pending_deletion, "PendingDeletion"),
    "unknown key id": (Algorithm.ES256, lambda _: str(uuid.uuid4()), "does not know"),
    "unknown key ARN": (
        Algorithm.ES256,
        lambda _: f"arn:aws:kms:{REGION}:123456789012:key/{uuid.uuid4()}",
        "does not know",
    ),
    "unknown alias": (Algorithm.ES256, lambda _: "alias/nobody", "does not know"),
    "nonsense": (Algorithm.ES256, lambda _: "not a key", "does not know"),
    "blank": (Algorithm.ES256, lambda _: "  ", "name a KMS key"),
}


@pytest.mark.parametrize("case", list(UNUSABLE_KEYS))
def test_import_refuses_keys_that_cannot_sign_for_the_algorithm(moto_kms: MotoKms, case: str) -> None:
    algorithm, make, reason = UNUSABLE_KEYS[case]
    material = make(moto_kms.client)

    with pytest.raises(InvalidInput) as caught:
        KmsCustody(moto_kms.settings, moto_kms.client).import_key(algorithm, material)

    assert [error.pointer for error in caught.value.errors] == ["/material"]
    assert reason in caught.value.errors[0].detail


def test_signing_with_an_unknown_key_is_unavailable(moto_kms: MotoKms) -> None:
    custody = KmsCustody(moto_kms.settings, moto_kms.client)

    with pytest.raises(Unavailable, match="NotFoundException"):
        custody.sign(f"arn:aws:kms:{REGION}:123456789012:key/{uuid.uuid4()}", Algorithm.ES256, SIGNING_INPUT)


def test_check_passes_against_moto(moto_kms: MotoKms) -> None:
    KmsCustody(moto_kms.settings, moto_kms.client).check()


# --- no KMS at all: readiness and outages ---------------------------------------------------------


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_credentials(monkeypatch)


@pytest.mark.usefixtures("fake_credentials")
def test_check_is_unavailable_quickly_when_the_endpoint_refuses_connections() -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    custody = KmsCustody(KmsSettings(region=REGION, endpoint_url=endpoint, timeout_seconds=0.5))

    started = time.monotonic()
    with pytest.raises(Unavailable, match="could not list keys") as caught:
        custody.check()

    assert time.monotonic() - started < 5
    assert endpoint in caught.value.detail


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A socket that accepts connections (the kernel does) but never answers a request."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.usefixtures("fake_credentials")
def test_check_and_sign_time_out_against_an_endpoint_that_never_answers(silent_endpoint: str) -> None:
    custody = KmsCustody(KmsSettings(region=REGION, endpoint_url=silent_endpoint, timeout_seconds=0.3))

    started = time.monotonic()
    with pytest.raises(Unavailable, match="timeout"):
        custody.check()
    with pytest.raises(Unavailable, match="could not sign"):
        custody.sign(ARN, Algorithm.ES256, SIGNING_INPUT)

    # Two attempts each (the configured retries) of 0.3 s, plus standard-mode backoff of at most 1 s.
    assert time.monotonic() - started < 6


def test_check_is_unavailable_without_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_credentials(monkeypatch)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    for name in (
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    endpoint = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(Unavailable, match="credentials"):
        KmsCustody(KmsSettings(region=REGION, endpoint_url=endpoint, timeout_seconds=0.5)).check()


# --- Stubber: what moto cannot show ---------------------------------------------------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[KmsCustody, Stubber]]:
    """A KmsCustody on a real boto3 client whose requests a Stubber checks and answers; no network."""
    client = boto3.client("kms", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield KmsCustody(KmsSettings(region=REGION), client), stubber
        stubber.assert_no_pending_responses()


def _sign_request(message: bytes, message_type: str, algorithm: str) -> dict[str, Any]:
    return {"KeyId": ARN, "Message": message, "MessageType": message_type, "SigningAlgorithm": algorithm}


def test_es256_input_over_4096_bytes_is_signed_as_a_sha256_digest(stubbed: tuple[KmsCustody, Stubber]) -> None:
    """moto would hash the digest a second time (its signature would not verify); real KMS signs the
    digest as given. So the Stubber checks the request and answers what real KMS computes: ECDSA over
    the prehashed digest. That answer must come back as an r||s signature over the whole input."""
    custody, stubber = stubbed
    private = ec.generate_private_key(ec.SECP256R1())
    data = b"h." + b"p" * 6000
    digest = hashlib.sha256(data).digest()
    der = private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    stubber.add_response(
        "sign",
        {"KeyId": ARN, "Signature": der, "SigningAlgorithm": "ECDSA_SHA_256"},
        _sign_request(digest, "DIGEST", "ECDSA_SHA_256"),
    )

    signature = custody.sign(ARN, Algorithm.ES256, data)

    assert signature == raw_ecdsa_signature(der)
    verify(public_jwk(private.public_key()), data, signature)


def test_es256_input_of_exactly_4096_bytes_is_sent_raw_and_der_becomes_padded_r_s(
    stubbed: tuple[KmsCustody, Stubber],
) -> None:
    """Stubber: a known DER signature with small r and s must become two left-padded 32-byte halves."""
    custody, stubber = stubbed
    data = b"x" * MAX_RAW_MESSAGE
    stubber.add_response(
        "sign",
        {"KeyId": ARN, "Signature": encode_dss_signature(1, 2**255 + 7), "SigningAlgorithm": "ECDSA_SHA_256"},
        _sign_request(data, "RAW", "ECDSA_SHA_256"),
    )

    signature = custody.sign(ARN, Algorithm.ES256, data)

    assert signature == (1).to_bytes(32, "big") + (2**255 + 7).to_bytes(32, "big")


def test_a_signature_that_is_not_der_is_unavailable(stubbed: tuple[KmsCustody, Stubber]) -> None:
    custody, stubber = stubbed
    stubber.add_response(
        "sign",
        {"KeyId": ARN, "Signature": b"\x00" * 64, "SigningAlgorithm": "ECDSA_SHA_256"},
        _sign_request(SIGNING_INPUT, "RAW", "ECDSA_SHA_256"),
    )

    with pytest.raises(Unavailable, match="not DER"):
        custody.sign(ARN, Algorithm.ES256, SIGNING_INPUT)


def _ed25519_metadata() -> dict[str, Any]:
    return {
        "KeyId": KEY_ID,
        "Arn": ARN,
        "KeyUsage": "SIGN_VERIFY",
        "KeySpec": "ECC_NIST_EDWARDS25519",
        "KeyState": "Enabled",
        "Enabled": True,
        "SigningAlgorithms": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
    }


def _public_key_response(public: bytes) -> dict[str, Any]:
    return {
        "KeyId": ARN,
        "PublicKey": public,
        "KeySpec": "ECC_NIST_EDWARDS25519",
        "KeyUsage": "SIGN_VERIFY",
        "SigningAlgorithms": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
    }


def test_eddsa_generates_an_ed25519_key_and_signs_raw_with_ed25519_sha_512(
    stubbed: tuple[KmsCustody, Stubber],
) -> None:
    """moto rejects ECC_NIST_EDWARDS25519, so this is a Stubber test against the AWS API reference:
    CreateKey with KeySpec ECC_NIST_EDWARDS25519, GetPublicKey answering a DER SubjectPublicKeyInfo,
    Sign with ED25519_SHA_512, which requires MessageType RAW and answers the 64-byte RFC 8032 signature.
    The answers are made with a local Ed25519 key, so the result is verified for real."""
    custody, stubber = stubbed
    private = ed25519.Ed25519PrivateKey.generate()
    stubber.add_response(
        "create_key",
        {"KeyMetadata": _ed25519_metadata()},
        {
            "KeySpec": "ECC_NIST_EDWARDS25519",
            "KeyUsage": "SIGN_VERIFY",
            "Description": "ec-issuer EdDSA signing key",
            "Tags": [{"TagKey": "ec-issuer", "TagValue": "true"}],
        },
    )
    stubber.add_response("get_public_key", _public_key_response(spki(private)), {"KeyId": ARN})
    stubber.add_response(
        "sign",
        {"KeyId": ARN, "Signature": private.sign(SIGNING_INPUT), "SigningAlgorithm": "ED25519_SHA_512"},
        _sign_request(SIGNING_INPUT, "RAW", "ED25519_SHA_512"),
    )

    key = custody.generate(Algorithm.EDDSA)
    signature = custody.sign(key.key_ref, Algorithm.EDDSA, SIGNING_INPUT)

    assert key.key_ref == ARN
    assert key.public_jwk == public_jwk(private.public_key())
    verify(key.public_jwk, SIGNING_INPUT, signature)


def test_eddsa_import_accepts_an_enabled_ed25519_signing_key(stubbed: tuple[KmsCustody, Stubber]) -> None:
    """Stubber (moto has no Ed25519 keys): DescribeKey by alias, then GetPublicKey by the key's ARN."""
    custody, stubber = stubbed
    private = ed25519.Ed25519PrivateKey.generate()
    stubber.add_response("describe_key", {"KeyMetadata": _ed25519_metadata()}, {"KeyId": "alias/issuer-ed"})
    stubber.add_response("get_public_key", _public_key_response(spki(private)), {"KeyId": ARN})

    imported = custody.import_key(Algorithm.EDDSA, "alias/issuer-ed")

    assert imported.key_ref == ARN
    assert imported.public_jwk == public_jwk(private.public_key())


def test_eddsa_input_over_4096_bytes_is_refused_without_calling_kms(stubbed: tuple[KmsCustody, Stubber]) -> None:
    """ED25519_SHA_512 takes RAW messages only (at most 4096 bytes), and the digest variant
    ED25519_PH_SHA_512 is Ed25519ph, which JOSE `EdDSA` verifiers reject. The Stubber has no
    answer queued, so any request would fail the test."""
    custody, _ = stubbed

    with pytest.raises(InvalidInput, match="at most 4096 bytes"):
        custody.sign(ARN, Algorithm.EDDSA, b"x" * (MAX_RAW_MESSAGE + 1))


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("DisabledException", "is disabled"),
        ("KMSInvalidStateException", "current state"),
        ("AccessDeniedException", "refused to sign with key .*AccessDeniedException"),
        ("KeyUnavailableException", "KeyUnavailableException"),
        ("ThrottlingException", "ThrottlingException"),
    ],
)
def test_sign_errors_from_kms_are_unavailable(stubbed: tuple[KmsCustody, Stubber], code: str, reason: str) -> None:
    """Stubber: moto signs even with disabled or pending-deletion keys, real KMS answers these errors."""
    custody, stubber = stubbed
    stubber.add_client_error(
        "sign",
        service_error_code=code,
        service_message="from KMS",
        expected_params=_sign_request(SIGNING_INPUT, "RAW", "ECDSA_SHA_256"),
    )

    with pytest.raises(Unavailable, match=reason):
        custody.sign(ARN, Algorithm.ES256, SIGNING_INPUT)


def test_generate_errors_from_kms_are_unavailable(stubbed: tuple[KmsCustody, Stubber]) -> None:
    custody, stubber = stubbed
    stubber.add_client_error("create_key", service_error_code="LimitExceededException", service_message="too many")

    with pytest.raises(Unavailable, match="refused to create a key: LimitExceededException: too many"):
        custody.generate(Algorithm.ES256)


def test_import_is_unavailable_when_kms_fails_rather_than_refuses(stubbed: tuple[KmsCustody, Stubber]) -> None:
    custody, stubber = stubbed
    stubber.add_client_error("describe_key", service_error_code="KMSInternalException", http_status_code=500)

    with pytest.raises(Unavailable, match="KMSInternalException"):
        custody.import_key(Algorithm.ES256, KEY_ID)
