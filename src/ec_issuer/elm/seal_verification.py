"""Verifying sealed European Digital Credential files (JAdES in JWS JSON serialization).

Checked: the JWS signature over the protected header and payload (RFC 7515, RFC 7797 for `b64: false`),
the critical parameters, the binding of `x5t#S256` to the signing certificate, and the certificate chain
against configured trust anchors (see `seal_trust`). Not checked: the content of time-stamps (`adoTst`,
`sigTst`, `arcTst`) and the revocation data of B-LT/B-LTA files; the level they claim is reported as such.

A seal that fails is a normal answer; only a file that is no JWS JSON serialization raises
`MalformedSealedFile`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

from ec_issuer.core.encoding import JsonObject, b64url_decode, b64url_encode, format_datetime, loads, loads_object
from ec_issuer.elm.seal import SIGNING_TIME_FORMAT, SealLevel
from ec_issuer.elm.seal_algorithms import VERIFIABLE_ALGORITHMS, key_mismatch, verify_signature
from ec_issuer.elm.seal_certificate import CertificateSummary, summarize_certificate
from ec_issuer.elm.seal_errors import MalformedSealedFile
from ec_issuer.elm.seal_trust import ChainStatus, ChainVerdict, assess_chain

MAX_SEALED_FILE_BYTES: Final = 16 * 1024 * 1024
MAX_SIGNATURES: Final = 16
MAX_X5C_CERTIFICATES: Final = 10
# RFC 7797 `b64`, JAdES `sigT` (claimed signing time) and `adoTst` (content time-stamp, accepted unchecked).
UNDERSTOOD_CRITICAL_PARAMETERS: Final = frozenset({"b64", "sigT", "adoTst"})
_SIGNING_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_STANDARD_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
# etsiU component names that show which baseline level a file claims.
_LEVEL_COMPONENTS: Final = (
    (SealLevel.B_LTA, frozenset({"arcTst"})),
    (SealLevel.B_LT, frozenset({"xVals", "rVals", "axVals"})),
    (SealLevel.B_T, frozenset({"sigTst"})),
)


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """One signature's result. `reason` says why it is invalid; the certificate and chain are reported
    whenever the certificate could be read, also for an invalid signature."""

    valid: bool
    reason: str | None
    algorithm: str | None = None
    signed_at: datetime | None = None
    claimed_level: SealLevel | None = None
    certificate: CertificateSummary | None = None
    chain: ChainVerdict | None = None

    def as_json(self) -> JsonObject:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "algorithm": self.algorithm,
            "signedAt": None if self.signed_at is None else format_datetime(self.signed_at),
            "claimedLevel": None if self.claimed_level is None else self.claimed_level.value,
            "certificate": None if self.certificate is None else self.certificate.as_json(),
            "chain": None if self.chain is None else self.chain.as_json(),
        }


@dataclass(frozen=True, slots=True)
class SealVerification:
    payload: str  # the credential JSON as signed, for the SHACL check of the caller
    signatures: tuple[SignatureCheck, ...]

    @property
    def valid(self) -> bool:
        return all(s.valid for s in self.signatures)

    @property
    def trusted(self) -> bool:
        return self.valid and all(
            s.chain is not None and s.chain.status is ChainStatus.TRUSTED for s in self.signatures
        )

    def as_json(self) -> JsonObject:
        return {"valid": self.valid, "trusted": self.trusted, "signatures": [s.as_json() for s in self.signatures]}


def verify_sealed_file(
    data: bytes | str,
    *,
    trust_anchors: Sequence[x509.Certificate] = (),
    at: datetime | None = None,
) -> SealVerification:
    """Verify every signature of a sealed file; `at` (timezone-aware, default now) is the time the chain
    is judged at."""
    if at is not None and at.tzinfo is None:
        raise ValueError("the verification time needs a timezone")
    moment = datetime.now(UTC) if at is None else at.astimezone(UTC)
    payload, entries = _read_envelope(data)
    encoded_payload = _payload_is_encoded(entries)
    text = _payload_text(payload, encoded_payload)
    checks = tuple(_check(entry, payload, encoded_payload, trust_anchors, moment) for entry in entries)
    return SealVerification(payload=text, signatures=checks)


class _Invalid(Exception):
    """Ends the checks of one signature with the reason it is invalid."""


@dataclass(slots=True)
class _Findings:
    algorithm: str | None = None
    signed_at: datetime | None = None
    claimed_level: SealLevel | None = None
    certificate: CertificateSummary | None = None
    chain: ChainVerdict | None = None

    def result(self, reason: str | None) -> SignatureCheck:
        return SignatureCheck(
            valid=reason is None,
            reason=reason,
            algorithm=self.algorithm,
            signed_at=self.signed_at,
            claimed_level=self.claimed_level,
            certificate=self.certificate,
            chain=self.chain,
        )


def _read_envelope(data: bytes | str) -> tuple[str, list[JsonObject]]:
    # A character takes at least one byte, so an over-long text is refused before it is encoded.
    if len(data) > MAX_SEALED_FILE_BYTES:
        raise MalformedSealedFile(f"the sealed file is larger than {MAX_SEALED_FILE_BYTES} bytes")
    try:
        raw = data.encode("utf-8") if isinstance(data, str) else data
    except UnicodeEncodeError:
        raise MalformedSealedFile("the sealed file is not valid UTF-8 text") from None
    if len(raw) > MAX_SEALED_FILE_BYTES:
        raise MalformedSealedFile(f"the sealed file is larger than {MAX_SEALED_FILE_BYTES} bytes")
    try:
        document = loads_object(raw)
    except ValueError:
        raise MalformedSealedFile("the sealed file is not a JSON object") from None
    payload = document.get("payload")
    if not isinstance(payload, str):
        raise MalformedSealedFile("the sealed file has no payload string (a detached payload is not supported)")
    if "signatures" in document:
        if any(member in document for member in ("protected", "header", "signature")):
            raise MalformedSealedFile("the sealed file mixes the general and the flattened JSON serialization")
        entries: object = document["signatures"]
    elif "signature" in document:
        entries = [{k: v for k, v in document.items() if k in ("protected", "header", "signature")}]
    else:
        raise MalformedSealedFile("the sealed file has no signatures")
    if not isinstance(entries, list) or not entries:
        raise MalformedSealedFile("signatures must be a non-empty array")
    checked = cast(list[object], entries)
    if len(checked) > MAX_SIGNATURES:
        raise MalformedSealedFile(f"the sealed file has more than {MAX_SIGNATURES} signatures")
    return payload, [_entry(index, entry) for index, entry in enumerate(checked)]


def _entry(index: int, entry: object) -> JsonObject:
    if not isinstance(entry, dict):
        raise MalformedSealedFile(f"signature {index} is not a JSON object")
    member = cast(JsonObject, entry)
    if not isinstance(member.get("signature"), str):
        raise MalformedSealedFile(f"signature {index} has no signature string")
    if "protected" in member and not isinstance(member["protected"], str):
        raise MalformedSealedFile(f"signature {index}: protected must be a string")
    if "header" in member and not isinstance(member["header"], dict):
        raise MalformedSealedFile(f"signature {index}: header must be a JSON object")
    return member


def _payload_is_encoded(entries: list[JsonObject]) -> bool:
    """RFC 7797 §7: all signatures must agree on `b64`, as the payload has a single form."""
    modes: set[bool] = set()
    for entry in entries:
        try:
            value = _protected_header(entry).get("b64", True)
        except _Invalid:
            continue  # that signature is reported invalid; it has no say on the payload
        if isinstance(value, bool):
            modes.add(value)
    if len(modes) > 1:
        raise MalformedSealedFile("the signatures disagree on b64: the payload cannot be read one way")
    return modes != {False}


def _payload_text(payload: str, encoded: bool) -> str:
    if not encoded:
        return payload
    try:
        return b64url_decode(payload).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise MalformedSealedFile("the payload is neither base64url encoded nor marked b64:false") from None


def _check(
    entry: JsonObject,
    payload: str,
    encoded_payload: bool,
    anchors: Sequence[x509.Certificate],
    at: datetime,
) -> SignatureCheck:
    findings = _Findings()
    try:
        _verify(entry, payload, encoded_payload, anchors, at, findings)
    except _Invalid as exc:
        return findings.result(str(exc))
    except (ValueError, UnsupportedAlgorithm) as exc:
        # cryptography decodes certificate names and keys lazily; a certificate that parsed as DER can
        # still fail there, and that makes this signature uncheckable, not the verifier broken.
        return findings.result(f"the signing certificate cannot be processed ({exc})")
    return findings.result(None)


def _verify(
    entry: JsonObject,
    payload: str,
    encoded_payload: bool,
    anchors: Sequence[x509.Certificate],
    at: datetime,
    findings: _Findings,
) -> None:
    protected = _protected_header(entry)
    unprotected = cast(JsonObject, entry.get("header", {}))
    findings.claimed_level = _claimed_level(unprotected)
    _check_parameters(protected, unprotected)
    findings.signed_at = _signing_time(protected)
    algorithm = protected.get("alg")
    if not isinstance(algorithm, str) or algorithm not in VERIFIABLE_ALGORITHMS:
        raise _Invalid(f"algorithm {algorithm!r} is not one of {sorted(VERIFIABLE_ALGORITHMS)}")
    findings.algorithm = algorithm
    chain = _certificates(protected)
    findings.certificate = summarize_certificate(chain[0])
    findings.chain = assess_chain(chain, anchors, at=at, signed_at=findings.signed_at)
    _check_thumbprints(protected, chain[0])
    mismatch = key_mismatch(algorithm, chain[0].public_key())
    if mismatch is not None:
        raise _Invalid(f"the signing certificate does not fit {algorithm}: {mismatch}")
    try:
        signature = b64url_decode(str(entry["signature"]))
    except ValueError:
        raise _Invalid("the signature is not base64url") from None
    # An encoded payload was checked to be base64url (ASCII) before any signature was looked at.
    payload_bytes = payload.encode("ascii" if encoded_payload else "utf-8")
    signing_input = str(entry["protected"]).encode("ascii") + b"." + payload_bytes
    if not verify_signature(chain[0], algorithm, signing_input, signature):
        raise _Invalid("the signature does not match the payload and protected header (changed after sealing?)")


def _protected_header(entry: JsonObject) -> JsonObject:
    if "protected" not in entry:
        raise _Invalid("the signature has no protected header")
    try:
        return loads_object(b64url_decode(str(entry["protected"])))
    except ValueError:
        raise _Invalid("the protected header is not base64url-encoded JSON object") from None


def _check_parameters(protected: JsonObject, unprotected: JsonObject) -> None:
    shared = protected.keys() & unprotected.keys()
    if shared:
        raise _Invalid(f"header parameters both protected and unprotected: {sorted(shared)}")
    for name in ("crit", "b64", "sigT"):
        if name in unprotected:
            raise _Invalid(f"{name} must be in the protected header")
    critical = protected.get("crit", [])
    if "crit" in protected and (not isinstance(critical, list) or not critical):
        raise _Invalid("crit must be a non-empty array")
    names = cast(list[object], critical)
    if len(set(map(repr, names))) != len(names):
        raise _Invalid("crit lists a parameter twice")
    for name in names:
        if not isinstance(name, str) or name not in UNDERSTOOD_CRITICAL_PARAMETERS:
            raise _Invalid(f"critical parameter {name!r} is not understood")
        if name not in protected:
            raise _Invalid(f"critical parameter {name!r} is missing from the protected header")
    if "b64" in protected:
        if not isinstance(protected["b64"], bool):
            raise _Invalid("b64 must be true or false")
        if "b64" not in names:
            raise _Invalid("b64 must be listed in crit (RFC 7797 §6)")


def _signing_time(protected: JsonObject) -> datetime | None:
    value = protected.get("sigT")
    if value is None:
        return None
    if not isinstance(value, str) or not _SIGNING_TIME.match(value):
        raise _Invalid("sigT is not a UTC time of the form YYYY-MM-DDThh:mm:ssZ")
    try:
        return datetime.strptime(value, SIGNING_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise _Invalid("sigT is not a valid date and time") from None


def _certificates(protected: JsonObject) -> list[x509.Certificate]:
    values = protected.get("x5c")
    if not isinstance(values, list) or not values:
        raise _Invalid("the protected header has no x5c certificate chain")
    entries = cast(list[object], values)
    if len(entries) > MAX_X5C_CERTIFICATES:
        raise _Invalid(f"x5c holds more than {MAX_X5C_CERTIFICATES} certificates")
    chain: list[x509.Certificate] = []
    for index, value in enumerate(entries):
        if not isinstance(value, str) or not _STANDARD_BASE64.match(value):
            raise _Invalid(f"x5c[{index}] is not standard base64")
        try:
            chain.append(x509.load_der_x509_certificate(base64.b64decode(value, validate=True)))
        except (binascii.Error, ValueError):
            raise _Invalid(f"x5c[{index}] is not a DER certificate") from None
    return chain


def _check_thumbprints(protected: JsonObject, leaf: x509.Certificate) -> None:
    for name, algorithm in (("x5t#S256", hashes.SHA256()), ("x5t", hashes.SHA1())):  # noqa: S303 - a lookup key, not a security hash
        if name in protected and protected[name] != b64url_encode(leaf.fingerprint(algorithm)):
            raise _Invalid(f"{name} does not match the certificate x5c[0]")


def _claimed_level(unprotected: JsonObject) -> SealLevel:
    names: set[str] = set()
    components = unprotected.get("etsiU")
    for component in cast(list[object], components) if isinstance(components, list) else []:
        decoded: object = component
        if isinstance(component, str):
            try:
                decoded = loads(b64url_decode(component))
            except ValueError:
                continue  # unsigned evidence we do not check; a broken entry only lowers the claimed level
        if isinstance(decoded, dict):
            names.update(str(key) for key in cast(dict[object, object], decoded))
    for level, markers in _LEVEL_COMPONENTS:
        if names & markers:
            return level
    return SealLevel.B_B
