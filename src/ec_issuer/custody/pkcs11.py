"""Key custody in an HSM through its PKCS#11 module (SoftHSM2 in development and in the tests).

Keys are generated on the token as sensitive, non-extractable token objects and the token makes every
signature: nothing here reads a private key's value. A key's `key_ref` is its label on the token.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Generator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

import pkcs11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11.constants import Attribute, MechanismFlag, ObjectClass
from pkcs11.exceptions import (
    MultipleTokensReturned,
    NoSuchToken,
    PinExpired,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinLocked,
    PKCS11Error,
    UserAlreadyLoggedIn,
)
from pkcs11.mechanisms import KeyType, Mechanism
from pkcs11.types import Object, PublicKey, Session, SignMixin, Token
from pkcs11.util.ec import encode_named_curve_parameters

from ec_issuer.config import Pkcs11Settings
from ec_issuer.core.errors import FieldError, InvalidInput, Unavailable
from ec_issuer.custody.formats import P256_COORDINATE_BYTES, jwk_of
from ec_issuer.keys.model import Algorithm, GeneratedKey

_LABEL_PREFIX = "ec-issuer-"
_PIN_REFUSED = (PinIncorrect, PinInvalid, PinLenRange, PinExpired, PinLocked)
_PRIVATE_TEMPLATE = {Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False}

_VerifyingKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class _Curve:
    key_type: KeyType
    params: bytes
    generation: Mechanism
    point_bytes: int


_CURVES = {
    Algorithm.ES256: _Curve(KeyType.EC, encode_named_curve_parameters("secp256r1"), Mechanism.EC_KEY_PAIR_GEN, 65),
    Algorithm.EDDSA: _Curve(
        KeyType.EC_EDWARDS, encode_named_curve_parameters("1.3.101.112"), Mechanism.EC_EDWARDS_KEY_PAIR_GEN, 32
    ),
}


class _Library(Protocol):
    """What we use of a loaded module (python-pkcs11 declares its class in a private module)."""

    def get_token(self, **kwargs: Any) -> Token: ...

    def initialize(self) -> None: ...

    def finalize(self) -> None: ...


@dataclass(eq=False)
class _Module:
    library: _Library
    pid: int
    # python-pkcs11 calls C_Initialize without locking callbacks, which promises the module that no two
    # threads call it at once: SoftHSM2 crashes or fails when they do. So every call into one module,
    # from any custody instance of this process, holds this lock.
    lock: threading.Lock = field(default_factory=threading.Lock)


_modules: dict[str, _Module] = {}
_modules_lock = threading.Lock()
# Held across fork() so that a child never inherits it locked by a thread that does not exist there.
os.register_at_fork(
    before=_modules_lock.acquire, after_in_parent=_modules_lock.release, after_in_child=_modules_lock.release
)


def _module(path: str) -> _Module:
    """The module loaded and initialised by this process. python-pkcs11 keeps one loaded module per path
    for the whole process and a forked child inherits it marked as initialised, but PKCS#11 requires
    each process to call C_Initialize itself."""
    pid = os.getpid()
    module = _modules.get(path)
    if module is not None and module.pid == pid:
        return module
    with _modules_lock:
        module = _modules.get(path)
        if module is None or module.pid != pid:
            library = pkcs11.lib(path)
            if module is not None:
                # A module that noticed the fork itself may refuse C_Finalize; the parent's state is gone then.
                with suppress(PKCS11Error):
                    library.finalize()
                library.initialize()
            module = _modules[path] = _Module(library, pid)
        return module


class Pkcs11Custody:
    """Keys on one PKCS#11 token, found by label. Nothing is loaded before the first use, so a service
    that configures a token but does not use it starts fast, and each worker process opens its own."""

    def __init__(self, settings: Pkcs11Settings) -> None:
        self._settings = settings
        self._module: _Module | None = None  # the module `_session` was opened in
        self._session: Session | None = None
        self._keys: dict[str, SignMixin] = {}
        self._refusal: str | None = None

    @property
    def name(self) -> str:
        return "pkcs11"

    def generate(self, algorithm: Algorithm) -> GeneratedKey:
        key_id = uuid.uuid4()
        label = f"{_LABEL_PREFIX}{key_id}"
        curve = _CURVES[algorithm]
        with self._session_for(f"generate a {algorithm.value} key") as session:
            public, private = session.generate_keypair(
                curve.key_type,
                store=True,
                label=label,
                id=key_id.bytes,
                mechanism=curve.generation,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template={Attribute.EC_PARAMS: curve.params},
                private_template=_PRIVATE_TEMPLATE,
            )
            if not isinstance(private, SignMixin):
                raise Unavailable(f"the PKCS#11 token made a {algorithm.value} key that cannot sign")
            try:
                jwk = jwk_of(_public_key(public, algorithm), algorithm)
            except ValueError as exc:
                raise Unavailable(f"the PKCS#11 token returned an unusable public key: {exc}") from exc
            self._keys[label] = private
        return GeneratedKey(key_ref=label, public_jwk=jwk)

    def import_key(self, algorithm: Algorithm, material: str) -> GeneratedKey:
        """Take a key pair already on the token; `material` is the label of its two objects."""
        label = material.strip()
        with self._session_for("look up a key") as session:
            privates = _find(session, ObjectClass.PRIVATE_KEY, label)
            publics = _find(session, ObjectClass.PUBLIC_KEY, label)
            if len(privates) != 1 or len(publics) != 1:
                raise _unusable(
                    f"expected one private and one public key labelled {label!r} on the token, "
                    f"found {len(privates)} and {len(publics)}"
                )
            private, public = privates[0], publics[0]
            if not isinstance(private, SignMixin) or private.key_type != _CURVES[algorithm].key_type:
                raise _unusable(f"the private key labelled {label!r} is not a {algorithm.value} signing key")
            if not isinstance(public, PublicKey):
                raise _unusable(f"the object labelled {label!r} is not a public key")
            try:
                verifier = _public_key(public, algorithm)
            except ValueError as exc:
                raise _unusable(str(exc)) from None
            # Labels need not be unique per pair: prove that these two objects are one key pair.
            probe = os.urandom(32)
            if not _verifies(verifier, _sign(private, algorithm, probe), probe):
                raise _unusable(f"the private and public keys labelled {label!r} are not one key pair")
            self._keys[label] = private
        return GeneratedKey(key_ref=label, public_jwk=jwk_of(verifier, algorithm))

    def sign(self, key_ref: str, algorithm: Algorithm, data: bytes) -> bytes:
        return self.sign_many(key_ref, algorithm, [data])[0]

    def sign_many(self, key_ref: str, algorithm: Algorithm, items: Sequence[bytes]) -> list[bytes]:
        # A session kept from an earlier call may have died with an HSM restart. Signing changes nothing
        # on the token, so one more try on a fresh session is safe; a token that is really down fails twice.
        reused_session = self._session is not None
        try:
            return self._sign_in_session(key_ref, algorithm, items)
        except Unavailable:
            if not reused_session:
                raise
        return self._sign_in_session(key_ref, algorithm, items)

    def _sign_in_session(self, key_ref: str, algorithm: Algorithm, items: Sequence[bytes]) -> list[bytes]:
        with self._session_for(f"sign with key {key_ref}") as session:
            private = self._private_key(session, key_ref)
            if private.key_type != _CURVES[algorithm].key_type:
                raise ValueError(f"key {key_ref} does not match algorithm {algorithm.value}")
            return [_sign(private, algorithm, data) for data in items]

    def check(self) -> None:
        with self._session_for("answer") as session:
            # A round trip, so that a session the HSM dropped since it was opened shows up here.
            _find(session, ObjectClass.PRIVATE_KEY, f"{_LABEL_PREFIX}readiness-probe")

    @contextmanager
    def _session_for(self, action: str) -> Generator[Session]:
        """The logged-in session, under the module's lock; PKCS#11 failures become `Unavailable`."""
        try:
            module = _module(self._settings.module)
        except (PKCS11Error, OSError) as exc:
            raise Unavailable(f"the PKCS#11 module {self._settings.module} cannot be loaded: {_describe(exc)}") from exc
        with module.lock:
            try:
                yield self._open(module)
            except (PKCS11Error, OSError) as exc:
                # Whatever broke (session closed, token removed, HSM restarted), the next call starts
                # over with a new session and login rather than reusing a handle that may be dead.
                self._forget(module)
                raise Unavailable(
                    f"the PKCS#11 token {self._settings.token_label!r} could not {action}: {_describe(exc)}"
                ) from exc

    def _open(self, module: _Module) -> Session:
        if self._session is not None and self._module is module:
            return self._session
        if self._refusal is not None:
            raise Unavailable(self._refusal)
        # Anything left from before belongs to the parent process (after a fork): dropped, never closed,
        # because closing it here would log the parent out.
        self._session, self._module = None, None
        self._keys.clear()
        label = self._settings.token_label
        try:
            token = module.library.get_token(token_label=label)
        except NoSuchToken as exc:
            raise Unavailable(f"no PKCS#11 token labelled {label!r} in {self._settings.module}") from exc
        except MultipleTokensReturned as exc:
            raise Unavailable(f"several PKCS#11 tokens are labelled {label!r}") from exc
        try:
            session = token.open(rw=True, user_pin=self._settings.pin)
        except UserAlreadyLoggedIn:
            # Login belongs to the process, not to a session: another session of ours is logged in.
            session = token.open(rw=True)
        except _PIN_REFUSED as exc:
            # Not retried: HSMs lock the user after a few failed logins, and the PIN only changes on restart.
            self._refusal = f"the PKCS#11 token {label!r} refused the PIN ({type(exc).__name__}); not retrying"
            raise Unavailable(self._refusal) from exc
        self._session, self._module = session, module
        return session

    def _forget(self, module: _Module) -> None:
        session, owner = self._session, self._module
        self._session, self._module = None, None
        self._keys.clear()
        if session is not None and owner is module:
            with suppress(PKCS11Error, OSError):
                session.close()

    def _private_key(self, session: Session, key_ref: str) -> SignMixin:
        cached = self._keys.get(key_ref)
        if cached is not None:
            return cached
        found = _find(session, ObjectClass.PRIVATE_KEY, key_ref)
        if not found:
            raise Unavailable(f"key {key_ref} is missing from the PKCS#11 token {self._settings.token_label!r}")
        if len(found) > 1:
            raise Unavailable(f"several private keys on the PKCS#11 token are labelled {key_ref}")
        private = found[0]
        if not isinstance(private, SignMixin):
            raise Unavailable(f"key {key_ref} on the PKCS#11 token is not allowed to sign")
        self._keys[key_ref] = private
        return private


