"""Seal keys for European Digital Credentials: a PKCS#12 file signer, and throw-away test eSeals.

A qualified eSeal from a trust service provider usually comes as a PKCS#12 file (key, certificate and
CA chain). For development and tests, `generate_development_eseal` makes an equivalent file under a test
CA whose private key is discarded at once. Europass shows such a seal as not trusted (SEAL red), which is
what it is. Private keys and passwords are never logged and never part of a repr.

Test eSeals use RSA 3072 by default: the official EDC samples and most qualified eSeal certificates are
RSA (RS256), so a test seal goes through the same verifier path as a production one; 3072 bits because
BSI TR-02102 and SOG-IS ask for at least 3000 bits for RSA used beyond 2025. P-256 (ES256) is available
for tests that need speed or an EC seal.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ec_issuer.custody.formats import raw_ecdsa_signature
from ec_issuer.elm.seal_algorithms import key_mismatch, rsa_padding
from ec_issuer.elm.seal_errors import SealSetupError

SealPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
SealKeyType = Literal["rsa", "ec"]

# A PKCS#12 file of a key and a short chain has a few kilobytes.
MAX_PKCS12_BYTES = 1_000_000
_RSA_ALGORITHMS = ("RS256", "PS256")


class Pkcs12SealSigner:
    """A `SealSigner` (elm/seal.py) with the key in this process, read from a PKCS#12 file."""

    def __init__(
        self, private_key: SealPrivateKey, certificate_chain: Sequence[x509.Certificate], algorithm: str
    ) -> None:
        if not certificate_chain:
            raise SealSetupError("the seal has no certificate")
        reason = key_mismatch(algorithm, private_key.public_key())
        if reason is not None:
            raise SealSetupError(f"the seal key cannot sign {algorithm}: {reason}")
        if isinstance(private_key, rsa.RSAPrivateKey) and algorithm not in _RSA_ALGORITHMS:
            raise SealSetupError(f"an RSA seal key signs {' or '.join(_RSA_ALGORITHMS)}, not {algorithm}")
        if _spki(certificate_chain[0].public_key()) != _spki(private_key.public_key()):
            raise SealSetupError("the seal certificate was issued for another key than the one in the file")
        self._key = private_key
        self._chain = tuple(certificate_chain)
        self._algorithm = algorithm

    @classmethod
    def from_pkcs12(cls, data: bytes, password: bytes | None, algorithm: str | None = None) -> Pkcs12SealSigner:
        """RSA keys sign RS256 unless PS256 is asked for; P-256 keys sign ES256."""
        if len(data) > MAX_PKCS12_BYTES:
            raise SealSetupError(f"the PKCS#12 file is larger than {MAX_PKCS12_BYTES} bytes")
        try:
            bundle = pkcs12.load_pkcs12(data, password)
        except (ValueError, TypeError):
            raise SealSetupError("the PKCS#12 file cannot be opened: wrong password or not a PKCS#12 file") from None
        key = bundle.key
        if bundle.cert is None or key is None:
            raise SealSetupError("the PKCS#12 file must hold the seal key and its certificate")
        if isinstance(key, rsa.RSAPrivateKey):
            chosen = algorithm or "RS256"
        elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
            chosen = algorithm or "ES256"
        else:
            raise SealSetupError("unsupported seal key type: use an RSA (RS256, PS256) or a P-256 (ES256) key")
        leaf = bundle.cert.certificate
        chain = [leaf, *_issuers_in_order(leaf, [c.certificate for c in bundle.additional_certs])]
        return cls(key, chain, chosen)

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @property
    def certificate_chain(self) -> Sequence[x509.Certificate]:
        return self._chain

    def sign(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, rsa_padding(self._algorithm), hashes.SHA256())
        return raw_ecdsa_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))

    def __repr__(self) -> str:
        return f"Pkcs12SealSigner({self._algorithm}, {self._chain[0].subject.rfc4514_string()})"


def from_pkcs12(data: bytes, password: bytes | None, algorithm: str | None = None) -> Pkcs12SealSigner:
    return Pkcs12SealSigner.from_pkcs12(data, password, algorithm)


@dataclass(frozen=True, slots=True)
class SealSubject:
    """The subject of a seal certificate, as an EDC needs it (see elm/seal_certificate.py)."""

    organization: str
    organization_identifier: str  # ETSI EN 319 412-1: type, country, '-', number, e.g. NTRNL-12345678
    country: str
    common_name: str

    def name(self) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, self.country),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization),
                x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, self.organization_identifier),
                x509.NameAttribute(NameOID.COMMON_NAME, self.common_name),
            ]
        )


EXAMPLE_SUBJECT = SealSubject(
    organization="Example University (TEST)",
    organization_identifier="NTRNL-12345678",
    country="NL",
    common_name="Example University test eSeal",
)


