"""The official sealed EDC samples (JAdES-B-LTA by EU DSS) and the reference B-B file, verified by our
verifier and by jwcrypto. The samples' test certificate (ANF AC) expired on 2025-05-10 and chains to no
anchor we configure; the B-B file's certificate is self-signed, valid 2026-11-22 to 2027-11-22."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jwcrypto.jws import InvalidJWSSignature

from ec_issuer.elm.seal import SealLevel
from ec_issuer.elm.seal_certificate import seal_certificate_facts
from ec_issuer.elm.seal_trust import ChainStatus
from ec_issuer.elm.seal_verification import verify_sealed_file
from tests.unit.elm_seal_support import flip_one_payload_character, jwcrypto_verify, leaf_certificate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "elm"
OFFICIAL = ["Sample-CertOfPart-signed.jsonld", "Sample-MC-Annex1-signed.jsonld"]
MINIMAL = "minimal-edc.sealed-with-selfsigned-TEST-cert.json"
SIGNING_TIMES = {
    "Sample-CertOfPart-signed.jsonld": datetime(2023, 9, 27, 12, 7, 1, tzinfo=UTC),
    "Sample-MC-Annex1-signed.jsonld": datetime(2023, 9, 27, 11, 54, 17, tzinfo=UTC),
    MINIMAL: datetime(2026, 11, 22, 21, 57, 5, tzinfo=UTC),
}


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_samples_have_a_valid_signature_from_an_expired_untrusted_certificate(name: str) -> None:
    result = verify_sealed_file((FIXTURES / name).read_bytes())

    assert result.valid and not result.trusted
    (check,) = result.signatures
    assert check.algorithm == "RS256"
    assert check.signed_at == SIGNING_TIMES[name]
    assert check.claimed_level is SealLevel.B_LTA
    assert check.certificate is not None
    assert check.certificate.organization_identifier == "VATES-A00000000"
    assert check.certificate.organization == "ORGANIZACION TEST"
    assert check.certificate.common_name == "TEST SEAL"
    assert check.certificate.not_after == datetime(2025, 5, 10, 14, 31, 15, tzinfo=UTC)
    assert "ANF AC Qualified Certificates for eSeal" in check.certificate.issuer
    chain = check.chain
    assert chain is not None
    assert chain.status is ChainStatus.EXPIRED  # judged today
    assert not chain.anchored  # no anchors configured: also untrusted
    assert chain.valid_at_signing_time is True
    assert result.payload.startswith('{"id":"urn:credential:')


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_samples_at_their_signing_time_are_untrusted_without_an_anchor(name: str) -> None:
    # While the certificate was valid, the only thing missing is the ANF AC chain: untrusted, not invalid.
    result = verify_sealed_file(read(name), at=SIGNING_TIMES[name])

    chain = result.signatures[0].chain
    assert result.valid
    assert chain is not None and chain.status is ChainStatus.UNTRUSTED


def test_the_reference_b_b_file_is_valid_untrusted_and_trusted_when_pinned() -> None:
    text = read(MINIMAL)
    during = datetime(2026, 12, 6, tzinfo=UTC)

    unanchored = verify_sealed_file(text, at=during)
    pinned = verify_sealed_file(text, trust_anchors=[leaf_certificate(text)], at=during)
    later = verify_sealed_file(text, trust_anchors=[leaf_certificate(text)], at=datetime(2028, 1, 1, tzinfo=UTC))

    assert unanchored.valid and not unanchored.trusted
    check = unanchored.signatures[0]
    assert check.claimed_level is SealLevel.B_B
    assert check.signed_at == SIGNING_TIMES[MINIMAL]
    assert check.chain is not None and check.chain.status is ChainStatus.UNTRUSTED
    assert pinned.trusted
    assert later.signatures[0].chain is not None
    assert later.signatures[0].chain.status is ChainStatus.EXPIRED
    facts = seal_certificate_facts(leaf_certificate(text))
    assert (facts.organization_identifier, facts.country) == ("NTRNL-12345678", "NL")


@pytest.mark.parametrize("name", [*OFFICIAL, MINIMAL])
def test_one_changed_payload_character_invalidates_a_sample(name: str) -> None:
    result = verify_sealed_file(flip_one_payload_character(read(name)))

    assert not result.valid
    assert result.signatures[0].reason is not None
    assert "does not match the payload" in result.signatures[0].reason


@pytest.mark.parametrize("name", [*OFFICIAL, MINIMAL])
def test_jwcrypto_verifies_the_samples_and_refuses_them_tampered(name: str) -> None:
    jwcrypto_verify(read(name))
    with pytest.raises(InvalidJWSSignature):
        jwcrypto_verify(flip_one_payload_character(read(name)))


@pytest.mark.parametrize("name", [*OFFICIAL, MINIMAL])
def test_the_payload_is_the_signed_credential_text(name: str) -> None:
    text = read(name)
    assert verify_sealed_file(text).payload == json.loads(text)["payload"]
    json.loads(verify_sealed_file(text).payload)  # the caller's SHACL check gets JSON
