"""Seals made with a key held by a custody backend (HSM, Vault/OpenBao transit, cloud KMS, local keystore).

The backend holds the private key; the certificate a CA issued for its public key comes from a PEM file.
Custody backends hold ES256 keys, so these seals are ES256.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from ec_issuer.elm.seal_certificate import load_certificates_pem
from ec_issuer.elm.seal_errors import SealSetupError
from ec_issuer.keys.jwk import public_jwk
from ec_issuer.keys.model import Algorithm
from ec_issuer.keys.ports import KeyCustody


class CustodySealSigner:
    """A `SealSigner` over `KeyCustody.sign`. Pass the key's public JWK to have the certificate checked
    against it now, rather than at the first seal (which would also fail, see `create_seal_signature`)."""

    def __init__(
        self,
        custody: KeyCustody,
        key_ref: str,
        certificate_chain: Sequence[x509.Certificate],
        *,
        public_jwk_of_key: Mapping[str, object] | None = None,
    ) -> None:
        if not certificate_chain:
            raise SealSetupError("the seal certificate chain is empty")
        leaf_key = certificate_chain[0].public_key()
        if not isinstance(leaf_key, ec.EllipticCurvePublicKey) or leaf_key.curve.name != "secp256r1":
            raise SealSetupError("the seal certificate's key is not a P-256 key (custody seals are ES256)")
        if public_jwk_of_key is not None and _coordinates(public_jwk_of_key) != _coordinates(public_jwk(leaf_key)):
            raise SealSetupError("the seal certificate was issued for another key than the custody key")
        self._custody = custody
        self._key_ref = key_ref
        self._chain = list(certificate_chain)

    @classmethod
    def from_pem(
        cls,
        custody: KeyCustody,
        key_ref: str,
        chain_pem: bytes,
        *,
        public_jwk_of_key: Mapping[str, object] | None = None,
    ) -> CustodySealSigner:
        return cls(custody, key_ref, load_certificates_pem(chain_pem), public_jwk_of_key=public_jwk_of_key)

    @property
    def algorithm(self) -> str:
        return Algorithm.ES256.value

    @property
    def certificate_chain(self) -> Sequence[x509.Certificate]:
        return tuple(self._chain)

    def sign(self, data: bytes) -> bytes:
        return self._custody.sign(self._key_ref, Algorithm.ES256, data)


def _coordinates(jwk: Mapping[str, object]) -> tuple[object, ...]:
    return tuple(jwk.get(member) for member in ("kty", "crv", "x", "y"))