# Test certificates start a day early: a verifier whose clock lags, or a test that fixed "now" before the
# certificate was made, must not see a seal from the future.
_BACKDATE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ThrowawaySealAuthority:
    """A test CA in memory. Whoever holds it can issue seal certificates, so it never leaves a test."""

    certificate: x509.Certificate
    private_key: SealPrivateKey = field(repr=False)

    def issue(
        self,
        public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
        subject: SealSubject = EXAMPLE_SUBJECT,
        *,
        not_before: datetime | None = None,
        days: int = 365,
    ) -> x509.Certificate:
        """A seal certificate: nonRepudiation and digitalSignature, as qualified eSeal certificates have."""
        start = not_before or datetime.now(UTC) - _BACKDATE
        authority_key = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject.name())
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signing=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(authority_key), critical=False
            )
        )
        return builder.sign(self.private_key, hashes.SHA256())


def create_throwaway_authority(
    key_type: SealKeyType = "rsa",
    *,
    subject: SealSubject = EXAMPLE_SUBJECT,
    rsa_key_size: int = 3072,
    years: int = 5,
) -> ThrowawaySealAuthority:
    key = _new_key(key_type, rsa_key_size)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, subject.country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject.organization),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{subject.organization} eSeal test CA (not trusted)"),
        ]
    )
    start = datetime.now(UTC) - _BACKDATE
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return ThrowawaySealAuthority(certificate=certificate, private_key=key)


@dataclass(frozen=True, slots=True)
class DevelopmentESeal:
    """A test eSeal as a password-protected PKCS#12, and the CA certificate to trust it with in tests."""

    pkcs12: bytes = field(repr=False)
    password: bytes = field(repr=False)
    certificate: x509.Certificate
    ca_certificate: x509.Certificate

    def signer(self, algorithm: str | None = None) -> Pkcs12SealSigner:
        return Pkcs12SealSigner.from_pkcs12(self.pkcs12, self.password, algorithm)


def generate_development_eseal(
    subject: SealSubject = EXAMPLE_SUBJECT,
    *,
    key_type: SealKeyType = "rsa",
    rsa_key_size: int = 3072,
    password: bytes | None = None,
    not_before: datetime | None = None,
    days: int = 365,
) -> DevelopmentESeal:
    """A fresh test eSeal in memory; the CA's private key is dropped when this returns."""
    authority = create_throwaway_authority(key_type, subject=subject, rsa_key_size=rsa_key_size)
    key = _new_key(key_type, rsa_key_size)
    certificate = authority.issue(key.public_key(), subject, not_before=not_before, days=days)
    secret = password or secrets.token_urlsafe(24).encode("ascii")
    bundle = pkcs12.serialize_key_and_certificates(
        name=b"eseal",
        key=key,
        cert=certificate,
        cas=[authority.certificate],
        encryption_algorithm=serialization.BestAvailableEncryption(secret),
    )
    return DevelopmentESeal(
        pkcs12=bundle, password=secret, certificate=certificate, ca_certificate=authority.certificate
    )


@dataclass(frozen=True, slots=True)
class DevelopmentESealFiles:
    pkcs12: Path
    password_file: Path
    ca_certificate: Path
    created: bool  # False: the files were there already and were left as they are


PKCS12_FILE = "test-eseal.p12"
PASSWORD_FILE = "test-eseal.password"  # noqa: S105 - a file name; the password is generated
CA_CERTIFICATE_FILE = "test-eseal-ca.pem"


def write_development_eseal(
    directory: Path, subject: SealSubject = EXAMPLE_SUBJECT, *, key_type: SealKeyType = "rsa"
) -> DevelopmentESealFiles:
    """Write a test eSeal once: the PKCS#12 and its password file (both 0600) and the CA certificate PEM.

    An existing set is kept, so sealed test files stay verifiable across restarts; a partial set is
    refused rather than overwritten, since it may be someone's real seal file.
    """
    files = DevelopmentESealFiles(
        pkcs12=directory / PKCS12_FILE,
        password_file=directory / PASSWORD_FILE,
        ca_certificate=directory / CA_CERTIFICATE_FILE,
        created=False,
    )
    present = [p for p in (files.pkcs12, files.password_file, files.ca_certificate) if p.exists()]
    if len(present) == 3:
        return files
    if present:
        raise SealSetupError(f"{directory} holds part of a test eSeal ({', '.join(p.name for p in present)})")
    eseal = generate_development_eseal(subject, key_type=key_type)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_new(files.ca_certificate, eseal.ca_certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    _write_new(files.password_file, eseal.password + b"\n", 0o600)
    _write_new(files.pkcs12, eseal.pkcs12, 0o600)
    return DevelopmentESealFiles(files.pkcs12, files.password_file, files.ca_certificate, created=True)


def _write_new(path: Path, content: bytes, mode: int) -> None:
    # O_EXCL: two processes starting at once must not both write (and mismatch) a seal.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _new_key(key_type: SealKeyType, rsa_key_size: int) -> SealPrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_size)


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )


def _spki(public_key: object) -> bytes:
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return b""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _issuers_in_order(leaf: x509.Certificate, others: list[x509.Certificate]) -> list[x509.Certificate]:
    """The PKCS#12's other certificates from the leaf's issuer upwards; unrelated ones after them."""
    ordered: list[x509.Certificate] = []
    remaining = list(others)
    current = leaf
    while True:
        issuer = next((c for c in remaining if c.subject == current.issuer and c != current), None)
        if issuer is None:
            return ordered + remaining
        ordered.append(issuer)
        remaining.remove(issuer)
        current = issuer
