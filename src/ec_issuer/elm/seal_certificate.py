"""What a seal certificate tells about its holder, and loading certificates from PEM.

An EDC names its sealer the way the EDC issuer does: `issuer.eIDASIdentifier` carries the certificate's
organizationIdentifier (ETSI EN 319 412-1 §5.1.4, OID 2.5.4.97, e.g. `NTRNL-12345678`) as `notation` and its
country (C) as `spatial`; `legalName` and `altLabel` may come from O and CN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from ec_issuer.core.encoding import JsonObject, b64url_encode, format_datetime
from ec_issuer.elm.seal_errors import SealSetupError

_COUNTRY = re.compile(r"^[A-Z]{2}$")
# A PEM bundle of trust anchors or a chain is small; anything larger is a wrong file.
MAX_PEM_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class SealCertificateFacts:
    organization_identifier: str
    country: str
    organization: str | None
    common_name: str | None


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    subject: str
    issuer: str
    serial_number: str
    organization: str | None
    organization_identifier: str | None
    common_name: str | None
    country: str | None
    not_before: datetime
    not_after: datetime
    sha256: str

    def as_json(self) -> JsonObject:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serialNumber": self.serial_number,
            "organization": self.organization,
            "organizationIdentifier": self.organization_identifier,
            "commonName": self.common_name,
            "country": self.country,
            "notBefore": format_datetime(self.not_before),
            "notAfter": format_datetime(self.not_after),
            "sha256": self.sha256,
        }


def seal_certificate_facts(certificate: x509.Certificate) -> SealCertificateFacts:
    """The holder facts an EDC needs; refuses a certificate without organizationIdentifier or country."""
    subject = certificate.subject.rfc4514_string()
    organization_identifier = _single(certificate.subject, NameOID.ORGANIZATION_IDENTIFIER)
    if not organization_identifier:
        raise SealSetupError(
            f"the seal certificate ({subject}) has no organizationIdentifier (OID 2.5.4.97), "
            "which the credential's issuer eIDASIdentifier needs"
        )
    country = _single(certificate.subject, NameOID.COUNTRY_NAME)
    if country is None or not _COUNTRY.match(country):
        raise SealSetupError(
            f"the seal certificate ({subject}) has no two-letter country (C), "
            "which the credential's issuer eIDASIdentifier needs"
        )
    return SealCertificateFacts(
        organization_identifier=organization_identifier,
        country=country,
        organization=_single(certificate.subject, NameOID.ORGANIZATION_NAME),
        common_name=_single(certificate.subject, NameOID.COMMON_NAME),
    )


def summarize_certificate(certificate: x509.Certificate) -> CertificateSummary:
    name = certificate.subject
    return CertificateSummary(
        subject=name.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        serial_number=format(certificate.serial_number, "x"),
        organization=_first(name, NameOID.ORGANIZATION_NAME),
        organization_identifier=_first(name, NameOID.ORGANIZATION_IDENTIFIER),
        common_name=_first(name, NameOID.COMMON_NAME),
        country=_first(name, NameOID.COUNTRY_NAME),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        sha256=b64url_encode(certificate.fingerprint(hashes.SHA256())),
    )


def load_certificates_pem(data: bytes) -> list[x509.Certificate]:
    """All certificates of a PEM bundle, in file order (a chain: the signing certificate first)."""
    if len(data) > MAX_PEM_BYTES:
        raise SealSetupError(f"the PEM file is larger than {MAX_PEM_BYTES} bytes")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise SealSetupError(f"the PEM file holds no readable certificates ({exc})") from None
    return certificates


def _values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [attribute.value for attribute in name.get_attributes_for_oid(oid) if isinstance(attribute.value, str)]


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = _values(name, oid)
    return values[0] if values else None


def _single(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    # Two organizationIdentifiers (or countries) would make the credential's issuer ambiguous.
    values = _values(name, oid)
    if len(values) > 1:
        raise SealSetupError(f"the seal certificate names more than one {oid.dotted_string} in its subject")
    return values[0].strip() if values else None
