"""VC-JOSE (`vc+jwt`) against the W3C VC-JOSE-COSE test vectors, and the JOSE and JWK building blocks.

The vectors are vendored in tests/fixtures/vc-jose-cose/ (see its PROVENANCE.md). Keys come only from the
vectors' `publicKeyJwk` members, registered under the JWK's own `kid` (the bare RFC 7638 thumbprint that
the tokens' headers carry) with no controller, so the issuer/controller match is not in play here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ec_issuer.core.encoding import b64url_decode, b64url_encode, dumps
from ec_issuer.credentials.schema import Ob3SchemaValidator
from ec_issuer.credentials.verifying import CredentialVerifier, Verification
from ec_issuer.custody.local import LocalKeyCustody
from ec_issuer.keys.jwk import public_jwk, public_key_from_jwk, thumbprint, without_private_members
from ec_issuer.keys.model import Algorithm, SigningKey
from ec_issuer.keys.resolution import StaticKeyResolver
from ec_issuer.signing.jose import (
    MAX_TOKEN_LENGTH,
    CompactJws,
    MalformedJws,
    parse_compact,
    sign_vc_jwt,
    verify_signature,
)
from tests.support import TEST_SECRET, SettableClock

VECTORS = Path(__file__).resolve().parent.parent / "fixtures" / "vc-jose-cose"
VERIFY_AT = datetime(2026, 1, 1, tzinfo=UTC)  # any instant after the vectors' validFrom (2010) will do

MINIMAL = "credential-jose-minimal.txt"  # ES256, P-256 key
ISSUER_MATCH = "credential-issuer-match-signed.txt"  # EdDSA, Ed25519 key, `iss` equal to `issuer`
VC_VP_CLAIMS = "credential-jose-vc-vp-claims.txt"  # EdDSA, validly signed, with `vc` and `vp` claims
BAD_SIGNATURE = "credential-jose-bad-signature.txt"
BAD_MEDIA_TYPE = "credential-jose-bad-media-type.txt"
ES512_VECTOR = "credential-jose-unknown-extensions.txt"

VALID_VECTORS = {MINIMAL: "ES256", ISSUER_MATCH: "EdDSA"}
# Every vector whose signature is genuine: the tampering tests break each of them.
VALIDLY_SIGNED = [MINIMAL, ISSUER_MATCH, VC_VP_CLAIMS]


def vector(name: str) -> str:
    return (VECTORS / name).read_text(encoding="ascii").strip()


def vector_jwks() -> dict[str, dict[str, Any]]:
    """Each vm-*.json's publicKeyJwk, by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))["publicKeyJwk"]
        for path in sorted(VECTORS.glob("vm-*.json"))
    }


def vector_resolver() -> StaticKeyResolver:
    resolver = StaticKeyResolver()
    for jwk in vector_jwks().values():
        resolver.add_jwk(jwk["kid"], jwk, controller=None)
    return resolver


def verifier_with(resolver: StaticKeyResolver) -> CredentialVerifier:
    return CredentialVerifier(resolver, Ob3SchemaValidator(), SettableClock(VERIFY_AT), statuses=None)


@pytest.fixture(scope="module")
def verifier() -> CredentialVerifier:
    return verifier_with(vector_resolver())


def results(verification: Verification) -> dict[str, bool | None]:
    return {check.name: check.passed for check in verification.checks}


def failed(verification: Verification) -> set[str]:
    return {check.name for check in verification.checks if check.passed is False}


def b64json(value: object) -> str:
    return b64url_encode(dumps(value))


def header_of(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".", maxsplit=1)[0]))


# --------------------------------------------------------------------------------------------- the vectors


