"""Key custody in HashiCorp Vault or OpenBao transit: keys are made and used inside the server and never
leave it (not exportable, no plaintext backup); this service keeps `<transit key name>@<version>`.

The version is part of the reference because a transit key is a ring of versions: a rotation inside Vault
makes a new version the default, and its signatures would not verify with the JWK we published, which is
one version's public key. Every signature therefore names its version.

The token needs no more than this policy (for a transit mount at `transit`); `+` matches one path segment,
so it grants neither rotation, configuration nor deletion of keys:

    path "transit/keys"   { capabilities = ["list"] }
    path "transit/keys/+" { capabilities = ["create", "update", "read"] }
    path "transit/sign/+" { capabilities = ["update"] }
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import threading
import uuid
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, cast

import hvac
import requests
from hvac.exceptions import Forbidden, InvalidPath, VaultDown, VaultError, VaultNotInitialized
from requests.adapters import HTTPAdapter

from ec_issuer.config import VaultSettings
from ec_issuer.core.encoding import b64url_decode
from ec_issuer.core.errors import FieldError, InvalidInput, Unavailable
from ec_issuer.custody.formats import jwk_from_ed25519_raw, jwk_from_spki
from ec_issuer.keys.model import Algorithm, GeneratedKey

_KEY_TYPES = {Algorithm.ES256: "ecdsa-p256", Algorithm.EDDSA: "ed25519"}
# ES256 asks for the JWS encoding (raw r||s, base64url); Vault's default is ASN.1 DER. Ed25519 takes neither
# option: its signature is always the 64 raw bytes, in standard base64.
_SIGN_OPTIONS: dict[Algorithm, dict[str, object]] = {
    Algorithm.ES256: {"hash_algorithm": "sha2-256", "marshaling_algorithm": "jws"},
    Algorithm.EDDSA: {},
}
_SIGNATURE_BYTES = 64
# Vault's own rule for key names (framework.GenericNameRegex). Checking it here also keeps a name from
# carrying `/` or `..` into the request path, out of the transit mount.
_REFERENCE = re.compile(r"(?P<name>[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)(?:@(?P<version>[1-9][0-9]{0,8}))?")
# Inputs per sign request. OpenBao refuses a JSON body with more than 1000 strings by default (listener
# max_request_json_strings) and each batch item costs two, so 500 inputs already fail; 250 also keeps a
# request of large credentials far below the 32 MiB body limit.
_BATCH_LIMIT = 250
# Connections kept per process; more concurrent signers than this still work, on short-lived connections.
_POOL_SIZE = 32

_Json = dict[str, object]


class _TransitApi(Protocol):
    """The calls of hvac's transit API used here. Each returns the decoded JSON answer (a dict)."""

    def create_key(self, name: str, **params: object) -> object: ...

    def read_key(self, name: str, mount_point: str) -> object: ...

    def list_keys(self, mount_point: str) -> object: ...

    def sign_data(self, name: str, **params: object) -> object: ...


class _TokenApi(Protocol):
    def lookup_self(self) -> object: ...


