"""The domain side of public verification: reading content hashes, the verdict in one word, the facts a page may
show, the content check, and the drawing of QR codes, badges and certificates."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from ec_issuer.credentials.verifying import Check, Verification
from ec_issuer.public_verification.artefacts import BADGE_SIZE, badge_png, certificate_pdf, qr_png
from ec_issuer.public_verification.content_hash import ContentHash, UnreadableHash, digest_of, expected_hash
from ec_issuer.public_verification.facts import MAX_VALIDATORS, public_facts
from ec_issuer.public_verification.service import Verdict, content_check, page_key, verdict_of, with_content_check
from ec_issuer.signing.data_integrity.multibase import encode_base58btc

DATA = b"the original file"
DIGEST = hashlib.sha256(DATA).digest()
MULTIHASH = b"\x12\x20" + DIGEST
URL = "https://issuer.test/credentials/6d8f2d4c-7c0e-4a52-9bb9-7d8a0f3f6f10/"


def credential(resource: dict[str, Any] | None = None, **validation: Any) -> dict[str, Any]:
    run = {
        "workflowId": "wf-1",
        "workflowSlug": "energy-model-check",
        "workflowVersion": "2.1.0",
        "runId": "run-1",
        "status": "PASSED",
        "completedAt": "2026-11-20T09:30:00Z",
        "validators": [{"code": "EPW_SCHEMA", "version": "1.4", "validationType": "schema"}],
        **validation,
    }
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/ec-issuer/validation/v1"],
        "id": "urn:uuid:6d8f2d4c-7c0e-4a52-9bb9-7d8a0f3f6f10",
        "type": ["VerifiableCredential", "ValidationCredential"],
        "issuer": {"id": "did:web:issuer.test", "name": "ACME Validation"},
        "validFrom": "2026-11-20T10:00:00Z",
        "credentialSubject": {
            "id": "urn:ec-issuer:submission:s-1",
            "type": "ValidatedSubmission",
            "resource": resource
            if resource is not None
            else {"hash": f"urn:sha256:{DIGEST.hex()}", "mediaType": "text/plain"},
            "validation": run,
        },
    }


def verification(*checks: Check, status: str | None = "active", document: dict[str, Any] | None = None) -> Verification:
    return Verification(
        verified=all(c.passed is not False for c in checks),
        checks=list(checks),
        credential=document if document is not None else credential(),
        status=status,
        errors=[f"{c.name}: {c.detail}" for c in checks if c.passed is False],
    )


SIGNED = (Check("format", True, ""), Check("key", True, ""), Check("signature", True, ""))


# --- content hashes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        {"hash": f"urn:sha256:{DIGEST.hex()}"},
        {"hash": f"urn:sha256:{DIGEST.hex().upper()}"},
        {"digestMultibase": "u" + base64.urlsafe_b64encode(MULTIHASH).decode().rstrip("=")},
        {"digestMultibase": "m" + base64.b64encode(MULTIHASH).decode().rstrip("=")},
        {"digestMultibase": "f" + MULTIHASH.hex()},
        {"digestMultibase": encode_base58btc(MULTIHASH)},
        {"digestMultibase": "u" + base64.urlsafe_b64encode(DIGEST).decode().rstrip("=")},  # a bare digest
        {"hash": f"urn:sha256:{DIGEST.hex()}", "digestMultibase": "f" + MULTIHASH.hex()},
    ],
)
def test_each_way_of_naming_the_digest_is_read(resource: dict[str, Any]) -> None:
    assert expected_hash(credential(resource)) == ContentHash(DIGEST)


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        ({"hash": "sha256:abc"}, "hash"),
        ({"hash": f"urn:sha256:{DIGEST.hex()[:-1]}"}, "hash"),
        ({"hash": 12}, "hash"),
        ({"digestMultibase": "x" + MULTIHASH.hex()}, "digestMultibase"),
        ({"digestMultibase": "f" + (b"\x13\x20" + DIGEST).hex()}, "digestMultibase"),  # SHA-512 code, 32 bytes
        ({"digestMultibase": "u" + "A" * 200}, "digestMultibase"),
        ({"digestMultibase": "uEi!!!"}, "digestMultibase"),
        ({"hash": f"urn:sha256:{'0' * 64}", "digestMultibase": "f" + MULTIHASH.hex()}, "digestMultibase"),
    ],
)
def test_unreadable_digests_are_refused(resource: dict[str, Any], field: str) -> None:
    with pytest.raises(UnreadableHash) as raised:
        expected_hash(credential(resource))
    assert raised.value.field == field


def test_credentials_without_a_resource_name_no_hash() -> None:
    assert expected_hash({"credentialSubject": {"id": "did:example:1"}}) is None
    assert expected_hash({"credentialSubject": "did:example:1"}) is None
    assert expected_hash(credential({"mediaType": "text/plain"})) is None


def test_digest_of_pieces_equals_the_digest_of_the_whole() -> None:
    digest, size = digest_of([DATA[:5], b"", DATA[5:]])
    assert (digest.digest, size) == (DIGEST, len(DATA))
    assert ContentHash.parse(DIGEST.hex()).urn == f"urn:sha256:{DIGEST.hex()}"


# --- the verdict ---------------------------------------------------------------------------------------------------


def test_verdicts() -> None:
    assert verdict_of(verification(*SIGNED)) is Verdict.VALID
    revoked = verification(*SIGNED, Check("status", False, "revoked"), status="revoked")
    assert verdict_of(revoked) is Verdict.REVOKED
    suspended = verification(*SIGNED, Check("status:suspension", False, "suspended: bit set"), status="suspended")
    assert verdict_of(suspended) is Verdict.SUSPENDED
    expired = verification(*SIGNED, Check("validity", False, "expired at 2026-01-01T00:00:00Z"), status="active")
    assert verdict_of(expired) is Verdict.EXPIRED
    expired_stored = verification(*SIGNED, Check("status", False, "expired"), status="expired")
    assert verdict_of(expired_stored) is Verdict.EXPIRED
    not_yet = verification(*SIGNED, Check("validity", False, "not valid before 2030-01-01T00:00:00Z"))
    assert verdict_of(not_yet) is Verdict.INVALID
    unknown = verification(*SIGNED, Check("status:revocation", False, "unknown: list unreachable"), status="unknown")
    assert verdict_of(unknown) is Verdict.UNKNOWN


def test_a_failed_signature_outweighs_what_the_credential_claims() -> None:
    forged = verification(Check("signature", False, "no match"), Check("status", False, "revoked"), status="revoked")
    assert verdict_of(forged) is Verdict.INVALID
    key_revoked = verification(Check("key", False, "revoked key"), Check("signature", None, "key revoked"))
    assert verdict_of(key_revoked) is Verdict.INVALID
    unreadable = Verification(False, [Check("format", False, "not a JWS")])
    assert verdict_of(unreadable) is Verdict.INVALID
    assert Verdict.REVOKED.label == "Revoked" and "revoked" in Verdict.REVOKED.explanation


# --- the content check ---------------------------------------------------------------------------------------------


def test_the_content_check() -> None:
    document = credential()
    same, other = (ContentHash(DIGEST), len(DATA)), digest_of([b"another file"])
    assert content_check(document, None).passed is None
    assert content_check(document, same).passed is True
    assert content_check(document, other).passed is False
    assert content_check({"type": ["VerifiableCredential"]}, same).passed is None
    assert content_check(credential({"hash": "bad"}), same).passed is False
    checked = with_content_check(verification(*SIGNED), document, other)
    assert checked.verified is False and checked.checks[-1].name == "contentHash"
    assert checked.errors == [f"contentHash: {checked.checks[-1].detail}"]
    assert with_content_check(verification(*SIGNED), document, same).verified is True


def test_page_keys() -> None:
    key = "6d8f2d4c-7c0e-4a52-9bb9-7d8a0f3f6f10"
    for given in (key, f"urn:uuid:{key}", f"urn:credential:{key}"):
        assert page_key(given) == key
    for given in ("", "6d8f2d4c", f"urn:isbn:{key}", f"{key}/", f"https://x.example/{key}"):
        assert page_key(given) is None


# --- facts ---------------------------------------------------------------------------------------------------------


def test_facts_of_a_validation_credential() -> None:
    facts = public_facts("urn:uuid:1", credential(filename="x"))
    assert facts.kind == "Validation credential"
    assert (facts.issuer_id, facts.issuer_name) == ("did:web:issuer.test", "ACME Validation")
    assert facts.valid_from == datetime(2026, 11, 20, 10, tzinfo=UTC)
    validation = facts.validation
    assert validation is not None
    assert validation.workflow == "energy-model-check 2.1.0"
    assert validation.content_hash == ContentHash(DIGEST)
    assert validation.validators[0].code == "EPW_SCHEMA"


def test_facts_are_cleaned_and_bounded() -> None:
    many = [{"code": f"V{i}", "version": "1", "validationType": "t"} for i in range(MAX_VALIDATORS + 5)]
    facts = public_facts("urn:uuid:1", credential(runId="run\u0000-\u202e1\n2", validators=many, completedAt="soon"))
    validation = facts.validation
    assert validation is not None
    assert validation.run_id == "run-1 2"
    assert len(validation.validators) == MAX_VALIDATORS and validation.more_validators == 5
    assert validation.completed_at is None
    long = public_facts("urn:uuid:1", {**credential(), "issuer": {"id": "did:x:1", "name": "n" * 5000}})
    assert long.issuer_name is not None and len(long.issuer_name) == 300


def test_facts_of_another_credential_never_read_its_subject() -> None:
    open_badge = {
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": "did:web:issuer.test",
        "validFrom": "2026-11-20T10:00:00Z",
        "credentialSubject": {"identifier": [{"identityHash": "sha256$secret"}], "resource": {"hash": "x"}},
    }
    facts = public_facts("urn:uuid:2", open_badge)
    assert facts.kind == "Open Badge" and facts.validation is None and facts.issuer_id == "did:web:issuer.test"
    assert public_facts("urn:uuid:3", {"type": "VerifiableCredential"}).kind == "Verifiable credential"
    assert public_facts("urn:uuid:4", {"type": ["VerifiableCredential", "Diploma"]}).kind == "Diploma"


# --- drawings ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [150, 300, 313])
def test_qr_codes_fill_their_square_and_decode(side: int) -> None:
    image = Image.open(io.BytesIO(qr_png(URL, side)))
    assert image.size == (side, side)
    assert [code.text for code in zxingcpp.read_barcodes(image)] == [URL]


@pytest.mark.parametrize("verdict", list(Verdict))
def test_badges_for_every_verdict(verdict: Verdict) -> None:
    long_name = credential(workflowSlug="w" * 290, workflowVersion="9" * 100)
    badge = Image.open(io.BytesIO(badge_png(public_facts("urn:uuid:1", long_name), verdict, URL)))
    assert badge.size == (BADGE_SIZE, BADGE_SIZE)
    assert [code.text for code in zxingcpp.read_barcodes(badge)] == [URL]


def test_drawings_are_for_validation_credentials_only() -> None:
    facts = public_facts("urn:uuid:1", {"type": ["VerifiableCredential", "OpenBadgeCredential"]})
    with pytest.raises(ValueError, match="validation credentials"):
        badge_png(facts, Verdict.VALID, URL)
    with pytest.raises(ValueError, match="validation credentials"):
        certificate_pdf(facts, Verdict.VALID, URL, datetime.now(UTC))


def test_a_certificate_survives_missing_and_hostile_facts() -> None:
    sparse = credential({"hash": "not a hash"}, workflowSlug=None, workflowVersion=None, runId=None, validators=[])
    sparse["issuer"] = {"id": "did:web:issuer.test", "name": "\u202eevil\u0000 " + "x" * 1000}
    pdf = certificate_pdf(public_facts("urn:uuid:1", sparse), Verdict.EXPIRED, URL, datetime.now(UTC))
    assert pdf.startswith(b"%PDF-") and b"/DCTDecode" in pdf
