"""Helpers of the ELM seal tests: an independent JOSE verifier (jwcrypto) and hand-made seals."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwcrypto import jwk, jws
from jwcrypto.common import JWSEHeaderParameter

from ec_issuer.core.encoding import b64url_decode, b64url_encode
from ec_issuer.elm.seal import SealSigner

# jwcrypto refuses critical parameters it does not know; JAdES adds these two.
JADES_HEADERS = {
    "sigT": JWSEHeaderParameter("Claimed signing time (JAdES)", True, True, None),
    "adoTst": JWSEHeaderParameter("Content time-stamp (JAdES)", True, True, None),
}


def jwcrypto_verify(text: str) -> None:
    """Raise unless jwcrypto verifies the (first) signature with the key of its x5c[0]."""
    token = jws.JWS(header_registry=JADES_HEADERS)
    token.deserialize(text)
    certificate = leaf_certificate(text)
    pem = certificate.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    token.verify(jwk.JWK.from_pem(pem))


def leaf_certificate(text: str) -> x509.Certificate:
    header = protected_of(text)
    return x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))


def protected_of(text: str, index: int = 0) -> dict[str, Any]:
    document = json.loads(text)
    return json.loads(b64url_decode(document["signatures"][index]["protected"]))


def sealed_with_header(payload: str, signer: SealSigner, header: dict[str, Any]) -> str:
    """A seal signed over a header of the test's choosing, so that only the header rule under test fails."""
    protected = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    signature = signer.sign(protected.encode("ascii") + b"." + payload.encode("utf-8"))
    return json.dumps(
        {"payload": payload, "signatures": [{"protected": protected, "signature": b64url_encode(signature)}]}
    )


def with_payload(text: str, payload: str) -> str:
    document = json.loads(text)
    document["payload"] = payload
    return json.dumps(document, ensure_ascii=False)


def flip_one_payload_character(text: str) -> str:
    """Change one character deep inside the payload (a letter of a JSON string value)."""
    payload: str = json.loads(text)["payload"]
    position = payload.index('"id":"') + len('"id":"') + 2
    replacement = "x" if payload[position] != "x" else "y"
    return with_payload(text, payload[:position] + replacement + payload[position + 1 :])