def test_vendored_vectors_match_their_provenance() -> None:
    """The copies are the suite's bytes: PROVENANCE.md lists each file's SHA-256."""
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", (VECTORS / "PROVENANCE.md").read_text(), re.M)
    listed = dict(rows)
    on_disk = {path.name for path in VECTORS.iterdir() if path.name != "PROVENANCE.md"}
    assert set(listed) == on_disk
    for name, digest in listed.items():
        assert hashlib.sha256((VECTORS / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize(("name", "alg"), VALID_VECTORS.items())
def test_valid_vector_verifies(verifier: CredentialVerifier, name: str, alg: str) -> None:
    token = vector(name)
    assert header_of(token) == {"alg": alg, "typ": "vc+jwt", "cty": "vc", "kid": header_of(token)["kid"]}

    verification = verifier.verify(token)

    assert verification.verified is True, verification.errors
    assert results(verification) == {
        "format": True,
        "header": True,
        "key": True,
        "signature": True,
        "claims": True,
        "schema": True,  # not an Open Badge: the VC data model shape checks apply
        "validity": True,
        "status": None,  # no status lookup configured
    }
    assert verification.credential_id == "http://university.example/credentials/1872"
    assert verification.issuer == "https://example.issuer/vc-jose-cose"
    assert verification.errors == []


def test_vector_with_vc_and_vp_claims_is_rejected(verifier: CredentialVerifier) -> None:
    """Rejected although its signature is genuine.

    VC-JOSE-COSE 1.0 says twice that these claims are forbidden: "The JWT Claim Names vc and vp MUST NOT
    be present in any JWT Claims Set that comprises a verifiable credential or a verifiable presentation"
    (Securing Verifiable Credentials, "JWT Format and Requirements") and again in "JOSE Header Parameters
    and JWT Claims". They are the VC-JWT 1.1 wrapper claims; a VC 2.0 `vc+jwt` payload is the credential
    itself, so a token carrying them is not a conforming `vc+jwt`. The W3C suite agrees: its test 15
    ("JWT Credential with vc and/or vp Claims") expects this vector to fail verification.
    """
    token = vector(VC_VP_CLAIMS)
    payload = json.loads(b64url_decode(token.split(".")[1]))
    assert (payload["vc"], payload["vp"]) == ("oops", "nooo")

    verification = verifier.verify(token)

    assert verification.verified is False
    assert results(verification)["signature"] is True
    assert failed(verification) == {"claims"}
    assert any("vc, vp" in error for error in verification.errors), verification.errors


def test_bad_signature_vector_fails_on_the_signature(verifier: CredentialVerifier) -> None:
    token = vector(BAD_SIGNATURE)
    # Same protected header and payload as the genuine EdDSA vector; only the signature differs.
    assert token.rsplit(".", 1)[0] == vector(ISSUER_MATCH).rsplit(".", 1)[0]
    assert token.rsplit(".", 1)[1] != vector(ISSUER_MATCH).rsplit(".", 1)[1]

    verification = verifier.verify(token)

    assert verification.verified is False
    assert failed(verification) == {"signature"}
    assert results(verification)["header"] is True
    assert results(verification)["key"] is True


def test_bad_media_type_vector_fails_on_the_header(verifier: CredentialVerifier) -> None:
    token = vector(BAD_MEDIA_TYPE)
    assert header_of(token)["typ"] == "bad+typ"
    assert header_of(token)["cty"] == "bad+cty"

    verification = verifier.verify(token)

    assert verification.verified is False
    assert failed(verification) == {"header"}
    # The signature over the wrong header is genuine: the media type alone makes it fail.
    assert results(verification)["signature"] is True
    header_error = next(error for error in verification.errors if error.startswith("header:"))
    assert "typ" in header_error
    assert "cty" in header_error


def test_es512_vector_verifies_with_the_key_its_kid_names(verifier: CredentialVerifier) -> None:
    """The suite pairs this ES512 token with the Ed25519 key and expects failure; the key its kid names verifies it."""
    token = vector(ES512_VECTOR)
    assert header_of(token)["alg"] == "ES512"
    assert verifier.verify(token).verified is True

    ed25519_jwk = vector_jwks()["vm-ed25519.json"]
    as_the_suite_pairs_it = StaticKeyResolver()
    as_the_suite_pairs_it.add_jwk(header_of(token)["kid"], ed25519_jwk)
    verification = verifier_with(as_the_suite_pairs_it).verify(token)
    assert verification.verified is False
    assert failed(verification) == {"signature"}


def test_unknown_kid_is_not_verified() -> None:
    verification = verifier_with(StaticKeyResolver()).verify(vector(MINIMAL))
    assert verification.verified is False
    assert results(verification)["key"] is False
    assert results(verification)["signature"] is None


# --------------------------------------------------------------------------------------------- tampering


def flip_payload_character(token: str) -> str:
    """Replace one base64url character of the payload so that it still decodes to a (different) JSON object."""
    header, payload, signature = token.split(".")
    original = b64url_decode(payload)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index in range(len(payload) // 2, len(payload)):
        for replacement in alphabet:
            if replacement == payload[index]:
                continue
            candidate = payload[:index] + replacement + payload[index + 1 :]
            decoded = b64url_decode(candidate)
            try:
                parsed = json.loads(decoded)
            except ValueError:
                continue
            if decoded != original and isinstance(parsed, dict):
                return f"{header}.{candidate}.{signature}"
    raise AssertionError("no single-character flip keeps the payload a JSON object")


def swap_header_alg(token: str) -> str:
    header, payload, signature = token.split(".")
    decoded = json.loads(b64url_decode(header))
    decoded["alg"] = {"ES256": "EdDSA", "EdDSA": "ES256"}[decoded["alg"]]
    return f"{b64json(decoded)}.{payload}.{signature}"


def alg_none(token: str) -> str:
    _, payload, _ = token.split(".")
    return f"{b64json({'alg': 'none', 'typ': 'vc+jwt', 'cty': 'vc', 'kid': header_of(token)['kid']})}.{payload}."


def truncate_signature(token: str) -> str:
    # Four characters less keeps a decodable length (86 -> 82 characters, 64 -> 61 bytes).
    return token[:-4]


def signature_of_another_vector(token: str) -> str:
    donor = vector(ISSUER_MATCH) if token == vector(MINIMAL) else vector(MINIMAL)
    return token.rsplit(".", 1)[0] + "." + donor.rsplit(".", 1)[1]


TAMPERINGS: dict[str, tuple[Callable[[str], str], set[str]]] = {
    "flip a payload character": (flip_payload_character, {"signature"}),
    "swap the header alg": (swap_header_alg, {"signature"}),
    "alg none without signature": (alg_none, {"header", "signature"}),
    "truncate the signature": (truncate_signature, {"signature"}),
    "another token's signature": (signature_of_another_vector, {"signature"}),
}


@pytest.mark.parametrize("tampering", TAMPERINGS)
@pytest.mark.parametrize("name", VALIDLY_SIGNED)
def test_tampered_vector_fails(verifier: CredentialVerifier, name: str, tampering: str) -> None:
    tamper, must_fail = TAMPERINGS[tampering]
    original = vector(name)
    token = tamper(original)
    assert token != original

    verification = verifier.verify(token)

    assert verification.verified is False
    assert results(verification)["format"] is True, "the tampered token must still parse"
    assert must_fail <= failed(verification), verification.errors


# --------------------------------------------------------------------------------------------- JWK


# RFC 8037 appendix A.1-A.3: the Ed25519 key and its RFC 7638 thumbprint.
RFC8037_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
# RFC 8037 appendix A.4: {"alg":"EdDSA"} over "Example of Ed25519 signing" with that key.
RFC8037_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


def test_rfc8037_ed25519_thumbprint() -> None:
    assert thumbprint(RFC8037_JWK) == RFC8037_THUMBPRINT


def test_thumbprint_covers_only_the_required_members() -> None:
    decorated = {**RFC8037_JWK, "kid": "anything", "alg": "EdDSA", "use": "sig", "d": RFC8037_D}
    assert thumbprint(decorated) == RFC8037_THUMBPRINT


@pytest.mark.parametrize("vm", ["vm-p256.json", "vm-p384.json", "vm-p521.json", "vm-ed25519.json"])
def test_w3c_vector_kids_are_rfc7638_thumbprints(vm: str) -> None:
    jwk = vector_jwks()[vm]
    assert thumbprint(jwk) == jwk["kid"]


def test_thumbprint_refuses_unsupported_key_types() -> None:
    with pytest.raises(ValueError, match="unsupported key type"):
        thumbprint({"kty": "RSA", "n": "0vx7", "e": "AQAB"})


def test_rfc8037_signature_verifies() -> None:
    jws = parse_compact(RFC8037_JWS)
    assert jws.payload == b"Example of Ed25519 signing"
    assert verify_signature(jws, RFC8037_JWK) is True


@pytest.mark.parametrize(
    ("make", "crv"),
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()).public_key(), "P-256"),
        (lambda: ec.generate_private_key(ec.SECP384R1()).public_key(), "P-384"),
        (lambda: ec.generate_private_key(ec.SECP521R1()).public_key(), "P-521"),
        (lambda: ed25519.Ed25519PrivateKey.generate().public_key(), "Ed25519"),
    ],
)
def test_public_jwk_round_trip(
    make: Callable[[], ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey], crv: str
) -> None:
    key = make()
    jwk = public_jwk(key)
    assert jwk["crv"] == crv
    assert set(jwk) == ({"kty", "crv", "x"} if crv == "Ed25519" else {"kty", "crv", "x", "y"})
    assert public_jwk(public_key_from_jwk(jwk)) == jwk


