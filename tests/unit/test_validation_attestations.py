"""Validation attestations through the service layer, wired to in-memory fakes: the document, the decisions
(issue, skip, replay, conflict), the privacy heuristics and opt-in, the schema and the JSON-LD context."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from ec_issuer.access.commands import CreateClient
from ec_issuer.access.model import ApiClient
from ec_issuer.attestations.commands import IssueValidationCredential, PutOrganizationPrivacy
from ec_issuer.attestations.document import VALIDATION_CONTEXT, ValidationUrls, digest_multibase, published_schema
from ec_issuer.attestations.model import AttestationOutcome
from ec_issuer.attestations.privacy import looks_like_a_personal_name
from ec_issuer.attestations.service import ValidationAttestations
from ec_issuer.core.encoding import format_datetime, loads
from ec_issuer.core.errors import Conflict, DomainError, Forbidden, InvalidInput
from ec_issuer.core.validation import parse_command
from ec_issuer.credentials.commands import IssueDocument
from ec_issuer.credentials.families import VALIDATION_ATTESTATION
from ec_issuer.credentials.model import IssuedCredential
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.jsonld.canonical import canonical_nquads
from ec_issuer.keys.model import Algorithm
from ec_issuer.signing.jose import parse_compact, verify_signature
from tests.attestation_support import MODEL_SHA256, validation_body, with_member
from tests.fakes import FakeServices, fake_services

BASE_URL = "https://issuer.test"


@pytest.fixture
def services() -> FakeServices:
    return fake_services(base_url=BASE_URL)


@pytest.fixture
def issuer(services: FakeServices) -> Issuer:
    created = services.issuers.create(CreateIssuer(slug="acme", name="ACME Validation", url="https://acme.example"))
    services.keys.generate(created, Algorithm.ES256)
    services.keys.generate(created, Algorithm.EDDSA)
    return created


@pytest.fixture
def attestations(services: FakeServices) -> ValidationAttestations:
    return ValidationAttestations(services.database.factory, services.issuing, services.clock, ValidationUrls(BASE_URL))


@pytest.fixture
def operator(services: FakeServices) -> ApiClient:
    return services.access.operator_client()


def command(body: dict[str, Any]) -> IssueValidationCredential:
    return parse_command(IssueValidationCredential, body)


def issued(outcome: AttestationOutcome) -> IssuedCredential:
    assert outcome.credential is not None, outcome.skipped_because
    return outcome.credential


def document(outcome: AttestationOutcome) -> dict[str, Any]:
    return loads(issued(outcome).payload)


def pointers(error: DomainError) -> list[str]:
    return [e.pointer for e in error.errors]


# ------------------------------------------------------------------------------------------ the document


def test_a_passed_run_gets_a_validation_credential_of_the_documented_shape(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient, services: FakeServices
) -> None:
    outcome = attestations.issue(operator, command(validation_body()))
    credential = issued(outcome)
    payload = document(outcome)

    assert (credential.family, credential.format, outcome.replayed) == ("validation-attestation", "vc+jwt", False)
    assert credential.format_version == VALIDATION_ATTESTATION.format_version
    assert payload["@context"] == ["https://www.w3.org/ns/credentials/v2", VALIDATION_CONTEXT]
    assert payload["type"] == ["VerifiableCredential", "ValidationCredential"]
    assert payload["id"] == credential.id and credential.id.startswith("urn:uuid:")
    assert payload["issuer"] == {"id": issuer.did, "name": "ACME Validation"}
    assert payload["validFrom"] == format_datetime(services.clock.now())
    assert "validUntil" not in payload
    assert payload["credentialSchema"] == {
        "id": f"{BASE_URL}/schemas/validation-credential/v1.json",
        "type": "JsonSchema",
    }
    assert payload["credentialSubject"] == {
        "id": "urn:ec-issuer:submission:sub-0c1d",
        "type": "ValidatedSubmission",
        "resource": {
            "hash": f"urn:sha256:{MODEL_SHA256}",
            "digestMultibase": digest_multibase(MODEL_SHA256),
            "mediaType": "application/xml",
            "size": 67,
        },
        "validation": {
            "workflowId": "wf-12",
            "workflowSlug": "energy-model-check",
            "workflowVersion": "3.1.0",
            "runId": "run-7f3a",
            "status": "PASSED",
            "completedAt": "2026-03-14T15:00:00Z",
            "validators": [
                {"code": "idf-schema", "version": "24.1", "validationType": "SCHEMA"},
                {"code": "ashrae-901", "version": "2019.2", "validationType": "RULES"},
            ],
        },
    }
    purposes = [entry["statusPurpose"] for entry in payload["credentialStatus"]]
    assert purposes == ["revocation", "suspension"]  # assigned by the issuer, as for every VC 2.0 document
    jws = parse_compact(credential.signed)
    assert jws.header["alg"] == "ES256" and jws.header["typ"] == "vc+jwt"
    assert verify_signature(jws, services.database.keys[str(credential.kid)].public_jwk)


def test_nothing_of_the_organization_project_action_or_results_is_published(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient
) -> None:
    payload = json.dumps(document(attestations.issue(operator, command(validation_body()))))
    for private in ("org-41", "prj-9", "act-3", "step-1", "checked 1,204 objects", "template"):
        assert private not in payload


def test_digest_multibase_is_the_base64url_sha256_multihash() -> None:
    encoded = digest_multibase(MODEL_SHA256)
    assert encoded[0] == "u"
    raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    assert raw == bytes([0x12, 0x20]) + bytes.fromhex(MODEL_SHA256)


def test_an_upper_case_hash_and_media_type_are_published_in_lower_case(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient
) -> None:
    body = with_member(validation_body(), "submission/resource/sha256", MODEL_SHA256.upper())
    body = with_member(body, "submission/resource/mediaType", "Application/XML")
    resource = document(attestations.issue(operator, command(body)))["credentialSubject"]["resource"]
    assert (resource["hash"], resource["mediaType"]) == (f"urn:sha256:{MODEL_SHA256}", "application/xml")


def test_valid_until_is_published_and_must_lie_ahead(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient, services: FakeServices
) -> None:
    later = format_datetime(services.clock.now() + timedelta(days=365))
    outcome = attestations.issue(operator, command(with_member(validation_body(), "validUntil", later)))
    assert document(outcome)["validUntil"] == later
    earlier = format_datetime(services.clock.now() - timedelta(seconds=1))
    with pytest.raises(InvalidInput) as refused:
        attestations.issue(operator, command(with_member(validation_body(run="r2"), "validUntil", earlier)))
    assert pointers(refused.value) == ["/validUntil"]


def test_every_credential_satisfies_the_published_schema_by_the_reference_validator(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient
) -> None:
    schema = published_schema(ValidationUrls(BASE_URL))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    body = with_member(validation_body(), "format", "both")
    for outcome in (
        attestations.issue(operator, command(validation_body())),
        attestations.issue(operator, command(with_member(body, "stepRun/id", "step-2"))),
    ):
        assert list(validator.iter_errors(document(outcome))) == []


def test_the_schema_is_applied_before_signing(
    attestations: ValidationAttestations, services: FakeServices, issuer: Issuer, operator: ApiClient
) -> None:
    """A ValidationCredential that breaks the schema is refused by the issuer, naming the field."""
    payload = document(attestations.issue(operator, command(validation_body())))
    broken = {k: v for k, v in payload.items() if k not in ("id", "validFrom", "credentialStatus", "status")}
    broken["credentialSubject"]["validation"]["status"] = "FAILED"
    with services.database.factory() as uow, pytest.raises(InvalidInput) as refused:
        services.issuing.issue_all_in(uow, operator, [IssueDocument(issuer="acme", credential=broken)])
    assert "ValidationCredential schema" in refused.value.detail
    assert pointers(refused.value) == ["/credential/credentialSubject/validation/status"]


def test_data_integrity_signs_the_credential_in_json_ld_safe_mode(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient
) -> None:
    outcome = attestations.issue(operator, command(with_member(validation_body(), "format", "data-integrity")))
    payload = document(outcome)
    assert issued(outcome).jws is None
    assert [proof["cryptosuite"] for proof in payload["proof"]] == ["eddsa-rdfc-2022"]
    unsigned = {k: v for k, v in payload.items() if k != "proof"}
    nquads = canonical_nquads(unsigned, reject_control_characters=True)  # safe mode: every term is defined
    assert '<https://w3id.org/ec-issuer/validation#runId> "run-7f3a"' in nquads


# --------------------------------------------------------------------------------------- when to issue


@pytest.mark.parametrize(
    ("status", "issue_on_warnings", "outcome"),
    [
        ("PASSED", False, "issued"),
        ("PASSED_WITH_WARNINGS", True, "issued"),
        ("PASSED_WITH_WARNINGS", False, "skipped"),
        ("FAILED", True, "skipped"),
        ("ERROR", False, "skipped"),
        ("CANCELED", False, "skipped"),
        ("RUNNING", False, "skipped"),
        ("PENDING", False, "skipped"),
    ],
)
def test_only_runs_that_passed_are_attested(
    attestations: ValidationAttestations,
    issuer: Issuer,
    operator: ApiClient,
    services: FakeServices,
    status: str,
    issue_on_warnings: bool,
    outcome: str,
) -> None:
    body = with_member(validation_body(), "run/status", status)
    body = with_member(body, "action/issueOnWarnings", issue_on_warnings)
    if status in ("RUNNING", "PENDING"):
        body = with_member(body, "run/completedAt", None)
    answer = attestations.issue(operator, command(body))
    if outcome == "issued":
        assert document(answer)["credentialSubject"]["validation"]["status"] == status
    else:
        assert answer.credential is None and answer.skipped_because
        assert services.database.credentials == {} and services.database.attestations == {}


def test_a_retry_answers_with_the_same_credential(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient, services: FakeServices
) -> None:
    first = issued(attestations.issue(operator, command(validation_body())))
    # Key order and whitespace do not matter; the parsed request does.
    again = attestations.issue(operator, command(json.loads(json.dumps(validation_body(), sort_keys=True))))
    assert again.replayed
    assert (issued(again).id, issued(again).signed) == (first.id, first.signed)
    assert len(services.database.credentials) == 1


def test_a_retry_with_another_body_or_from_another_client_conflicts(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient, services: FakeServices
) -> None:
    attestations.issue(operator, command(validation_body()))
    for changed in (
        with_member(validation_body(), "submission/resource/sha256", "0" * 64),
        with_member(validation_body(), "run/status", "FAILED"),  # a run that was attested cannot be unsaid
        with_member(validation_body(), "run/results", {"warnings": 1}),  # unpublished, yet part of the request
    ):
        with pytest.raises(Conflict) as conflict:
            attestations.issue(operator, command(changed))
        assert pointers(conflict.value) == ["/stepRun/id"]
    other = services.access.create(CreateClient(name="other platform", issuers=["acme"])).client
    with pytest.raises(Conflict):
        attestations.issue(other, command(validation_body()))
    assert len(services.database.credentials) == 1


def test_another_step_run_of_the_same_run_gets_its_own_credential(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient
) -> None:
    first = issued(attestations.issue(operator, command(validation_body())))
    second = issued(attestations.issue(operator, command(validation_body(step_run="step-2"))))
    assert first.id != second.id


def test_a_concurrent_request_that_loses_answers_with_the_winners_credential(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient, services: FakeServices
) -> None:
    winner: list[IssuedCredential] = []

    def competitor_commits_first(_: IssuedCredential) -> None:
        services.database.before_credential_add = None
        winner.append(issued(attestations.issue(operator, command(validation_body()))))

    services.database.before_credential_add = competitor_commits_first
    outcome = attestations.issue(operator, command(validation_body()))
    assert outcome.replayed and issued(outcome).id == winner[0].id
    assert list(services.database.credentials) == [winner[0].id]  # the loser's credential was rolled back


def test_the_stored_links_are_found_by_credential(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient, services: FakeServices
) -> None:
    credential = issued(attestations.issue(operator, command(validation_body())))
    record = attestations.record_for(credential.id)
    assert record is not None
    assert (record.organization_id, record.project_id, record.submission_id) == ("org-41", "prj-9", "sub-0c1d")
    assert (record.run_id, record.step_run_id, record.action_id) == ("run-7f3a", "step-1", "act-3")
    assert record.action_configuration == {"issueOnWarnings": False, "template": "default"}
    assert (record.format_version, record.created_at) == (credential.format_version, services.clock.now())
    assert attestations.record_for("urn:uuid:00000000-0000-4000-8000-999999999999") is None


def test_a_client_outside_the_issuers_scope_is_refused(
    attestations: ValidationAttestations, issuer: Issuer, services: FakeServices
) -> None:
    services.issuers.create(CreateIssuer(slug="other", name="Other", url="https://other.example"))
    scoped = services.access.create(CreateClient(name="scoped", issuers=["other"])).client
    with pytest.raises(Forbidden):
        attestations.issue(scoped, command(validation_body()))


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        ("run/completedAt", None, "/run/completedAt"),
        ("run/validators", [], "/run/validators"),
    ],
)
def test_a_passed_run_must_say_when_and_by_which_validators(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient, path: str, value: Any, pointer: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        attestations.issue(operator, command(with_member(validation_body(), path, value)))
    assert pointers(refused.value) == [pointer]


# ----------------------------------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        ("run/status", "SUCCEEDED", "/run/status"),
        ("run/status", "passed", "/run/status"),
        ("submission/resource/sha256", "z" * 64, "/submission/resource/sha256"),
        ("submission/resource/sha256", "ab" * 31, "/submission/resource/sha256"),
        ("submission/resource/mediaType", "xml", "/submission/resource/mediaType"),
        ("submission/resource/size", -1, "/submission/resource/size"),
        ("submission/resource/size", "12", "/submission/resource/size"),
        ("submission/resource/filename", "../etc/passwd", "/submission/resource/filename"),
        ("submission/id", "sub 1", "/submission/id"),
        ("submission/id", "x" * 129, "/submission/id"),
        ("run/workflow/slug", None, "/run/workflow/slug"),
        ("stepRun", None, "/stepRun"),
        ("run/completedAt", "yesterday", "/run/completedAt"),
        ("run/validators/0/validationType", None, "/run/validators/0/validationType"),
        ("action/issueOnWarnings", "yes", "/action/issueOnWarnings"),
        ("format", "jades", "/format"),
        ("recipient", {"email": "someone@example.org"}, "/recipient"),
    ],
)
def test_bad_requests_name_the_field(path: str, value: Any, pointer: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        command(with_member(validation_body(), path, value))
    assert pointer in pointers(refused.value)


def test_a_validator_listed_twice_is_refused() -> None:
    body = validation_body()
    validators = body["run"]["validators"]
    body = with_member(body, "run/validators", [*validators, {**validators[0], "validationType": "OTHER"}])
    with pytest.raises(InvalidInput) as refused:
        command(body)
    assert pointers(refused.value) == ["/run/validators"]
    assert "idf-schema 24.1" in refused.value.errors[0].detail


# ------------------------------------------------------------------------------------------------ privacy


@pytest.mark.parametrize(
    ("value", "is_name"),
    [
        ("Jane.Doe", True),
        ("sub-Jane_Doe-42", True),
        ("Jane Doe model.idf", True),
        ("Émile-Brontë", True),
        ("energy-model-check", False),
        ("EnergyPlus-v24", False),
        ("jane.doe", False),  # the documented blind spot: lower-case names pass
        ("Office", False),
        ("run-7f3a", False),
        ("AB-CD", False),
    ],
)
def test_the_personal_name_heuristic(value: str, is_name: bool) -> None:
    assert looks_like_a_personal_name(value) is is_name


@pytest.mark.parametrize(
    ("path", "value", "pointer", "opt_in"),
    [
        ("submission/id", "jane.doe@example.org", "/submission/id", "allowPersonalData"),
        ("run/id", "Jane.Doe", "/run/id", "allowPersonalData"),
        ("run/workflow/slug", "Jane-Doe", "/run/workflow/slug", "allowPersonalData"),
        ("run/validators/1/code", "qa+x@lab.example.com", "/run/validators/1/code", "allowPersonalData"),
        ("submission/resource/filename", "model.idf", "/submission/resource/filename", "allowFilenames"),
    ],
)
def test_personal_data_is_refused_unless_the_organization_opted_in(
    attestations: ValidationAttestations,
    issuer: Issuer,
    operator: ApiClient,
    services: FakeServices,
    path: str,
    value: str,
    pointer: str,
    opt_in: str,
) -> None:
    body = with_member(validation_body(), path, value)
    with pytest.raises(InvalidInput) as refused:
        attestations.issue(operator, command(body))
    assert pointers(refused.value) == [pointer]
    assert opt_in in refused.value.errors[0].detail
    assert services.database.credentials == {}

    other_organization = with_member(with_member(body, "organization/id", "org-other"), "stepRun/id", "step-2")
    attestations.set_privacy(operator, "org-other", PutOrganizationPrivacy.model_validate({opt_in: True}))
    assert value in json.dumps(document(attestations.issue(operator, command(other_organization))))
    with pytest.raises(InvalidInput):  # the opt-in is the organization's, not the request's
        attestations.issue(operator, command(body))


def test_a_file_name_that_names_a_person_needs_both_opt_ins(
    attestations: ValidationAttestations, issuer: Issuer, operator: ApiClient
) -> None:
    body = with_member(validation_body(), "submission/resource/filename", "Jane Doe house.idf")
    attestations.set_privacy(operator, "org-41", PutOrganizationPrivacy(allowFilenames=True))
    with pytest.raises(InvalidInput) as refused:
        attestations.issue(operator, command(body))
    assert "allowPersonalData" in refused.value.errors[0].detail
    attestations.set_privacy(operator, "org-41", PutOrganizationPrivacy(allowFilenames=True, allowPersonalData=True))
    resource = document(attestations.issue(operator, command(body)))["credentialSubject"]["resource"]
    assert resource["filename"] == "Jane Doe house.idf"


def test_privacy_settings_default_to_nothing_and_only_admins_change_them(
    attestations: ValidationAttestations, operator: ApiClient, services: FakeServices
) -> None:
    settings = attestations.privacy(operator, "org-41")
    assert (settings.allow_personal_data, settings.allow_filenames, settings.updated_at) == (False, False, None)
    changed = attestations.set_privacy(operator, "org-41", PutOrganizationPrivacy(allowFilenames=True))
    assert attestations.privacy(operator, "org-41") == changed
    assert changed.updated_at == services.clock.now()
    platform = services.access.create(CreateClient(name="platform")).client
    with pytest.raises(Forbidden):
        attestations.set_privacy(platform, "org-41", PutOrganizationPrivacy(allowPersonalData=True))
    with pytest.raises(InvalidInput) as refused:
        attestations.privacy(operator, "org 41")
    assert pointers(refused.value) == ["organizationId"]