class VaultTransitCustody:
    """Keys held in a Vault or OpenBao transit mount, used through one token."""

    def __init__(self, settings: VaultSettings) -> None:
        self._settings = settings
        self._mount = settings.transit_mount
        self._per_process: tuple[int, _TransitApi, _TokenApi] | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "vault"

    def generate(self, algorithm: Algorithm) -> GeneratedKey:
        name = f"ec-issuer-{uuid.uuid4()}"
        with self._outage("create a transit key"):
            created = self._transit().create_key(
                name,
                key_type=_KEY_TYPES[algorithm],
                exportable=False,
                allow_plaintext_backup=False,
                mount_point=self._mount,
            )
        # Vault >= 1.12 and OpenBao describe the new key in their answer; older servers answer 204 (which
        # hvac hands back as the bare Response).
        key = self._read_key(name) if isinstance(created, requests.Response) else _data(created)
        version = _int(key.get("latest_version"), "latest_version")
        return GeneratedKey(key_ref=f"{name}@{version}", public_jwk=_public_jwk(key, version, algorithm))

    def import_key(self, algorithm: Algorithm, material: str) -> GeneratedKey:
        """Adopt an existing transit key named `<name>` (its latest version) or `<name>@<version>`."""
        match = _REFERENCE.fullmatch(material.strip())
        if match is None:
            raise _unusable("name a transit key as <name> or <name>@<version>")
        name = match["name"]
        try:
            key = self._read_key(name)
        except _NoSuchKey:
            raise _unusable(f"transit mount '{self._mount}' has no key named '{name}'") from None
        version = int(match["version"] or _int(key.get("latest_version"), "latest_version"))
        key_type, versions = key.get("type"), _object(key.get("keys"), "keys")
        if key_type != _KEY_TYPES[algorithm]:
            raise _unusable(f"the key's type is {key_type}; {algorithm.value} needs {_KEY_TYPES[algorithm]}")
        if key.get("derived") is True:
            raise _unusable("the key is derived (it needs a context per signature); use a key without derivation")
        if str(version) not in versions:
            held = ", ".join(sorted(versions, key=lambda v: (len(v), v)))  # numeric order for digit strings
            raise _unusable(f"the key has no version {version}; it has {held}")
        if version < _int(key.get("min_encryption_version", 0), "min_encryption_version"):
            raise _unusable(f"version {version} is below the key's min_encryption_version and cannot sign")
        return GeneratedKey(key_ref=f"{name}@{version}", public_jwk=_public_jwk(key, version, algorithm))

    def sign(self, key_ref: str, algorithm: Algorithm, data: bytes) -> bytes:
        name, version = _pinned(key_ref)
        with self._outage("sign", key_ref):
            answer = self._transit().sign_data(
                name,
                hash_input=base64.b64encode(data).decode("ascii"),
                key_version=version,
                mount_point=self._mount,
                **_SIGN_OPTIONS[algorithm],
            )
        return _signature(_data(answer), key_ref, version, algorithm)

    def sign_many(self, key_ref: str, algorithm: Algorithm, items: Sequence[bytes]) -> list[bytes]:
        name, version = _pinned(key_ref)
        signatures: list[bytes] = []
        for start in range(0, len(items), _BATCH_LIMIT):
            chunk = items[start : start + _BATCH_LIMIT]
            with self._outage("sign", key_ref):
                answer = self._transit().sign_data(
                    name,
                    batch_input=[{"input": base64.b64encode(data).decode("ascii")} for data in chunk],
                    key_version=version,
                    mount_point=self._mount,
                    **_SIGN_OPTIONS[algorithm],
                )
            results = _data(answer).get("batch_results")
            if not isinstance(results, list) or len(cast("list[object]", results)) != len(chunk):
                raise Unavailable(f"Vault answered a batch of {len(chunk)} signatures with {key_ref} incompletely")
            for result in cast("list[object]", results):
                signatures.append(_signature(_object(result, "batch result"), key_ref, version, algorithm))
        return signatures

    def check(self) -> None:
        with self._outage("look up its token"):
            self._tokens().lookup_self()
        try:
            with self._outage(f"list the keys of transit mount '{self._mount}'"):
                self._transit().list_keys(mount_point=self._mount)
        except _NoSuchKey:
            pass  # the mount is there and holds no key yet

    def _read_key(self, name: str) -> _Json:
        with self._outage("read the transit key", name):
            return _data(self._transit().read_key(name, mount_point=self._mount))

    @contextmanager
    def _outage(self, action: str, key: str | None = None) -> Generator[None]:
        """Every failure to talk to Vault becomes a 503 that says what failed, and never shows the token."""
        where = f"Vault at {self._settings.url}"
        on_key = f" {key}" if key else ""
        try:
            yield
        except InvalidPath as exc:
            # An empty error list is Vault's "nothing here"; a message means the mount itself is missing.
            if not exc.errors:
                raise _NoSuchKey(f"{where} has nothing at{on_key or ' the path'} (trying to {action})") from exc
            raise Unavailable(self._clean(f"{where} could not {action}{on_key}: {_errors(exc)}")) from exc
        except Forbidden as exc:
            reason = "permission denied: the token is invalid, expired, or its policy does not allow this"
            raise Unavailable(f"{where} refused to {action}{on_key}: {reason}") from exc
        except VaultDown as exc:
            raise Unavailable(self._clean(f"{where} cannot {action}{on_key}: {_errors(exc)}")) from exc
        except VaultNotInitialized as exc:
            raise Unavailable(f"{where} is not initialised") from exc
        except VaultError as exc:
            raise Unavailable(self._clean(f"{where} could not {action}{on_key}: {_errors(exc)}")) from exc
        except requests.Timeout as exc:
            seconds = self._settings.timeout_seconds
            raise Unavailable(f"{where} did not answer within {seconds:g} s (trying to {action}{on_key})") from exc
        except requests.ConnectionError as exc:
            raise Unavailable(f"{where} cannot be reached (trying to {action}{on_key})") from exc
        except requests.RequestException as exc:
            raise Unavailable(f"{where} failed to {action}{on_key}: {type(exc).__name__}") from exc

    def _clean(self, message: str) -> str:
        # Vault does not echo tokens in its errors; this keeps it so should a proxy or a future version do.
        return message.replace(self._settings.token, "[token]") if self._settings.token else message

    def _transit(self) -> _TransitApi:
        return self._apis()[0]

    def _tokens(self) -> _TokenApi:
        return self._apis()[1]

    def _apis(self) -> tuple[_TransitApi, _TokenApi]:
        # One client per process, made on first use: a forked server worker must not share the parent's
        # pooled sockets. Within the process every thread shares it; requests' Session is safe for that
        # here (urllib3's pool is thread-safe, and the only shared mutable state, the cookie jar, stays
        # empty because Vault sets no cookies).
        current = self._per_process
        pid = os.getpid()
        if current is None or current[0] != pid:
            with self._lock:
                current = self._per_process
                if current is None or current[0] != pid:
                    current = (pid, *_new_apis(self._settings))
                    self._per_process = current
        return current[1], current[2]


