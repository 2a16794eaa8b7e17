"""Recipient references, credential expiry and the did:web layout: pure functions of their inputs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

from ec_issuer.credentials.model import CredentialStatus, IssuedCredential
from ec_issuer.credentials.recipient import RecipientReferencer
from ec_issuer.issuers.model import DidWebLayout

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


# ------------------------------------------------------------------------------------------ recipients


def test_references_are_stable_across_calls_and_instances() -> None:
    first, second = RecipientReferencer(KEY), RecipientReferencer(KEY)
    assert first.ref_for_email("learner@example.org") == second.ref_for_email("learner@example.org")
    assert first.ref_for_did("did:example:1") == second.ref_for_did("did:example:1")
    assert first.ref_for_identity_hash("sha256$ab") == second.ref_for_identity_hash("sha256$ab")
    ref = first.ref_for_email("learner@example.org")
    assert len(ref) == 64
    assert int(ref, 16) >= 0  # hex
    assert "learner" not in ref


@pytest.mark.parametrize("spelling", ["LEARNER@EXAMPLE.ORG", "Learner@Example.org", "  learner@example.org\n"])
def test_email_references_ignore_case_and_surrounding_space(spelling: str) -> None:
    referencer = RecipientReferencer(KEY)
    assert referencer.ref_for_email(spelling) == referencer.ref_for_email("learner@example.org")
    assert referencer.ref_for_query(spelling) == referencer.ref_for_email("learner@example.org")


def test_did_references_are_exact() -> None:
    referencer = RecipientReferencer(KEY)
    assert referencer.ref_for_did("did:example:Abc") != referencer.ref_for_did("did:example:abc")
    assert referencer.ref_for_query("did:example:Abc") == referencer.ref_for_did("did:example:Abc")


def test_references_differ_between_keys() -> None:
    one, other = RecipientReferencer(KEY), RecipientReferencer(OTHER_KEY)
    assert one.ref_for_email("learner@example.org") != other.ref_for_email("learner@example.org")
    assert one.ref_for_did("did:example:1") != other.ref_for_did("did:example:1")


def test_references_differ_between_kinds_of_the_same_value() -> None:
    referencer = RecipientReferencer(KEY)
    value = "did:example:1@example.org"
    refs = {
        referencer.ref_for_email(value),
        referencer.ref_for_did(value),
        referencer.ref_for_identity_hash(value),
    }
    assert len(refs) == 3


def test_references_differ_between_recipients() -> None:
    referencer = RecipientReferencer(KEY)
    assert referencer.ref_for_email("a@example.org") != referencer.ref_for_email("b@example.org")


def test_email_identity_is_salted_per_credential_but_found_by_one_reference() -> None:
    referencer = RecipientReferencer(KEY)
    first = referencer.email_identity("Learner@Example.org")
    second = referencer.email_identity("learner@example.org")

    assert first.subject_ref == second.subject_ref == referencer.ref_for_email("learner@example.org")
    [one], [two] = first.subject_fields["identifier"], second.subject_fields["identifier"]
    assert one["salt"] != two["salt"]
    assert one["identityHash"] != two["identityHash"]
    for identity in (one, two):
        digest = hashlib.sha256(("learner@example.org" + identity["salt"]).encode()).hexdigest()
        assert identity["identityHash"] == f"sha256${digest}"
        assert identity == {
            "type": "IdentityObject",
            "hashed": True,
            "identityHash": f"sha256${digest}",
            "identityType": "emailAddress",
            "salt": identity["salt"],
        }


def test_did_identity_is_the_subject_id() -> None:
    referencer = RecipientReferencer(KEY)
    identity = referencer.did_identity("did:example:1")
    assert identity.subject_fields == {"id": "did:example:1"}
    assert identity.subject_ref == referencer.ref_for_did("did:example:1")


# ------------------------------------------------------------------------------------------ expiry

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)


def _credential(status: CredentialStatus, valid_until: datetime | None) -> IssuedCredential:
    return IssuedCredential(
        id="urn:uuid:00000000-0000-4000-8000-000000000001",
        issuer_slug="acme",
        family="open-badges-3.0",
        format="vc+jwt",
        format_version="ob-3.0.3+vcdm-2.0",
        payload=b"{}",
        signed="a.b.c",
        kid="did:web:issuer.test#k",
        status=status,
        issued_at=ISSUED,
        valid_from=ISSUED,
        valid_until=valid_until,
        client_id="client",
        subject_ref="0" * 64,
    )


def test_an_active_credential_expires_at_valid_until() -> None:
    until = ISSUED + timedelta(days=365)
    credential = _credential(CredentialStatus.ACTIVE, until)

    assert credential.effective_status(until - timedelta(seconds=1)) is CredentialStatus.ACTIVE
    assert credential.effective_status(until) is CredentialStatus.EXPIRED
    assert credential.effective_status(until + timedelta(days=1)) is CredentialStatus.EXPIRED
    assert credential.status is CredentialStatus.ACTIVE  # reported, not written


def test_a_credential_without_valid_until_never_expires() -> None:
    credential = _credential(CredentialStatus.ACTIVE, None)
    assert credential.effective_status(ISSUED + timedelta(days=365 * 100)) is CredentialStatus.ACTIVE


def test_revocation_outlasts_expiry() -> None:
    credential = _credential(CredentialStatus.REVOKED, ISSUED + timedelta(days=1))
    assert credential.effective_status(ISSUED + timedelta(days=2)) is CredentialStatus.REVOKED


def test_a_suspended_credential_expires_as_the_sweep_would_expire_it() -> None:
    credential = _credential(CredentialStatus.SUSPENDED, ISSUED + timedelta(days=1))
    assert credential.effective_status(ISSUED + timedelta(days=2)) is CredentialStatus.EXPIRED


# ------------------------------------------------------------------------------------------ did:web


def test_did_web_for_an_origin_without_a_port() -> None:
    layout = DidWebLayout("https://badges.example.edu")
    assert layout.did_for("acme", is_root=True) == "did:web:badges.example.edu"
    assert layout.did_for("acme", is_root=False) == "did:web:badges.example.edu:issuers:acme"


def test_did_web_percent_encodes_the_port() -> None:
    layout = DidWebLayout("http://localhost:8000")
    assert layout.host_part == "localhost%3A8000"
    assert layout.did_for("dev", is_root=True) == "did:web:localhost%3A8000"
    assert layout.did_for("acme", is_root=False) == "did:web:localhost%3A8000:issuers:acme"


def test_did_documents_live_where_did_web_resolvers_look() -> None:
    layout = DidWebLayout("https://badges.example.edu")
    assert layout.document_path("acme", is_root=True) == "/.well-known/did.json"
    assert layout.document_path("acme", is_root=False) == "/issuers/acme/did.json"
    assert layout.jwks_path("acme") == "/issuers/acme/jwks.json"


def _resolve_did_web(did: str, scheme: str) -> str:
    """The did:web method's DID-to-URL rule, written out independently of DidWebLayout."""
    host, *path = did.removeprefix("did:web:").split(":")
    tail = "/".join(path) + "/did.json" if path else ".well-known/did.json"
    return f"{scheme}://{unquote(host)}/{tail}"


@pytest.mark.parametrize("base_url", ["https://badges.example.edu", "http://localhost:8000"])
@pytest.mark.parametrize("is_root", [True, False])
def test_each_did_resolves_to_the_path_its_document_is_served_at(base_url: str, is_root: bool) -> None:
    layout = DidWebLayout(base_url)
    did = layout.did_for("acme", is_root=is_root)
    scheme = base_url.split(":", 1)[0]
    assert _resolve_did_web(did, scheme) == base_url + layout.document_path("acme", is_root=is_root)
