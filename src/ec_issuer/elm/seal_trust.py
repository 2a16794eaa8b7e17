"""Whether a seal's certificate chain leads to a configured trust anchor, and whether it is in date.

cryptography's `PolicyBuilder` validates only TLS server and client chains, so the path is built here from
the file's `x5c` certificates with `verify_directly_issued_by`, name chaining, the CA flags and path
length constraints of RFC 5280 §6. Not checked: revocation (CRL/OCSP), certificate policies, name
constraints and the qualified status a trusted list gives; a Europass verifier checks those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from ec_issuer.core.encoding import JsonObject, format_datetime

# The leaf, a few intermediates and a root; longer chains in a seal are an attack on our CPU, not a PKI.
MAX_CHAIN_LENGTH: Final = 6


class ChainStatus(StrEnum):
    TRUSTED = "trusted"  # a path to an anchor, every certificate on it valid now
    UNTRUSTED = "untrusted"  # in date, but no path to a configured anchor: not the same as an invalid seal
    EXPIRED = "expired"  # a certificate of the chain has expired (whether a path to an anchor exists or not)
    NOT_YET_VALID = "not_yet_valid"


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """`status` names the most final problem: an expired chain stays expired whatever anchors are added,
    so it wins over `untrusted`; `anchored` tells separately whether a path to an anchor was found."""

    status: ChainStatus
    anchored: bool
    valid_at_signing_time: bool | None  # None when the seal claims no signing time
    path: tuple[str, ...]  # subjects, seal certificate first, the anchor last when anchored
    detail: str

    def as_json(self) -> JsonObject:
        return {
            "status": self.status.value,
            "anchored": self.anchored,
            "validAtSigningTime": self.valid_at_signing_time,
            "path": list(self.path),
            "detail": self.detail,
        }


def assess_chain(
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    *,
    at: datetime,
    signed_at: datetime | None,
) -> ChainVerdict:
    """Judge `chain` (the seal certificate first) against `anchors` at the time `at`."""
    path, anchored, why_not = _build_path(chain, anchors)
    names = tuple(c.subject.rfc4514_string() for c in path)
    valid_then = None if signed_at is None else all(_in_date(c, signed_at) for c in path)
    for certificate in path:
        if at > certificate.not_valid_after_utc:
            detail = (
                f"{certificate.subject.rfc4514_string()} expired on {format_datetime(certificate.not_valid_after_utc)}"
            )
            return ChainVerdict(ChainStatus.EXPIRED, anchored, valid_then, names, detail)
        if at < certificate.not_valid_before_utc:
            detail = (
                f"{certificate.subject.rfc4514_string()} is valid only from "
                f"{format_datetime(certificate.not_valid_before_utc)}"
            )
            return ChainVerdict(ChainStatus.NOT_YET_VALID, anchored, valid_then, names, detail)
    if not anchored:
        return ChainVerdict(ChainStatus.UNTRUSTED, False, valid_then, names, why_not)
    return ChainVerdict(ChainStatus.TRUSTED, True, valid_then, names, f"issued under trust anchor {names[-1]}")


def _build_path(
    chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]
) -> tuple[list[x509.Certificate], bool, str]:
    """The path upwards from the seal certificate; whether it ends at an anchor; if not, why."""
    leaf = chain[0]
    path = [leaf]
    if leaf in anchors:  # a pinned seal certificate, e.g. a self-signed test seal
        return path, True, ""
    candidates = list(chain[1:])
    while len(path) <= MAX_CHAIN_LENGTH:
        current = path[-1]
        # Certificates already on the path sit between the leaf and the next issuer (RFC 5280 pathLen).
        below = len(path) - 1
        for anchor in anchors:
            if _issued(current, anchor, below):
                return [*path, anchor], True, ""
        issuer = next((c for c in candidates if _issued(current, c, below)), None)
        if issuer is None:
            return path, False, f"no path to a configured trust anchor (no issuer of {current.issuer.rfc4514_string()})"
        candidates.remove(issuer)
        path.append(issuer)
    return path, False, f"the certificate chain is longer than {MAX_CHAIN_LENGTH}"


def _issued(subject: x509.Certificate, issuer: x509.Certificate, intermediates_below: int) -> bool:
    if issuer == subject or not _may_issue(issuer, intermediates_below):
        return False
    try:
        subject.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _may_issue(issuer: x509.Certificate, intermediates_below: int) -> bool:
    try:
        extensions = issuer.extensions
        constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):  # ValueError: extensions cryptography cannot parse
        return False
    if not constraints.ca:
        return False
    if constraints.path_length is not None and intermediates_below > constraints.path_length:
        return False
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.key_cert_sign


def _in_date(certificate: x509.Certificate, moment: datetime) -> bool:
    return certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc
