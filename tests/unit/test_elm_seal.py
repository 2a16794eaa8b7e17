"""JAdES-B-B seals of European Digital Credentials: sealing, verifying, signers, and jwcrypto's opinion."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import random
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ec_issuer.core.encoding import b64url_decode, b64url_encode
from ec_issuer.core.errors import InvalidInput, MalformedInput
from ec_issuer.custody.eseal import (
    EXAMPLE_SUBJECT,
    DevelopmentESeal,
    Pkcs12SealSigner,
    SealSubject,
    ThrowawaySealAuthority,
    create_throwaway_authority,
    from_pkcs12,
    generate_development_eseal,
    write_development_eseal,
)
from ec_issuer.custody.formats import raw_ecdsa_signature
from ec_issuer.custody.local import LocalKeyCustody
from ec_issuer.elm.custody_signer import CustodySealSigner
from ec_issuer.elm.seal import (
    SealLevel,
    create_seal_signature,
    protected_header,
    seal_payload,
    sealed_file_text,
)
from ec_issuer.elm.seal_certificate import load_certificates_pem, seal_certificate_facts
from ec_issuer.elm.seal_errors import MalformedSealedFile, SealSetupError
from ec_issuer.elm.seal_trust import ChainStatus
from ec_issuer.elm.seal_verification import MAX_SEALED_FILE_BYTES, verify_sealed_file
from ec_issuer.keys.jwk import public_key_from_jwk
from ec_issuer.keys.model import Algorithm
from tests.support import TEST_SECRET
from tests.unit.elm_seal_support import (
    flip_one_payload_character,
    jwcrypto_verify,
    protected_of,
    sealed_with_header,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "elm"
NOW = datetime.now(UTC)
# The test eSeals start a day before NOW: a long suite may create them minutes after this module was imported.
SEALS_FROM = NOW - timedelta(days=1)


def credential_payload() -> str:
    """The minimal EDC with non-ASCII text, serialized once as the issuing code does."""
    credential = json.loads((FIXTURES / "minimal-edc.unsigned.json").read_text(encoding="utf-8"))
    credential["displayNote"] = 'Zoë Ångström — 学位 ✓ \u2028 "quoted" \\ back'
    return json.dumps(credential, ensure_ascii=False, separators=(",", ":"))


@pytest.fixture(scope="module")
def rsa_eseal() -> DevelopmentESeal:
    return generate_development_eseal(not_before=SEALS_FROM)


@pytest.fixture(scope="module")
def ec_eseal() -> DevelopmentESeal:
    return generate_development_eseal(key_type="ec", not_before=SEALS_FROM)


def eseal_for(algorithm: str, rsa_eseal: DevelopmentESeal, ec_eseal: DevelopmentESeal) -> DevelopmentESeal:
    return ec_eseal if algorithm == "ES256" else rsa_eseal


ALGORITHMS = ["RS256", "PS256", "ES256"]


# --- sealing and verifying round trips ------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_round_trip_is_valid_and_trusted_under_the_test_ca(
    algorithm: str, rsa_eseal: DevelopmentESeal, ec_eseal: DevelopmentESeal
) -> None:
    eseal = eseal_for(algorithm, rsa_eseal, ec_eseal)
    payload = credential_payload()
    sealed = seal_payload(payload, eseal.signer(algorithm), signing_time=NOW)

    result = verify_sealed_file(sealed, trust_anchors=[eseal.ca_certificate])

    assert result.valid and result.trusted
    assert result.payload == payload
    (check,) = result.signatures
    assert check.algorithm == algorithm
    assert check.claimed_level is SealLevel.B_B
    assert check.signed_at == NOW.replace(microsecond=0)
    assert check.certificate is not None
    assert check.certificate.organization_identifier == "NTRNL-12345678"
    assert check.certificate.organization == "Example University (TEST)"
    assert check.certificate.common_name == "Example University test eSeal"
    assert check.chain is not None and check.chain.status is ChainStatus.TRUSTED
    assert check.chain.valid_at_signing_time is True
    assert len(check.chain.path) == 2


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_without_the_anchor_the_seal_is_valid_but_untrusted(
    algorithm: str, rsa_eseal: DevelopmentESeal, ec_eseal: DevelopmentESeal
) -> None:
    eseal = eseal_for(algorithm, rsa_eseal, ec_eseal)
    sealed = seal_payload(credential_payload(), eseal.signer(algorithm), signing_time=NOW)
    other_ca = create_throwaway_authority("ec").certificate

    for anchors in ([], [other_ca]):
        result = verify_sealed_file(sealed, trust_anchors=anchors)
        assert result.valid and not result.trusted
        chain = result.signatures[0].chain
        assert chain is not None
        assert chain.status is ChainStatus.UNTRUSTED and not chain.anchored
        assert "no path to a configured trust anchor" in chain.detail


def test_sealed_file_embeds_the_exact_payload_and_a_b_b_header(rsa_eseal: DevelopmentESeal) -> None:
    payload = credential_payload()
    sealed = seal_payload(payload, rsa_eseal.signer(), signing_time=NOW)

    document = json.loads(sealed)
    assert document["payload"] == payload
    assert list(document) == ["payload", "signatures"]
    (entry,) = document["signatures"]
    assert set(entry) == {"protected", "signature"}
    header = protected_of(sealed)
    assert list(header) == ["alg", "cty", "x5t#S256", "x5c", "typ", "b64", "sigT", "crit"]
    assert header["alg"] == "RS256"
    assert header["cty"] == "octet-stream"
    assert header["typ"] == "jose+json"
    assert header["b64"] is False
    assert header["crit"] == ["b64", "sigT"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", header["sigT"])
    leaf_der = rsa_eseal.certificate.public_bytes(serialization.Encoding.DER)
    assert header["x5c"] == [
        base64.b64encode(leaf_der).decode(),
        base64.b64encode(rsa_eseal.ca_certificate.public_bytes(serialization.Encoding.DER)).decode(),
    ]
    assert header["x5t#S256"] == b64url_encode(hashlib.sha256(leaf_der).digest())
    # The signed bytes are the payload's UTF-8, i.e. exactly what the file carries.
    signing_input = entry["protected"].encode() + b"." + payload.encode("utf-8")
    public_key = rsa_eseal.certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(b64url_decode(entry["signature"]), signing_input, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_jwcrypto_verifies_our_seals_and_refuses_a_tampered_one(
    algorithm: str, rsa_eseal: DevelopmentESeal, ec_eseal: DevelopmentESeal
) -> None:
    from jwcrypto.jws import InvalidJWSSignature

    eseal = eseal_for(algorithm, rsa_eseal, ec_eseal)
    sealed = seal_payload(credential_payload(), eseal.signer(algorithm), signing_time=NOW)

    jwcrypto_verify(sealed)
    with pytest.raises(InvalidJWSSignature):
        jwcrypto_verify(flip_one_payload_character(sealed))


def test_the_flattened_serialization_verifies_too(ec_eseal: DevelopmentESeal) -> None:
    sealed = json.loads(seal_payload(credential_payload(), ec_eseal.signer(), signing_time=NOW))
    flattened = {"payload": sealed["payload"], **sealed["signatures"][0]}

    result = verify_sealed_file(json.dumps(flattened).encode(), trust_anchors=[ec_eseal.ca_certificate])

    assert result.valid and result.trusted


def test_a_signature_time_stamp_goes_into_etsiu_without_breaking_the_signature(ec_eseal: DevelopmentESeal) -> None:
    payload = credential_payload()
    signature = create_seal_signature(payload, ec_eseal.signer(), signing_time=NOW)
    stamped = signature.with_unprotected_component("sigTst", {"tstTokens": [{"val": "MIIB"}]})
    sealed = sealed_file_text(payload, [stamped])

    entry = json.loads(sealed)["signatures"][0]
    assert json.loads(b64url_decode(entry["header"]["etsiU"][0])) == {"sigTst": {"tstTokens": [{"val": "MIIB"}]}}
    result = verify_sealed_file(sealed, trust_anchors=[ec_eseal.ca_certificate])
    assert result.valid
    assert result.signatures[0].claimed_level is SealLevel.B_T


# --- tampering and header rules --------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_one_changed_payload_character_invalidates_the_seal(
    algorithm: str, rsa_eseal: DevelopmentESeal, ec_eseal: DevelopmentESeal
) -> None:
    eseal = eseal_for(algorithm, rsa_eseal, ec_eseal)
    sealed = seal_payload(credential_payload(), eseal.signer(algorithm), signing_time=NOW)

    result = verify_sealed_file(flip_one_payload_character(sealed), trust_anchors=[eseal.ca_certificate])

    assert not result.valid and not result.trusted
    check = result.signatures[0]
    assert check.reason is not None and "does not match the payload" in check.reason
    # The certificate is still reported, so a user sees who the seal claims to be from.
    assert check.certificate is not None and check.certificate.organization_identifier == "NTRNL-12345678"
    assert check.chain is not None and check.chain.status is ChainStatus.TRUSTED


def test_one_changed_payload_byte_invalidates_the_seal(ec_eseal: DevelopmentESeal) -> None:
    sealed = seal_payload(credential_payload(), ec_eseal.signer(), signing_time=NOW).encode()
    position = sealed.index(b"Zo")  # inside the payload string
    tampered = sealed[:position] + b"X" + sealed[position + 1 :]

    assert not verify_sealed_file(tampered).valid


def test_a_changed_protected_header_invalidates_the_seal(rsa_eseal: DevelopmentESeal) -> None:
    sealed = json.loads(seal_payload(credential_payload(), rsa_eseal.signer(), signing_time=NOW))
    header = json.loads(b64url_decode(sealed["signatures"][0]["protected"]))
    header["sigT"] = "2020-01-01T00:00:00Z"
    sealed["signatures"][0]["protected"] = b64url_encode(json.dumps(header).encode())

    result = verify_sealed_file(json.dumps(sealed))

    assert not result.valid
    assert result.signatures[0].reason is not None and "does not match" in result.signatures[0].reason


def base_header(eseal: DevelopmentESeal, algorithm: str = "ES256") -> dict[str, object]:
    return protected_header(algorithm, [eseal.certificate, eseal.ca_certificate], NOW)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"crit": ["b64", "sigT", "exp"], "exp": 1}, "critical parameter 'exp' is not understood"),
        ({"crit": ["b64", "sigT", "adoTst"]}, "critical parameter 'adoTst' is missing"),
        ({"crit": ["b64"]}, None),
        ({"crit": []}, "crit must be a non-empty array"),
        ({"crit": ["b64", "b64", "sigT"]}, "crit lists a parameter twice"),
        ({"crit": ["sigT"]}, "b64 must be listed in crit"),
        ({"x5t#S256": b64url_encode(b"\0" * 32)}, "x5t#S256 does not match"),
        ({"x5t": b64url_encode(b"\0" * 20)}, "x5t does not match"),
        ({"sigT": "2026-12-06 10:00:00"}, "sigT is not a UTC time"),
        ({"sigT": "2026-13-06T10:00:00Z"}, "sigT is not a valid date"),
        ({"alg": "HS256"}, "algorithm 'HS256' is not one of"),
        ({"alg": "none"}, "algorithm 'none' is not one of"),
        ({"alg": "ES384"}, "does not fit ES384"),
        ({"x5c": []}, "no x5c certificate chain"),
        ({"x5c": ["not base64!"]}, "x5c[0] is not standard base64"),
        ({"x5c": ["AAAA"]}, "x5c[0] is not a DER certificate"),
    ],
)
def test_header_rules_hold_even_when_the_signature_is_right(
    ec_eseal: DevelopmentESeal, change: dict[str, object], reason: str | None
) -> None:
    payload = credential_payload()
    sealed = sealed_with_header(payload, ec_eseal.signer(), {**base_header(ec_eseal), **change})

    check = verify_sealed_file(sealed, trust_anchors=[ec_eseal.ca_certificate]).signatures[0]

    if reason is None:
        assert check.valid  # sigT may be present without being critical
    else:
        assert not check.valid
        assert check.reason is not None and reason in check.reason


def test_critical_parameters_belong_in_the_protected_header(ec_eseal: DevelopmentESeal) -> None:
    payload = credential_payload()
    header = base_header(ec_eseal)
    del header["sigT"]
    header["crit"] = ["b64"]
    document = json.loads(sealed_with_header(payload, ec_eseal.signer(), header))
    document["signatures"][0]["header"] = {"sigT": "2026-12-06T10:00:00Z"}

    check = verify_sealed_file(json.dumps(document)).signatures[0]

    assert not check.valid and check.reason == "sigT must be in the protected header"


def test_a_base64url_payload_is_verified_and_decoded(ec_eseal: DevelopmentESeal) -> None:
    payload = credential_payload()
    encoded = b64url_encode(payload.encode())
    header = {k: v for k, v in base_header(ec_eseal).items() if k != "b64"}
    header["crit"] = ["sigT"]
    protected = b64url_encode(json.dumps(header).encode())
    signature = ec_eseal.signer().sign(f"{protected}.{encoded}".encode())
    sealed = json.dumps(
        {"payload": encoded, "signatures": [{"protected": protected, "signature": b64url_encode(signature)}]}
    )

    result = verify_sealed_file(sealed, trust_anchors=[ec_eseal.ca_certificate])

    assert result.valid and result.payload == payload


# --- malformed files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe{}",
        b"[]",
        b'{"signatures": []}',
        b'{"payload": {}, "signatures": [{"protected": "e30", "signature": "AA"}]}',
        b'{"payload": "{}"}',
        b'{"payload": "{}", "signatures": []}',
        b'{"payload": "{}", "signatures": {}}',
        b'{"payload": "{}", "signatures": ["x"]}',
        b'{"payload": "{}", "signatures": [{"protected": "e30"}]}',
        b'{"payload": "{}", "signatures": [{"protected": 1, "signature": "AA"}]}',
        b'{"payload": "{}", "signatures": [{"signature": "AA", "header": []}]}',
        b'{"payload": "{}", "signature": "AA", "signatures": [{"signature": "AA"}]}',
        b'{"payload": "not base64url!", "signatures": [{"protected": "e30", "signature": "AA"}]}',
    ],
)
def test_unreadable_files_raise_a_4xx_error(content: bytes) -> None:
    with pytest.raises(MalformedSealedFile) as caught:
        verify_sealed_file(content)
    assert isinstance(caught.value, MalformedInput)
    assert caught.value.detail


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(MalformedSealedFile, match="larger than"):
        verify_sealed_file(b" " * (MAX_SEALED_FILE_BYTES + 1))


def test_signatures_disagreeing_on_b64_are_refused(ec_eseal: DevelopmentESeal) -> None:
    document = json.loads(seal_payload(credential_payload(), ec_eseal.signer(), signing_time=NOW))
    other = {**base_header(ec_eseal), "b64": True}
    document["signatures"].append({"protected": b64url_encode(json.dumps(other).encode()), "signature": "AA"})

    with pytest.raises(MalformedSealedFile, match="disagree on b64"):
        verify_sealed_file(json.dumps(document))


def test_a_garbage_signature_entry_is_reported_invalid_not_raised(ec_eseal: DevelopmentESeal) -> None:
    document = json.loads(seal_payload(credential_payload(), ec_eseal.signer(), signing_time=NOW))
    document["signatures"].append({"protected": "!!", "signature": "AA"})
    document["signatures"].append({"signature": "AA"})

    result = verify_sealed_file(json.dumps(document), trust_anchors=[ec_eseal.ca_certificate])

    assert [s.valid for s in result.signatures] == [True, False, False]
    assert not result.valid
    assert result.signatures[1].reason == "the protected header is not base64url-encoded JSON object"
    assert result.signatures[2].reason == "the signature has no protected header"


# --- certificate validity --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authority() -> ThrowawaySealAuthority:
    return create_throwaway_authority("ec")


def short_lived_signer(authority: ThrowawaySealAuthority, start: datetime) -> Pkcs12SealSigner:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = authority.issue(key.public_key(), not_before=start, days=30)
    return Pkcs12SealSigner(key, [certificate, authority.certificate], "ES256")


def test_an_expired_certificate_is_reported_with_its_validity_at_signing_time(
    authority: ThrowawaySealAuthority,
) -> None:
    signer = short_lived_signer(authority, NOW - timedelta(days=5))
    sealed = seal_payload(credential_payload(), signer, signing_time=NOW)

    later = verify_sealed_file(sealed, trust_anchors=[authority.certificate], at=NOW + timedelta(days=40))

    assert later.valid and not later.trusted
    chain = later.signatures[0].chain
    assert chain is not None
    assert chain.status is ChainStatus.EXPIRED and chain.anchored
    assert chain.valid_at_signing_time is True
    assert "expired on" in chain.detail


def test_a_certificate_before_its_validity_is_not_yet_valid(authority: ThrowawaySealAuthority) -> None:
    signer = short_lived_signer(authority, NOW - timedelta(days=1))
    sealed = seal_payload(credential_payload(), signer, signing_time=NOW)

    early = verify_sealed_file(sealed, trust_anchors=[authority.certificate], at=NOW - timedelta(days=2))

    chain = early.signatures[0].chain
    assert chain is not None and chain.status is ChainStatus.NOT_YET_VALID


def test_sealing_outside_the_certificate_validity_is_refused(authority: ThrowawaySealAuthority) -> None:
    signer = short_lived_signer(authority, NOW - timedelta(days=60))
    with pytest.raises(SealSetupError, match="expired on"):
        seal_payload(credential_payload(), signer, signing_time=NOW)
    future = short_lived_signer(authority, NOW + timedelta(days=1))
    with pytest.raises(SealSetupError, match="valid only from"):
        seal_payload(credential_payload(), future, signing_time=NOW)


def test_a_pinned_seal_certificate_is_its_own_anchor(ec_eseal: DevelopmentESeal) -> None:
    sealed = seal_payload(credential_payload(), ec_eseal.signer(), signing_time=NOW)

    result = verify_sealed_file(sealed, trust_anchors=[ec_eseal.certificate])

    assert result.trusted


def test_a_leaf_cannot_act_as_a_ca(authority: ThrowawaySealAuthority) -> None:
    # A seal certificate (cA false) that "issued" another certificate gives no path to the anchor.
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = authority.issue(leaf_key.public_key())
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = (
        x509.CertificateBuilder()
        .subject_name(EXAMPLE_SUBJECT.name())
        .issuer_name(leaf.subject)
        .public_key(rogue_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(minutes=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(leaf_key, hashes.SHA256())
    )
    signer = Pkcs12SealSigner(rogue_key, [rogue, leaf, authority.certificate], "ES256")
    sealed = seal_payload(credential_payload(), signer, signing_time=NOW)

    result = verify_sealed_file(sealed, trust_anchors=[authority.certificate])

    assert result.valid and not result.trusted
    chain = result.signatures[0].chain
    assert chain is not None and chain.status is ChainStatus.UNTRUSTED


# --- certificate facts -----------------------------------------------------------------------------


def self_signed(attributes: list[x509.NameAttribute]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(attributes)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_seal_certificate_facts_for_the_eidas_identifier(rsa_eseal: DevelopmentESeal) -> None:
    facts = seal_certificate_facts(rsa_eseal.certificate)

    assert facts.organization_identifier == "NTRNL-12345678"
    assert facts.country == "NL"
    assert facts.organization == "Example University (TEST)"
    assert facts.common_name == "Example University test eSeal"


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (
            [x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"), x509.NameAttribute(NameOID.COMMON_NAME, "x")],
            "organizationIdentifier",
        ),
        ([x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, "NTRNL-1")], "country"),
        (
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
                x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, "NTRNL-1"),
                x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, "NTRNL-2"),
            ],
            "more than one 2.5.4.97",
        ),
    ],
)
def test_a_certificate_without_what_the_edc_needs_is_refused(
    attributes: list[x509.NameAttribute], message: str
) -> None:
    with pytest.raises(SealSetupError, match=message) as caught:
        seal_certificate_facts(self_signed(attributes))
    assert isinstance(caught.value, InvalidInput)


# --- sealing refusals ------------------------------------------------------------------------------


@dataclass
class FixedSigner:
    algorithm: str
    certificate_chain: list[x509.Certificate]
    key: ec.EllipticCurvePrivateKey

    def sign(self, data: bytes) -> bytes:
        return raw_ecdsa_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))


def test_a_certificate_of_another_key_is_refused_at_sealing(ec_eseal: DevelopmentESeal) -> None:
    signer = FixedSigner("ES256", [ec_eseal.certificate], ec.generate_private_key(ec.SECP256R1()))

    with pytest.raises(SealSetupError, match="key and certificate differ"):
        seal_payload(credential_payload(), signer, signing_time=NOW)


@pytest.mark.parametrize(
    ("algorithm", "message"),
    [("HS256", "not one of"), ("RS256", "does not fit RS256")],
)
def test_unsupported_or_mismatched_algorithms_are_refused(
    ec_eseal: DevelopmentESeal, algorithm: str, message: str
) -> None:
    signer = FixedSigner(algorithm, [ec_eseal.certificate], ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SealSetupError, match=message):
        seal_payload(credential_payload(), signer, signing_time=NOW)


def test_payload_and_time_must_be_well_formed(ec_eseal: DevelopmentESeal) -> None:
    with pytest.raises(ValueError, match="JSON object"):
        seal_payload("[1]", ec_eseal.signer(), signing_time=NOW)
    with pytest.raises(ValueError, match="JSON object"):
        seal_payload('{"a":"\ud800"}', ec_eseal.signer(), signing_time=NOW)
    with pytest.raises(ValueError, match="timezone"):
        seal_payload("{}", ec_eseal.signer(), signing_time=datetime(2026, 12, 6, 10, 0))


# --- the PKCS#12 signer ----------------------------------------------------------------------------


def test_pkcs12_defaults_and_choices(rsa_eseal: DevelopmentESeal, ec_eseal: DevelopmentESeal) -> None:
    assert from_pkcs12(rsa_eseal.pkcs12, rsa_eseal.password).algorithm == "RS256"
    assert from_pkcs12(rsa_eseal.pkcs12, rsa_eseal.password, "PS256").algorithm == "PS256"
    assert from_pkcs12(ec_eseal.pkcs12, ec_eseal.password).algorithm == "ES256"
    chain = from_pkcs12(rsa_eseal.pkcs12, rsa_eseal.password).certificate_chain
    assert list(chain) == [rsa_eseal.certificate, rsa_eseal.ca_certificate]


def test_pkcs12_secrets_stay_out_of_reprs(rsa_eseal: DevelopmentESeal) -> None:
    assert rsa_eseal.password.decode() not in repr(rsa_eseal)
    assert "PRIVATE" not in repr(rsa_eseal.signer()) and "RS256" in repr(rsa_eseal.signer())


@pytest.mark.parametrize("password", [b"wrong password", None])
def test_pkcs12_with_a_wrong_password_is_refused(rsa_eseal: DevelopmentESeal, password: bytes | None) -> None:
    with pytest.raises(SealSetupError, match="wrong password or not a PKCS#12 file") as caught:
        from_pkcs12(rsa_eseal.pkcs12, password)
    assert isinstance(caught.value, InvalidInput)


def test_a_file_that_is_no_pkcs12_is_refused() -> None:
    with pytest.raises(SealSetupError, match="cannot be opened"):
        from_pkcs12(b"-----BEGIN CERTIFICATE-----", b"x")


def pkcs12_of(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unsupported")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA384())
    )
    return pkcs12.serialize_key_and_certificates(
        b"k", key, certificate, None, serialization.BestAvailableEncryption(b"pw")
    )


@pytest.mark.parametrize(
    "key", [ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP384R1())], ids=["Ed25519", "P-384"]
)
def test_pkcs12_with_an_unsupported_key_type_is_refused(
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey,
) -> None:
    with pytest.raises(SealSetupError, match="unsupported seal key type"):
        from_pkcs12(pkcs12_of(key), b"pw")


@pytest.mark.parametrize(
    ("key_type", "algorithm"), [("rsa", "ES256"), ("ec", "PS256"), ("ec", "RS256"), ("rsa", "HS256")]
)
def test_pkcs12_with_an_algorithm_that_does_not_fit_the_key_is_refused(
    rsa_eseal: DevelopmentESeal, ec_eseal: DevelopmentESeal, key_type: str, algorithm: str
) -> None:
    eseal = rsa_eseal if key_type == "rsa" else ec_eseal
    with pytest.raises(SealSetupError, match="cannot sign"):
        from_pkcs12(eseal.pkcs12, eseal.password, algorithm)


def test_pkcs12_whose_certificate_belongs_to_another_key_is_refused(
    ec_eseal: DevelopmentESeal, authority: ThrowawaySealAuthority
) -> None:
    stranger = authority.issue(ec.generate_private_key(ec.SECP256R1()).public_key())
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SealSetupError, match="another key"):
        Pkcs12SealSigner(key, [stranger], "ES256")


def test_the_development_eseal_is_written_once(tmp_path: Path) -> None:
    directory = tmp_path / "eseal"
    first = write_development_eseal(directory, key_type="ec")
    again = write_development_eseal(directory, key_type="ec")

    assert first.created and not again.created
    assert again.pkcs12.read_bytes() == first.pkcs12.read_bytes()
    for secret in (first.pkcs12, first.password_file):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    password = first.password_file.read_bytes().strip()
    signer = from_pkcs12(first.pkcs12.read_bytes(), password)
    anchors = load_certificates_pem(first.ca_certificate.read_bytes())
    sealed = seal_payload(credential_payload(), signer, signing_time=NOW)
    assert verify_sealed_file(sealed, trust_anchors=anchors).trusted


def test_a_partial_development_eseal_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "test-eseal.p12").write_bytes(b"someone's real seal")
    with pytest.raises(SealSetupError, match="part of a test eSeal"):
        write_development_eseal(tmp_path)
    assert (tmp_path / "test-eseal.p12").read_bytes() == b"someone's real seal"


def test_the_development_eseal_subject_is_configurable() -> None:
    subject = SealSubject("Hogeschool Test", "NTRNL-87654321", "NL", "Hogeschool Test eSeal")
    eseal = generate_development_eseal(subject, key_type="ec")
    facts = seal_certificate_facts(eseal.certificate)
    assert (facts.organization_identifier, facts.organization) == ("NTRNL-87654321", "Hogeschool Test")
    usage = eseal.certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.content_commitment and usage.value.digital_signature
    assert not eseal.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


# --- the custody signer ----------------------------------------------------------------------------


def test_a_custody_key_seals_with_a_certificate_issued_for_it(
    tmp_path: Path, authority: ThrowawaySealAuthority
) -> None:
    custody = LocalKeyCustody(tmp_path / "keys", TEST_SECRET)
    generated = custody.generate(Algorithm.ES256)
    public_key = public_key_from_jwk(generated.public_jwk)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    certificate = authority.issue(public_key)
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (certificate, authority.certificate))
    signer = CustodySealSigner.from_pem(custody, generated.key_ref, chain_pem, public_jwk_of_key=generated.public_jwk)

    sealed = seal_payload(credential_payload(), signer, signing_time=NOW)

    result = verify_sealed_file(sealed, trust_anchors=[authority.certificate])
    assert result.valid and result.trusted
    assert result.signatures[0].algorithm == "ES256"
    jwcrypto_verify(sealed)


def test_a_custody_signer_refuses_a_certificate_of_another_key(
    tmp_path: Path, authority: ThrowawaySealAuthority, rsa_eseal: DevelopmentESeal
) -> None:
    custody = LocalKeyCustody(tmp_path / "keys", TEST_SECRET)
    generated = custody.generate(Algorithm.ES256)
    stranger = authority.issue(ec.generate_private_key(ec.SECP256R1()).public_key())

    with pytest.raises(SealSetupError, match="another key"):
        CustodySealSigner(custody, generated.key_ref, [stranger], public_jwk_of_key=generated.public_jwk)
    with pytest.raises(SealSetupError, match="not a P-256 key"):
        CustodySealSigner(custody, generated.key_ref, [rsa_eseal.certificate])
    with pytest.raises(SealSetupError, match="empty"):
        CustodySealSigner(custody, generated.key_ref, [])
    # Without the public JWK the mismatch shows at the first seal, before anything is issued.
    unchecked = CustodySealSigner(custody, generated.key_ref, [stranger])
    with pytest.raises(SealSetupError, match="key and certificate differ"):
        seal_payload(credential_payload(), unchecked, signing_time=NOW)


def test_unreadable_pem_is_refused() -> None:
    with pytest.raises(SealSetupError, match="no readable certificates"):
        load_certificates_pem(b"not a pem")


# A damaged serial number makes cryptography warn (an error in a later release, which is caught as well).
@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_random_damage_never_escapes_as_an_unexpected_exception(ec_eseal: DevelopmentESeal) -> None:
    generator = random.Random(9)  # noqa: S311 - reproducible damage, not secrets
    sealed = seal_payload(credential_payload(), ec_eseal.signer(), signing_time=NOW)
    document = json.loads(sealed)
    header = protected_of(sealed)
    leaf_der = bytearray(base64.b64decode(header["x5c"][0]))
    for _ in range(300):
        # Damage inside the certificate reaches the DER, name and key decoding of cryptography.
        damaged = bytearray(leaf_der)
        damaged[generator.randrange(len(damaged))] ^= 1 << generator.randrange(8)
        broken_header = {**header, "x5c": [base64.b64encode(damaged).decode()]}
        document["signatures"][0]["protected"] = b64url_encode(json.dumps(broken_header).encode())
        assert not verify_sealed_file(json.dumps(document)).valid
    raw = sealed.encode()
    for _ in range(300):
        position = generator.randrange(len(raw))
        damaged_file = raw[:position] + bytes([generator.randrange(256)]) + raw[position + 1 :]
        with contextlib.suppress(MalformedSealedFile):
            verify_sealed_file(damaged_file)
