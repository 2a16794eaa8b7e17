"""Key custody in a local directory: one file per key, private keys encrypted with AES-256-GCM.

The encryption key is derived with scrypt from a secret given by the environment and a random
salt kept in the keystore's `keystore.json`, so the key files alone are useless without it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ec_issuer.core.encoding import b64url_decode, b64url_encode, dumps, loads_object
from ec_issuer.core.errors import FieldError, InvalidInput, Unavailable
from ec_issuer.custody.formats import PrivateKey, jwk_of, sign_with
from ec_issuer.keys.jwk import public_jwk
from ec_issuer.keys.model import Algorithm, GeneratedKey

_FORMAT_VERSION = 1
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class LocalKeyCustody:
    """Keys generated and stored on this machine. Suitable for development and small deployments."""

    def __init__(self, directory: Path, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the keystore secret must be at least 16 characters long")
        self._directory = directory
        self._secret = secret
        self._aead: AESGCM | None = None
        self._loaded: dict[str, PrivateKey] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "local"

    def generate(self, algorithm: Algorithm) -> GeneratedKey:
        private: PrivateKey = (
            ec.generate_private_key(ec.SECP256R1())
            if algorithm is Algorithm.ES256
            else ed25519.Ed25519PrivateKey.generate()
        )
        return self._store(private, algorithm)

    def _store(self, private: PrivateKey, algorithm: Algorithm) -> GeneratedKey:
        key_ref = str(uuid.uuid4())
        der = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        nonce = os.urandom(12)
        sealed = self._cipher().encrypt(nonce, der, key_ref.encode())
        record = {
            "version": _FORMAT_VERSION,
            "algorithm": algorithm.value,
            "nonce": b64url_encode(nonce),
            "ciphertext": b64url_encode(sealed),
        }
        path = self._key_path(key_ref)
        # Written to a temporary name first so that a crash never leaves half a key behind.
        partial = path.with_suffix(".tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(dumps(record))
        partial.replace(path)
        with self._lock:
            self._loaded[key_ref] = private
        return GeneratedKey(key_ref=key_ref, public_jwk=public_jwk(private.public_key()))

    def sign(self, key_ref: str, algorithm: Algorithm, data: bytes) -> bytes:
        return sign_with(self._private_key(key_ref), algorithm, data)

    def sign_many(self, key_ref: str, algorithm: Algorithm, items: Sequence[bytes]) -> list[bytes]:
        private = self._private_key(key_ref)
        return [sign_with(private, algorithm, data) for data in items]

    def import_key(self, algorithm: Algorithm, material: str) -> GeneratedKey:
        """Keep an existing private key (PKCS#8/SEC1 PEM, or a private JWK) in this keystore."""
        private = _load_private_key(material)
        try:
            jwk_of(private.public_key(), algorithm)
        except ValueError as exc:
            raise InvalidInput("the key does not match the algorithm", [FieldError("/material", str(exc))]) from None
        return self._store(private, algorithm)

    def check(self) -> None:
        # A fresh deployment has no keystore directory yet; opening the cipher creates it, exactly as
        # the first key generation would, so readiness reflects what issuing will actually meet.
        try:
            self._cipher()
        except OSError as exc:
            raise Unavailable(f"local keystore directory {self._directory} cannot be created: {exc.strerror}") from exc
        if not os.access(self._directory, os.W_OK):
            raise Unavailable(f"local keystore directory {self._directory} is not writable")

    def _private_key(self, key_ref: str) -> PrivateKey:
        cached = self._loaded.get(key_ref)
        if cached is not None:
            return cached
        with self._lock:
            path = self._key_path(key_ref)
            try:
                record = loads_object(path.read_bytes())
            except FileNotFoundError as exc:
                raise Unavailable(f"key {key_ref} is missing from the local keystore") from exc
            try:
                der = self._cipher().decrypt(
                    b64url_decode(str(record["nonce"])),
                    b64url_decode(str(record["ciphertext"])),
                    key_ref.encode(),
                )
            except InvalidTag as exc:
                raise Unavailable("the keystore secret does not open this keystore's keys") from exc
            loaded = serialization.load_der_private_key(der, password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
                raise Unavailable(f"key {key_ref} has an unsupported type")
            self._loaded[key_ref] = loaded
            return loaded

    def _key_path(self, key_ref: str) -> Path:
        # key_ref comes from our own database, but never let it name a path outside the keystore.
        uuid.UUID(key_ref)
        return self._directory / f"{key_ref}.key.json"

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            salt = self._keystore_salt()
            derived = hashlib.scrypt(self._secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
            self._aead = AESGCM(derived)
        return self._aead

    def _keystore_salt(self) -> bytes:
        meta = self._directory / "keystore.json"
        if not meta.exists():
            # Write a complete file under a private name, then link it into place: link() fails if
            # another process won the race, and nobody ever reads a half-written file.
            partial = self._directory / f".keystore.{uuid.uuid4()}.tmp"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(dumps({"version": _FORMAT_VERSION, "salt": b64url_encode(os.urandom(16))}))
            try:
                os.link(partial, meta)
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        return b64url_decode(str(loads_object(meta.read_bytes())["salt"]))


def _load_private_key(material: str) -> PrivateKey:
    text = material.strip()
    try:
        if text.startswith("{"):
            loaded: object = _private_key_from_jwk(loads_object(text.encode()))
        else:
            loaded = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(
            "the key material cannot be read",
            [
                FieldError(
                    "/material", f"expected an unencrypted PEM private key or a private JWK ({type(exc).__name__})"
                )
            ],
        ) from None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise InvalidInput("unsupported key type", [FieldError("/material", "only P-256 and Ed25519 keys")])
    return loaded


def _private_key_from_jwk(jwk: dict[str, Any]) -> PrivateKey:
    d = b64url_decode(str(jwk["d"]))
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        return ed25519.Ed25519PrivateKey.from_private_bytes(d)
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        private = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
        if public_jwk(private.public_key()) != {k: jwk.get(k) for k in ("kty", "crv", "x", "y")}:
            raise ValueError("the JWK's x/y do not belong to its d")
        return private
    raise ValueError("unsupported JWK")
