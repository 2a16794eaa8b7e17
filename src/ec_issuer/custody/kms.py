"""Key custody in AWS KMS: keys are created and used inside KMS; this service keeps only the key ARN.

ES256 keys are ECC_NIST_P256 and sign with ECDSA_SHA_256 (KMS answers DER, JOSE wants r||s). EdDSA keys
are ECC_NIST_EDWARDS25519 and sign with ED25519_SHA_512, which KMS accepts only as MessageType RAW, so
at most 4096 bytes: pure Ed25519 (RFC 8032, what JOSE `EdDSA` means) hashes the whole message and
cannot be handed a digest. The ED25519_PH_SHA_512 variant takes a digest but is Ed25519ph, a different
signature that JOSE verifiers reject.

The key reference kept is the key ARN rather than the bare key id: it is what KMS itself answers in
Sign, it names the account and region the key lives in, and it is the only name that works for a key
in another account (KMS requires the ARN there).
"""

# boto3/botocore ship no type information and boto3-stubs is not a dependency; the untyped surface
# is confined to `_new_client` and `_error_of` below.
# pyright: reportMissingTypeStubs=false

from __future__ import annotations

import hashlib
import os
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from typing import Any, NotRequired, Protocol, TypedDict, cast

import boto3.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ec_issuer.config import KmsSettings
from ec_issuer.core.errors import FieldError, InvalidInput, Unavailable
from ec_issuer.custody.formats import jwk_from_spki, raw_ecdsa_signature
from ec_issuer.keys.model import Algorithm, GeneratedKey

# Documented limit of Sign's Message with MessageType RAW; larger inputs must be sent as a digest.
MAX_RAW_MESSAGE = 4096
_ED25519_SIGNATURE_BYTES = 64

_KEY_SPECS = {Algorithm.ES256: "ECC_NIST_P256", Algorithm.EDDSA: "ECC_NIST_EDWARDS25519"}
_SIGNING_ALGORITHMS = {Algorithm.ES256: "ECDSA_SHA_256", Algorithm.EDDSA: "ED25519_SHA_512"}
_TAG = {"TagKey": "ec-issuer", "TagValue": "true"}
# Errors that mean "the key named in the request is not one we can use", as opposed to an outage.
_UNUSABLE_KEY_ERRORS = frozenset({"NotFoundException", "InvalidArnException", "AccessDeniedException"})


class _KeyMetadata(TypedDict):
    Arn: str
    KeyUsage: NotRequired[str]
    KeySpec: NotRequired[str]
    KeyState: NotRequired[str]


class _KeyMetadataResponse(TypedDict):
    KeyMetadata: _KeyMetadata


class _PublicKeyResponse(TypedDict):
    PublicKey: bytes


class _SignResponse(TypedDict):
    Signature: bytes


class _KmsClient(Protocol):
    """The part of boto3's KMS client this adapter calls, with the response fields it reads.

    boto3 has no type information, so its client is cast to this once (`_new_client`); the shapes
    follow the KMS API reference. Tests inject a boto3 client under moto or a botocore Stubber."""

    def create_key(self, **params: object) -> _KeyMetadataResponse: ...

    def describe_key(self, **params: object) -> _KeyMetadataResponse: ...

    def get_public_key(self, **params: object) -> _PublicKeyResponse: ...

    def sign(self, **params: object) -> _SignResponse: ...

    def list_keys(self, **params: object) -> dict[str, Any]: ...