class _NoSuchKey(Unavailable):
    """Vault answered 404 with no message: the key (or the listing) does not exist. Callers that expect
    this catch it; anywhere else it is still a 503."""


def _new_apis(settings: VaultSettings) -> tuple[_TransitApi, _TokenApi]:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=_POOL_SIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    client = hvac.Client(
        url=settings.url,
        token=settings.token,
        namespace=settings.namespace,
        # hvac's signature, inferred from its default of 30, says int; requests takes any number of seconds.
        timeout=settings.timeout_seconds,  # pyright: ignore[reportArgumentType]
        session=session,
    )
    # hvac has no type information. The one unchecked step: its transit and token APIs have the methods
    # `_TransitApi` and `_TokenApi` name (hvac 2.x documentation), answering the decoded JSON body.
    secrets: Any = client.secrets
    auth: Any = client.auth
    return cast("_TransitApi", secrets.transit), cast("_TokenApi", auth.token)


def _pinned(key_ref: str) -> tuple[str, int]:
    match = _REFERENCE.fullmatch(key_ref)
    if match is None or match["version"] is None:
        raise Unavailable(f"'{key_ref}' is not a transit key reference of the form <name>@<version>")
    return match["name"], int(match["version"])


def _signature(result: _Json, key_ref: str, version: int, algorithm: Algorithm) -> bytes:
    error = result.get("error")
    if error:
        raise Unavailable(f"Vault could not sign with {key_ref}: {error}")
    text = result.get("signature")
    prefix = f"vault:v{version}:"
    if not isinstance(text, str) or not text.startswith(prefix):
        raise Unavailable(f"Vault answered a signature with {key_ref} that is not of version {version}")
    encoded = text.removeprefix(prefix)
    try:
        raw = b64url_decode(encoded) if algorithm is Algorithm.ES256 else base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != _SIGNATURE_BYTES:
        raise Unavailable(f"Vault answered a signature with {key_ref} that is not a {algorithm.value} signature")
    return raw


def _public_jwk(key: _Json, version: int, algorithm: Algorithm) -> dict[str, Any]:
    entry = _object(_object(key.get("keys"), "keys").get(str(version)), f"keys.{version}")
    public = entry.get("public_key")
    if not isinstance(public, str):
        raise Unavailable(f"Vault shows no public key for version {version}")
    try:
        if algorithm is Algorithm.ES256:
            return jwk_from_spki(public.encode("ascii"), algorithm)
        return jwk_from_ed25519_raw(base64.b64decode(public, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise Unavailable(f"Vault's public key of version {version} is not a {algorithm.value} key") from exc


def _data(answer: object) -> _Json:
    return _object(_object(answer, "answer").get("data"), "data")


def _object(value: object, what: str) -> _Json:
    if not isinstance(value, dict):
        raise Unavailable(f"Vault answered without the expected '{what}' object")
    return cast("_Json", value)  # a JSON object: its keys are strings


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Unavailable(f"Vault answered without the expected number '{what}'")
    return value


def _errors(exc: VaultError) -> str:
    errors = cast("list[object] | None", exc.errors)
    return "; ".join(str(error).strip() for error in errors) if errors else f"HTTP error {type(exc).__name__}"


def _unusable(reason: str) -> InvalidInput:
    return InvalidInput("the transit key cannot be used", [FieldError("/material", reason)])
