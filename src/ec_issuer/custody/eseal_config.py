"""The deployment's eSeal (a PKCS#12 file, or a custody backend's key with its certificate chain), opened
on first use.

Opening a PKCS#12 file costs a key derivation, and a development seal is generated (an RSA key pair for
a test CA and one for the seal): deployments and tests that never issue a European Digital Credential
should not pay for either, so nothing happens until the first seal or the first verification.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from cryptography import x509

from ec_issuer.config import ConfigurationError, ElmSealSettings
from ec_issuer.custody.eseal import Pkcs12SealSigner, write_development_eseal
from ec_issuer.elm.custody_signer import CustodySealSigner
from ec_issuer.elm.seal import SealSigner, create_seal_signature
from ec_issuer.elm.seal_certificate import load_certificates_pem
from ec_issuer.elm.seal_errors import SealSetupError
from ec_issuer.keys.ports import KeyCustody


class ConfiguredSeal:
    def __init__(self, settings: ElmSealSettings, custodians: Mapping[str, KeyCustody]) -> None:
        self._settings = settings
        self._custodians = custodians
        self._lock = threading.Lock()
        self._signer: SealSigner | None = None
        self._anchors: list[x509.Certificate] | None = None

    def signer(self) -> SealSigner:
        with self._lock:
            if self._signer is None:
                self._signer, development_anchors = self._open()
                self._anchors = [*self._configured_anchors(), *development_anchors]
            return self._signer

    def check(self) -> None:
        """Open the seal and make one throw-away seal, so that a key that does not belong to its certificate
        (or a backend that refuses to sign) stops the start rather than the first credential."""
        try:
            create_seal_signature('{"probe":true}', self.signer(), signing_time=datetime.now(UTC))
        except SealSetupError as exc:
            raise ConfigurationError(f"the eSeal cannot seal: {exc.detail}") from None

    def trust_anchors(self) -> Sequence[x509.Certificate]:
        if self._anchors is None:
            self.signer()
        return self._anchors or []

    def _open(self) -> tuple[SealSigner, list[x509.Certificate]]:
        settings = self._settings
        if settings.key_backend is not None:
            return self._custody_signer(), []
        if settings.pkcs12_path is None:
            raise ConfigurationError("the eSeal has neither a PKCS#12 file nor a custody key")
        try:
            if settings.development:
                files = write_development_eseal(settings.pkcs12_path.parent)
                password = files.password_file.read_bytes().strip()
                anchors = load_certificates_pem(files.ca_certificate.read_bytes())
            else:
                password = settings.password.encode("utf-8") if settings.password else None
                anchors = []
            signer = Pkcs12SealSigner.from_pkcs12(settings.pkcs12_path.read_bytes(), password, settings.algorithm)
        except OSError as exc:
            raise ConfigurationError(f"the eSeal in {settings.pkcs12_path} cannot be read: {exc.strerror}") from None
        except SealSetupError as exc:
            raise ConfigurationError(f"the eSeal in {settings.pkcs12_path} cannot be used: {exc.detail}") from None
        return signer, anchors

    def _custody_signer(self) -> CustodySealSigner:
        settings = self._settings
        custody = self._custodians.get(settings.key_backend or "")
        if custody is None:
            raise ConfigurationError(
                f"ELM_SEAL_KEY_BACKEND={settings.key_backend!r} is not configured; "
                f"configured: {', '.join(sorted(self._custodians))}"
            )
        chain_path = settings.certificate_chain_path
        try:
            chain = chain_path.read_bytes() if chain_path else b""
            return CustodySealSigner.from_pem(custody, settings.key_ref or "", chain)
        except OSError as exc:
            raise ConfigurationError(
                f"ELM_SEAL_CERTIFICATE_CHAIN {chain_path} cannot be read: {exc.strerror}"
            ) from None
        except SealSetupError as exc:
            raise ConfigurationError(f"the custody seal cannot be used: {exc.detail}") from None

    def _configured_anchors(self) -> list[x509.Certificate]:
        path = self._settings.trust_anchors_path
        if path is None:
            return []
        try:
            return load_certificates_pem(path.read_bytes())
        except OSError as exc:
            raise ConfigurationError(f"ELM_TRUST_ANCHORS {path} cannot be read: {exc.strerror}") from None


class LazySealSigner:
    """The `SealSigner` port over a `ConfiguredSeal`: the file is opened when the first seal is made."""

    def __init__(self, seal: ConfiguredSeal) -> None:
        self._seal = seal

    @property
    def algorithm(self) -> str:
        return self._seal.signer().algorithm

    @property
    def certificate_chain(self) -> Sequence[x509.Certificate]:
        return self._seal.signer().certificate_chain

    def sign(self, data: bytes) -> bytes:
        return self._seal.signer().sign(data)