def test_p521_coordinates_keep_their_leading_zero_bytes() -> None:
    jwk = vector_jwks()["vm-p521.json"]  # its y starts with a zero byte
    assert len(b64url_decode(jwk["y"])) == 66
    assert public_jwk(public_key_from_jwk(jwk)) == {k: jwk[k] for k in ("kty", "crv", "x", "y")}


P256 = vector_jwks()["vm-p256.json"]


@pytest.mark.parametrize(
    "jwk",
    [
        {**P256, "x": b64url_encode(b64url_decode(P256["x"])[1:])},  # a coordinate one byte short
        {**P256, "y": P256["x"]},  # not a point on the curve
        {**P256, "crv": "secp256k1"},
        {"kty": "OKP", "crv": "X25519", "x": RFC8037_JWK["x"]},  # a key-agreement key
        {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(b"\x01" * 31)},
        {"kty": "RSA", "n": "0vx7", "e": "AQAB"},
    ],
    ids=["short-coordinate", "off-curve", "secp256k1", "x25519", "short-ed25519", "rsa"],
)
def test_public_key_from_jwk_refuses_what_it_cannot_verify_with(jwk: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        public_key_from_jwk(jwk)


def test_without_private_members() -> None:
    private = {**RFC8037_JWK, "d": RFC8037_D, "kid": "k"}
    assert without_private_members(private) == {**RFC8037_JWK, "kid": "k"}


# --------------------------------------------------------------------------------------------- signing


@pytest.fixture
def custody(tmp_path: Path) -> LocalKeyCustody:
    return LocalKeyCustody(tmp_path / "keys", TEST_SECRET)


def new_key(custody: LocalKeyCustody, algorithm: Algorithm) -> SigningKey:
    generated = custody.generate(algorithm)
    return SigningKey(
        kid=f"did:web:issuer.test:issuers:acme#{thumbprint(generated.public_jwk)}",
        issuer_slug="acme",
        algorithm=algorithm,
        public_jwk=generated.public_jwk,
        custody=custody.name,
        key_ref=generated.key_ref,
    )


CREDENTIAL = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "urn:uuid:6a1c2d3e-0000-4000-8000-000000000001",
    "type": ["VerifiableCredential"],
    "issuer": "did:web:issuer.test:issuers:acme",
    "validFrom": "2026-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:learner", "name": "Ada Lovelace \u00e9\u00e8"},
}


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_sign_and_verify_round_trip(custody: LocalKeyCustody, algorithm: Algorithm) -> None:
    key = new_key(custody, algorithm)
    payload = dumps(CREDENTIAL)

    token = sign_vc_jwt(payload, key, custody)
    jws = parse_compact(token)

    assert jws.header == {"alg": algorithm.value, "typ": "vc+jwt", "cty": "vc", "kid": key.kid}
    assert jws.payload == payload  # the exact bytes, not a re-serialization
    assert len(jws.signature) == 64  # raw r||s for ES256, the raw signature for Ed25519
    assert verify_signature(jws, key.public_jwk) is True

    # An independent JOSE implementation agrees.
    decoded = jwt.api_jws.PyJWS().decode_complete(
        token, key=jwt.PyJWK({**key.public_jwk, "alg": algorithm.value}), algorithms=[algorithm.value]
    )
    assert decoded["payload"] == payload
    assert decoded["header"] == jws.header


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_a_reopened_keystore_signs_with_the_stored_key(tmp_path: Path, algorithm: Algorithm) -> None:
    key = new_key(LocalKeyCustody(tmp_path / "keys", TEST_SECRET), algorithm)
    reopened = LocalKeyCustody(tmp_path / "keys", TEST_SECRET)
    jws = parse_compact(sign_vc_jwt(dumps(CREDENTIAL), key, reopened))
    assert verify_signature(jws, key.public_jwk) is True


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_another_key_of_the_same_type_does_not_verify(custody: LocalKeyCustody, algorithm: Algorithm) -> None:
    key, other = new_key(custody, algorithm), new_key(custody, algorithm)
    jws = parse_compact(sign_vc_jwt(dumps(CREDENTIAL), key, custody))
    assert verify_signature(jws, other.public_jwk) is False


