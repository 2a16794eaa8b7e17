"""Public forms of an issuer's keys: JWK Sets and did:web DID documents."""

from __future__ import annotations

from typing import Any

from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import SigningKey

DID_CONTEXTS = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"]


def published_jwk(key: SigningKey) -> dict[str, Any]:
    return {**key.public_jwk, "kid": key.kid, "alg": key.algorithm.value, "use": "sig"}


def jwk_set(keys: list[SigningKey]) -> dict[str, Any]:
    return {"keys": [published_jwk(key) for key in keys if key.state.is_published]}


def did_document(issuer: Issuer, keys: list[SigningKey]) -> dict[str, Any]:
    """A did:web document whose verification methods are every key that may still verify."""
    published = [key for key in keys if key.state.is_published]
    return {
        "@context": DID_CONTEXTS,
        "id": issuer.did,
        "verificationMethod": [
            {
                "id": key.kid,
                "type": "JsonWebKey2020",
                "controller": issuer.did,
                "publicKeyJwk": published_jwk(key),
            }
            for key in published
        ],
        "assertionMethod": [key.kid for key in published],
    }