class KmsCustody:
    """Keys held by AWS KMS (or a KMS-compatible endpoint); credentials come from the AWS chain."""

    def __init__(self, settings: KmsSettings, client: object | None = None) -> None:
        self._settings = settings
        self._injected = cast("_KmsClient | None", client)
        self._per_process: tuple[int, _KmsClient] | None = None

    @property
    def name(self) -> str:
        return "kms"

    def generate(self, algorithm: Algorithm) -> GeneratedKey:
        with _outage("create a key"):
            created = self._client().create_key(
                KeySpec=_KEY_SPECS[algorithm],
                KeyUsage="SIGN_VERIFY",
                Description=f"ec-issuer {algorithm.value} signing key",
                Tags=[_TAG],
            )
        arn = created["KeyMetadata"]["Arn"]
        return GeneratedKey(key_ref=arn, public_jwk=self._public_jwk(arn, algorithm))

    def import_key(self, algorithm: Algorithm, material: str) -> GeneratedKey:
        """Adopt an existing KMS key named by key id, key ARN, alias (`alias/...`) or alias ARN.

        The reference kept is the key's ARN, never the alias: an alias can later be pointed at another
        key, and the JWK published for this one would then no longer match its signatures."""
        name = material.strip()
        if not name:
            raise _unusable("name a KMS key by key id, key ARN or alias/...")
        with _outage("describe the key"), _refused_as_unusable():
            metadata = self._client().describe_key(KeyId=name)["KeyMetadata"]
        usage, spec, state = metadata.get("KeyUsage"), metadata.get("KeySpec"), metadata.get("KeyState")
        if usage != "SIGN_VERIFY":
            raise _unusable(f"the key's usage is {usage}; signing needs SIGN_VERIFY")
        if spec != _KEY_SPECS[algorithm]:
            raise _unusable(f"the key spec is {spec}; {algorithm.value} needs {_KEY_SPECS[algorithm]}")
        if state != "Enabled":
            raise _unusable(f"the key is {state}; only an enabled key can sign")
        arn = metadata["Arn"]
        return GeneratedKey(key_ref=arn, public_jwk=self._public_jwk(arn, algorithm))

    def sign(self, key_ref: str, algorithm: Algorithm, data: bytes) -> bytes:
        message, message_type = data, "RAW"
        if len(data) > MAX_RAW_MESSAGE:
            if algorithm is Algorithm.EDDSA:
                raise InvalidInput(
                    f"AWS KMS signs Ed25519 messages of at most {MAX_RAW_MESSAGE} bytes and this one has "
                    f"{len(data)}; use an ES256 key (or another key backend) for larger credentials"
                )
            # Real KMS signs a DIGEST as given, which is exactly ECDSA-SHA256 over the whole input.
            message, message_type = hashlib.sha256(data).digest(), "DIGEST"
        with _outage("sign", key_ref):
            signature = self._client().sign(
                KeyId=key_ref,
                Message=message,
                MessageType=message_type,
                SigningAlgorithm=_SIGNING_ALGORITHMS[algorithm],
            )["Signature"]
        if algorithm is Algorithm.EDDSA:
            if len(signature) != _ED25519_SIGNATURE_BYTES:
                raise Unavailable(f"AWS KMS returned a {len(signature)}-byte Ed25519 signature for {key_ref}")
            return signature
        try:
            return raw_ecdsa_signature(signature)
        except ValueError as exc:
            raise Unavailable(f"AWS KMS returned a signature for {key_ref} that is not DER ECDSA") from exc

    def sign_many(self, key_ref: str, algorithm: Algorithm, items: Sequence[bytes]) -> list[bytes]:
        # KMS has no batch Sign; one request per input.
        return [self.sign(key_ref, algorithm, data) for data in items]

    def check(self) -> None:
        with _outage("list keys"):
            self._client().list_keys(Limit=1)

    def _public_jwk(self, key_ref: str, algorithm: Algorithm) -> dict[str, Any]:
        with _outage("read the public key", key_ref):
            spki = self._client().get_public_key(KeyId=key_ref)["PublicKey"]
        try:
            return jwk_from_spki(spki, algorithm)
        except ValueError as exc:
            raise Unavailable(f"AWS KMS returned a public key for {key_ref} that is not {algorithm.value}") from exc

    def _client(self) -> _KmsClient:
        if self._injected is not None:
            return self._injected
        # One client per process: its connection pool must not be shared with forked server workers.
        # Two threads racing here build two clients and keep one, which is harmless.
        pid = os.getpid()
        current = self._per_process
        if current is None or current[0] != pid:
            current = (pid, _new_client(self._settings))
            self._per_process = current
        return current[1]


def _new_client(settings: KmsSettings) -> _KmsClient:
    config = Config(
        connect_timeout=settings.timeout_seconds,
        read_timeout=settings.timeout_seconds,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    # A fresh Session, not boto3's default one: sessions are not thread-safe, clients are.
    session = boto3.session.Session()
    # The one unchecked step: boto3's client has the methods and response shapes `_KmsClient` names.
    return cast(
        "_KmsClient",
        session.client(  # pyright: ignore[reportUnknownMemberType]
            "kms", region_name=settings.region, endpoint_url=settings.endpoint_url, config=config
        ),
    )


@contextmanager
def _outage(action: str, key_ref: str | None = None) -> Generator[None]:
    """Every AWS failure becomes a 503 that says what failed; nothing is stored for a failed action."""
    on_key = f" with key {key_ref}" if key_ref else ""
    try:
        yield
    except ClientError as exc:
        code, message = _error_of(exc)
        if code == "DisabledException":
            raise Unavailable(f"AWS KMS key {key_ref} is disabled") from exc
        if code == "KMSInvalidStateException":
            raise Unavailable(f"AWS KMS key {key_ref} cannot be used in its current state: {message}") from exc
        raise Unavailable(f"AWS KMS refused to {action}{on_key}: {code}: {message}") from exc
    except BotoCoreError as exc:
        raise Unavailable(f"AWS KMS could not {action}{on_key}: {exc}") from exc


@contextmanager
def _refused_as_unusable() -> Generator[None]:
    try:
        yield
    except ClientError as exc:
        code, message = _error_of(exc)
        if code in _UNUSABLE_KEY_ERRORS:
            raise _unusable(f"AWS KMS does not know this key or does not allow its use: {message}") from None
        raise


def _error_of(exc: ClientError) -> tuple[str, str]:
    # botocore types `response` loosely; the Error member is documented for every ClientError.
    response = cast("dict[str, dict[str, str]]", exc.response)
    error = response.get("Error", {})
    return error.get("Code", "Unknown"), error.get("Message", "")


def _unusable(reason: str) -> InvalidInput:
    return InvalidInput("the KMS key cannot be used", [FieldError("/material", reason)])