def test_a_key_of_the_other_type_does_not_verify(custody: LocalKeyCustody) -> None:
    es256, eddsa = new_key(custody, Algorithm.ES256), new_key(custody, Algorithm.EDDSA)
    es256_jws = parse_compact(sign_vc_jwt(dumps(CREDENTIAL), es256, custody))
    eddsa_jws = parse_compact(sign_vc_jwt(dumps(CREDENTIAL), eddsa, custody))
    assert verify_signature(es256_jws, eddsa.public_jwk) is False
    assert verify_signature(eddsa_jws, es256.public_jwk) is False


@pytest.mark.parametrize(
    ("algorithm", "claimed_alg"),
    [
        (Algorithm.ES256, "ES384"),  # EC, but the alg names another curve and hash
        (Algorithm.ES256, "ES512"),
        (Algorithm.ES256, "EdDSA"),
        (Algorithm.EDDSA, "ES256"),
        (Algorithm.ES256, "none"),
        (Algorithm.ES256, "HS256"),
    ],
)
def test_the_header_alg_must_fit_the_key(custody: LocalKeyCustody, algorithm: Algorithm, claimed_alg: str) -> None:
    """Even with a signature that is valid for the key, an alg that does not fit the key is refused."""
    key = new_key(custody, algorithm)
    genuine = parse_compact(sign_vc_jwt(dumps(CREDENTIAL), key, custody))
    assert verify_signature(genuine, key.public_jwk) is True
    mislabelled = replace(genuine, header={**genuine.header, "alg": claimed_alg})
    assert verify_signature(mislabelled, key.public_jwk) is False


