"""Safe mode, the offline context loader and the work limits of `ec_issuer.jsonld`.

Each bad input must be refused with `InvalidInput` whose JSON Pointer names the offending member, and
hostile inputs must be refused within a few seconds (the bounds asserted are generous on purpose).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ec_issuer.core.errors import InvalidInput
from ec_issuer.credentials.commands import IssueCredential
from ec_issuer.credentials.ob3 import build_achievement_credential
from ec_issuer.credentials.recipient import RecipientReferencer
from ec_issuer.issuers.model import Issuer
from ec_issuer.jsonld.canonical import canonical_nquads
from ec_issuer.jsonld.contexts import context_document, vendored_urls
from ec_issuer.jsonld.limits import ProcessingLimits, WorkLimitExceeded
from tests.support import award_body

EXTENSIONS = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
SCHEMA_URL = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
QUICKLY = 5.0  # seconds; the default time budget is 2 s


def ob3_credential() -> dict[str, Any]:
    issuer = Issuer(slug="acme", did="did:web:issuer.test:issuers:acme", name="Acme Academy")
    recipient = RecipientReferencer(b"k" * 32).email_identity("learner@example.org")
    return build_achievement_credential(
        IssueCredential.model_validate(award_body()),
        issuer=issuer,
        credential_id="urn:uuid:8f0c4c1e-2f5b-4a36-9f0e-0c1b8e3c2a11",
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        recipient=recipient,
    )


def refusal(document: dict[str, Any], *, signing: bool = True, limits: ProcessingLimits | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        canonical_nquads(document, reject_control_characters=signing, limits=limits or ProcessingLimits())
    return caught.value


def pointers(error: InvalidInput) -> list[str]:
    return [e.pointer for e in error.errors]


@contextmanager
def within(seconds: float) -> Iterator[None]:
    started = time.monotonic()
    yield
    assert time.monotonic() - started < seconds


def test_a_built_ob3_credential_is_safe_and_canonicalizes() -> None:
    nquads = canonical_nquads(ob3_credential(), reject_control_characters=True)
    assert nquads.endswith(" .\n")
    # OB 3.0.3 maps AchievementCredential to the same IRI as its synonym OpenBadgeCredential.
    assert "<https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential>" in nquads


def test_the_ob3_specification_example_canonicalizes_as_jsonld_js_does() -> None:
    examples = Path(__file__).resolve().parent.parent / "fixtures" / "ob3-examples"
    document = json.loads((examples / "ob3-spec-full_ex.json").read_text(encoding="utf-8"))
    expected = (examples / "ob3-spec-full_ex.rdfc10.jsonld-js.nq").read_text(encoding="utf-8")
    assert canonical_nquads(document, reject_control_characters=True) == expected


def test_unknown_context_url_is_refused_without_fetching() -> None:
    document = ob3_credential()
    document["@context"].append("https://contexts.example/evil.jsonld")
    error = refusal(document)
    assert pointers(error) == ["/@context"]
    assert "https://contexts.example/evil.jsonld" in error.errors[0].detail


def test_contexts_imported_from_inline_contexts_are_not_fetched_either() -> None:
    document = ob3_credential()
    document["@context"].append({"@version": 1.1, "@import": "https://contexts.example/imported.jsonld"})
    error = refusal(document)
    assert pointers(error) == ["/@context"]
    assert "imported.jsonld" in error.detail


def test_undefined_term_is_refused_with_its_pointer() -> None:
    document = ob3_credential()
    document["credentialSubject"]["favouriteColour"] = "green"
    assert pointers(refusal(document)) == ["/credentialSubject/favouriteColour"]


def test_keyword_lookalike_is_refused() -> None:
    document = ob3_credential()
    document["@comment"] = "not a keyword"
    assert pointers(refusal(document)) == ["/@comment"]


def test_relative_type_iri_is_refused() -> None:
    # OB3 pitfall: a 1EdTech type without the extensions context has no IRI; pyld would invent one.
    document = ob3_credential()
    document["credentialSchema"] = [{"id": SCHEMA_URL, "type": "1EdTechJsonSchemaValidator2019"}]
    error = refusal(document)
    assert pointers(error) == ["/credentialSchema/0/type"]
    assert "relative" in error.errors[0].detail
    document["@context"].append(EXTENSIONS)
    canonical_nquads(document, reject_control_characters=True)  # with its context it is fine


def test_relative_id_is_refused() -> None:
    document = ob3_credential()
    document["credentialSubject"]["achievement"]["id"] = "achievements/python-101"
    assert pointers(refusal(document)) == ["/credentialSubject/achievement/id"]


def test_control_characters_are_refused_for_signing_and_canonicalized_for_verifying() -> None:
    document = ob3_credential()
    document["name"] = "Bell \x07 and delete \x7f"
    assert pointers(refusal(document)) == ["/name"]
    nquads = canonical_nquads(document, reject_control_characters=False)
    assert '"Bell \\u0007 and delete \\u007F"' in nquads


def test_integers_javascript_would_round_are_refused() -> None:
    document = ob3_credential()
    document["credentialSubject"]["creditsEarned"] = 2**60
    assert pointers(refusal(document)) == ["/credentialSubject/creditsEarned"]


def test_ten_thousand_blank_nodes_are_refused_quickly() -> None:
    document = ob3_credential()
    document["credentialSubject"]["result"] = [{"type": ["Result"], "value": str(i)} for i in range(10_000)]
    with within(QUICKLY):
        error = refusal(document)
    assert isinstance(error, WorkLimitExceeded)
    assert "blank nodes" in error.detail


def test_blank_nodes_are_also_counted_after_expansion() -> None:
    # Objects with explicit blank-node ids pass the JSON check's estimate, but are counted as RDF.
    document = ob3_credential()
    document["credentialSubject"]["result"] = [
        {"id": f"_:result{i}", "type": ["Result"], "value": str(i)} for i in range(60)
    ]
    with within(QUICKLY):
        error = refusal(document, limits=ProcessingLimits(max_blank_nodes=50))
    assert "blank nodes" in error.detail


def test_deeply_nested_json_is_refused_quickly() -> None:
    nested: dict[str, Any] = {"type": ["Result"], "value": "leaf"}
    for _ in range(100_000):
        nested = {"type": ["Result"], "value": "x", "result": [nested]}
    document = ob3_credential()
    document["credentialSubject"]["result"] = [nested]
    with within(QUICKLY):
        error = refusal(document)
    assert isinstance(error, WorkLimitExceeded)
    assert "nests deeper" in error.detail


def test_a_long_array_is_stopped_by_the_time_budget() -> None:
    # pyld's node map is quadratic in the values of one property: 10,000 strings take ~30 s unbounded.
    document = ob3_credential()
    document["credentialSubject"]["narrative"] = [f"line {i}" for i in range(10_000)]
    with within(QUICKLY):
        error = refusal(document, limits=ProcessingLimits(time_budget_seconds=0.5))
    assert isinstance(error, WorkLimitExceeded)
    assert "longer than" in error.detail


def test_too_many_values_are_refused_before_any_processing() -> None:
    document = ob3_credential()
    document["credentialSubject"]["narrative"] = ["x"] * 100
    error = refusal(document, limits=ProcessingLimits(max_json_values=50))
    assert "JSON values" in error.detail


def test_non_json_values_are_refused() -> None:
    document = ob3_credential()
    document["validFrom"] = datetime(2026, 1, 1, tzinfo=UTC)
    document["credentialSubject"]["creditsEarned"] = float("nan")
    assert sorted(pointers(refusal(document))) == ["/credentialSubject/creditsEarned", "/validFrom"]


def test_invalid_json_ld_is_an_invalid_input() -> None:
    document = ob3_credential()
    document["@context"] = [*document["@context"], {"name": {"@id": "https://schema.org/other"}}]
    error = refusal(document)  # VC v2 protects `name`: redefining it is a JSON-LD error
    assert "protected" in error.detail


def test_canonicalization_does_not_change_the_input() -> None:
    document = ob3_credential()
    original = copy.deepcopy(document)
    canonical_nquads(document, reject_control_characters=True)
    assert document == original


# --- the vendored contexts -------------------------------------------------------------------------------


def contexts_folder() -> Any:
    return resources.files("ec_issuer.resources").joinpath("contexts")


def test_every_indexed_context_exists_and_is_a_context() -> None:
    for url in vendored_urls():
        assert "@context" in context_document(url), url


def test_provenance_lists_every_context_with_its_sha256() -> None:
    folder = contexts_folder()
    provenance = folder.joinpath("PROVENANCE.md").read_text(encoding="utf-8")
    index: dict[str, str] = json.loads(folder.joinpath("index.json").read_text(encoding="utf-8"))
    for url, filename in index.items():
        pattern = rf"^\| `{re.escape(filename)}` \| {re.escape(url)} \|.*`([0-9a-f]{{64}})` \|$"
        row = re.search(pattern, provenance, re.MULTILINE)
        assert row is not None, filename
        assert hashlib.sha256(folder.joinpath(filename).read_bytes()).hexdigest() == row.group(1), filename


def test_context_documents_are_private_copies() -> None:
    url = "https://www.w3.org/ns/credentials/v2"
    context_document(url)["@context"]["tampered"] = True
    assert "tampered" not in context_document(url)["@context"]
