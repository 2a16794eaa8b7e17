"""Sealing European Digital Credentials (ELM 3.2) with a JAdES signature (ETSI TS 119 182-1).

The file is the EDC issuer's format: a JWS in General JSON Serialization, enveloping, with an unencoded
payload (RFC 7797 `b64: false`) so the credential JSON stays readable in the file:
`{"payload": "<credential JSON>", "signatures": [{"protected": "…", "signature": "…"}]}`.

JAdES baseline levels, each adding to the one before:

- B-B: signature, signing certificate (`x5c`, `x5t#S256`) and claimed signing time (`sigT`) in the
  protected header. Valid only while the certificate is; nothing proves when it was made.
- B-T: a signature time-stamp from an RFC 3161 TSA (`sigTst`) in the unprotected header `etsiU`,
  proving the signature existed while the certificate was valid.
- B-LT: the validation material (certificates `xVals`, CRL/OCSP answers `rVals`) in `etsiU` as well.
- B-LTA: archive time-stamps (`arcTst`) over all of it, renewable, for verification after the
  certificate and the algorithms have expired. The EDC issuer produces this level.

We produce B-B. The time-stamp of B-T goes into `JadesSignature.unprotected_components` without touching
the signed part: request a token over the signature value from a TSA, then
`signature.with_unprotected_component("sigTst", {"tstTokens": [{"val": <base64 token>}]})`
(check ETSI TS 119 182-1 for the exact message-imprint input when building it).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from ec_issuer.core.encoding import b64url_encode, dumps, format_datetime, loads_object
from ec_issuer.elm.seal_algorithms import SEAL_ALGORITHMS, key_mismatch, verify_signature
from ec_issuer.elm.seal_errors import SealSetupError

# The EDC issuer (EU DSS) writes these two; Europass verifiers see the same values from us.
CONTENT_TYPE: Final = "octet-stream"
SIGNATURE_TYPE: Final = "jose+json"
# The critical parameters of a B-B seal; `adoTst` joins them at the levels with a content time-stamp.
CRITICAL_PARAMETERS: Final = ("b64", "sigT")
SIGNING_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


class SealLevel(StrEnum):
    """JAdES baseline levels (see the module docstring); `seal_payload` produces B_B."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"


class SealSigner(Protocol):
    """A seal key with its certificate chain; the key may live in a file, an HSM or a cloud KMS."""

    @property
    def algorithm(self) -> str:
        """One of RS256, PS256, ES256."""
        ...

    @property
    def certificate_chain(self) -> Sequence[x509.Certificate]:
        """The seal certificate first, then the certificates that issued it."""
        ...

    def sign(self, data: bytes) -> bytes:
        """The JOSE-form signature of `data` (raw r||s for ECDSA)."""
        ...


@dataclass(frozen=True, slots=True)
class JadesSignature:
    """One entry of `signatures`. Only `protected` and the payload are signed; the unprotected components
    (`etsiU`, each a base64url JSON object as DSS writes them) carry the later levels' evidence."""

    protected: str
    signature: str
    unprotected_components: tuple[str, ...] = ()

    def with_unprotected_component(self, name: str, value: object) -> JadesSignature:
        entry = b64url_encode(dumps({name: value}))
        return replace(self, unprotected_components=(*self.unprotected_components, entry))

    def as_json(self) -> dict[str, Any]:
        member: dict[str, Any] = {"protected": self.protected}
        if self.unprotected_components:
            member["header"] = {"etsiU": list(self.unprotected_components)}
        member["signature"] = self.signature
        return member


def seal_payload(payload: str, signer: SealSigner, *, signing_time: datetime) -> str:
    """The sealed file (JAdES-B-B) for the exact credential JSON `payload`, as text to store and ship."""
    return sealed_file_text(payload, [create_seal_signature(payload, signer, signing_time=signing_time)])


def create_seal_signature(payload: str, signer: SealSigner, *, signing_time: datetime) -> JadesSignature:
    """Sign `payload` as it is: the signed bytes are its UTF-8 encoding, exactly what the file carries."""
    format_signing_time(signing_time)
    payload_bytes = _payload_bytes(payload)
    chain = _checked_chain(signer, signing_time)
    header = protected_header(signer.algorithm, chain, signing_time)
    protected = b64url_encode(dumps(header))
    signing_input = protected.encode("ascii") + b"." + payload_bytes
    signature = signer.sign(signing_input)
    # A chain that belongs to another key would produce a file no one can verify; find out now.
    if not verify_signature(chain[0], signer.algorithm, signing_input, signature):
        raise SealSetupError("the seal signature does not verify with the seal certificate: key and certificate differ")
    return JadesSignature(protected=protected, signature=b64url_encode(signature))


def sealed_file_text(payload: str, signatures: Sequence[JadesSignature]) -> str:
    """The General JSON Serialization; a JSON parser gives back `payload` character for character."""
    return dumps({"payload": payload, "signatures": [s.as_json() for s in signatures]}).decode("utf-8")


def protected_header(algorithm: str, chain: Sequence[x509.Certificate], signing_time: datetime) -> dict[str, Any]:
    """The B-B protected header, in the member order of the EDC issuer's files."""
    leaf_der = chain[0].public_bytes(Encoding.DER)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(leaf_der)
    return {
        "alg": algorithm,
        "cty": CONTENT_TYPE,
        "x5t#S256": b64url_encode(digest.finalize()),
        "x5c": [base64.b64encode(c.public_bytes(Encoding.DER)).decode("ascii") for c in chain],
        "typ": SIGNATURE_TYPE,
        "b64": False,
        "sigT": format_signing_time(signing_time),
        "crit": list(CRITICAL_PARAMETERS),
    }


def format_signing_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("the signing time needs a timezone")
    return moment.astimezone(UTC).strftime(SIGNING_TIME_FORMAT)


def _payload_bytes(payload: str) -> bytes:
    try:
        encoded = payload.encode("utf-8")
        loads_object(encoded)
    except (UnicodeEncodeError, ValueError) as exc:
        raise ValueError(f"the payload to seal must be a JSON object in valid UTF-8 ({exc})") from None
    return encoded


def _checked_chain(signer: SealSigner, signing_time: datetime) -> list[x509.Certificate]:
    if signer.algorithm not in SEAL_ALGORITHMS:
        raise SealSetupError(f"seal algorithm {signer.algorithm!r} is not one of {sorted(SEAL_ALGORITHMS)}")
    chain = list(signer.certificate_chain)
    if not chain:
        raise SealSetupError("the seal signer has no certificate")
    leaf = chain[0]
    reason = key_mismatch(signer.algorithm, leaf.public_key())
    if reason is not None:
        raise SealSetupError(f"the seal certificate does not fit {signer.algorithm}: {reason}")
    # Europass would report such a seal as failed anyway; refusing here keeps it from being issued.
    moment = signing_time.astimezone(UTC)
    if moment < leaf.not_valid_before_utc:
        raise SealSetupError(f"the seal certificate is valid only from {format_datetime(leaf.not_valid_before_utc)}")
    if moment > leaf.not_valid_after_utc:
        raise SealSetupError(f"the seal certificate expired on {format_datetime(leaf.not_valid_after_utc)}")
    return chain