def test_custody_refuses_to_sign_with_a_key_of_another_algorithm(custody: LocalKeyCustody) -> None:
    es256, eddsa = new_key(custody, Algorithm.ES256), new_key(custody, Algorithm.EDDSA)
    with pytest.raises(ValueError, match="does not match"):
        custody.sign(eddsa.key_ref, Algorithm.ES256, b"data")
    with pytest.raises(ValueError, match="does not match"):
        custody.sign(es256.key_ref, Algorithm.EDDSA, b"data")


def test_an_ecdsa_signature_must_be_raw_r_and_s(custody: LocalKeyCustody) -> None:
    key = new_key(custody, Algorithm.ES256)
    jws = parse_compact(sign_vc_jwt(dumps(CREDENTIAL), key, custody))
    der = encode_dss_signature(int.from_bytes(jws.signature[:32], "big"), int.from_bytes(jws.signature[32:], "big"))
    assert verify_signature(CompactJws(jws.header, jws.payload, jws.signing_input, der), key.public_jwk) is False


@pytest.mark.parametrize(
    "token",
    [
        "onlyone",
        "two.parts",
        "f.o.u.r",
        f"{b64url_encode(b'not json')}.{b64json({})}.",
        f"{b64json(['alg'])}.{b64json({})}.",
        f"{b64json({'alg': 'ES256'})}.e30+.",  # '+' is base64, not base64url
        f"{b64json({'alg': 'ES256'})}.{b64json({})}.A",  # a single trailing character decodes to nothing
        "a" * (MAX_TOKEN_LENGTH + 1),
    ],
    ids=[
        "one-part",
        "two-parts",
        "four-parts",
        "header-not-json",
        "header-not-object",
        "not-base64url",
        "bad-length",
        "too-long",
    ],
)
def test_parse_compact_refuses_malformed_tokens(token: str) -> None:
    with pytest.raises(MalformedJws):
        parse_compact(token)