def _find(session: Session, object_class: ObjectClass, label: str) -> list[Object]:
    # A list, not the generator: an unfinished search keeps the session's find operation open.
    return list(session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))


def _sign(private: SignMixin, algorithm: Algorithm, data: bytes) -> bytes:
    if algorithm is Algorithm.ES256:
        # SoftHSM2 and several HSMs lack CKM_ECDSA_SHA256: hash here and have the token sign the digest.
        # CKM_ECDSA answers r||s, JOSE's form already.
        return private.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA)
    return private.sign(data, mechanism=Mechanism.EDDSA)


def _public_key(public: PublicKey, algorithm: Algorithm) -> _VerifyingKey:
    curve = _CURVES[algorithm]
    if public.key_type != curve.key_type:
        raise ValueError(f"the key is not a {algorithm.value} key")
    point = _bare_point(bytes(public[Attribute.EC_POINT]), curve.point_bytes)
    if algorithm is Algorithm.ES256:
        # Key type and point size do not make P-256 (brainpoolP256r1 has the same): check the curve.
        if bytes(public[Attribute.EC_PARAMS]) != curve.params:
            raise ValueError("the key is not on curve P-256")
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    return ed25519.Ed25519PublicKey.from_public_bytes(point)


def _bare_point(value: bytes, size: int) -> bytes:
    # PKCS#11 says EC_POINT is a DER OCTET STRING, but some modules hand out the bare point.
    if len(value) == size + 2 and value[0] == 0x04 and value[1] == size:
        return value[2:]
    if len(value) == size:
        return value
    raise ValueError(f"the key's EC_POINT has an unexpected size ({len(value)} bytes)")


def _verifies(public: _VerifyingKey, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            r = int.from_bytes(signature[:P256_COORDINATE_BYTES], "big")
            s = int.from_bytes(signature[P256_COORDINATE_BYTES:], "big")
            public.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        else:
            public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _unusable(detail: str) -> InvalidInput:
    return InvalidInput("the key cannot be imported from the PKCS#11 token", [FieldError("/material", detail)])


def _describe(exc: BaseException) -> str:
    # python-pkcs11 raises most errors without a message: the class name is the information.
    return str(exc) or type(exc).__name__
