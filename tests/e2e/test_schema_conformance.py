"""Every credential issued in the test suite validates against the official OB 3.0 AchievementCredential schema.

tests/e2e/conftest.py checks that for every credential any e2e test issues, with the reference Python
`jsonschema` library and both copies of the schema. The tests here issue the extremes (a credential with every
optional member the API can produce, and minimal ones), check the reference library accepts them, show that a
document the schema rejects is answered 422 with JSON Pointers, and prove that the recorder notices a
credential that slipped past the service's own schema check.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from ec_issuer.bootstrap import Container
from ec_issuer.core.encoding import format_datetime
from ec_issuer.core.errors import FieldError
from ec_issuer.issuers.commands import AddressInput, CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm
from tests.conftest import json_of
from tests.e2e.conftest import IssuedCredentials, reference_validators, schema_problems
from tests.support import SettableClock

OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
ACHIEVEMENT_ID = "https://tech.example/achievements/data-structures"
RESULT_DESCRIPTION_ID = "https://tech.example/achievements/data-structures/results/final-grade"


def assert_reference_valid(credential: dict[str, Any]) -> None:
    validators = reference_validators()
    assert len(validators) == 2
    for label, validator in validators.items():
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(credential)]
        assert errors == [], label


@pytest.fixture
def tech(container: Container) -> Issuer:
    """An issuer with every profile member the service supports, with both key types."""
    created = container.issuers.create(
        CreateIssuer(
            slug="tech",
            name="Institute of Technology",
            url="https://tech.example",
            email="registrar@tech.example",
            image="https://tech.example/logo.png",
            description="A public technical university.",
            address=AddressInput(
                streetAddress="1 Campus Road",
                addressLocality="Delft",
                addressRegion="South Holland",
                postalCode="2628 CD",
                addressCountry="NL",
            ),
        )
    )
    container.keys.generate(created, Algorithm.ES256)
    container.keys.generate(created, Algorithm.EDDSA)
    return created


def maximal_body(clock: SettableClock) -> dict[str, Any]:
    now = clock.now()
    return {
        "issuer": "tech",
        "recipient": {"email": "Student@Example.org"},
        "name": "Data Structures (with distinction)",
        "description": "Awarded for completing Data Structures with distinction.",
        "validFrom": format_datetime(now - timedelta(days=1)),
        "validUntil": format_datetime(now + timedelta(days=3 * 365)),
        "awardedDate": format_datetime(now - timedelta(days=2)),
        "achievement": {
            "id": ACHIEVEMENT_ID,
            "name": "Data Structures",
            "description": "Lists, trees, graphs and hash tables, with their complexity.",
            "criteria": {
                "id": "https://tech.example/achievements/data-structures/criteria",
                "narrative": "# Criteria\n\n* pass the exam\n* deliver the project",
            },
            "image": "https://tech.example/badges/data-structures.png",
            "achievementType": "Course",
            "alignment": [
                {
                    "targetName": "Algorithms and complexity",
                    "targetUrl": "https://frameworks.example/cs/algorithms",
                    "targetDescription": "Analyse the complexity of algorithms.",
                    "targetCode": "CS-ALG-1",
                    "targetFramework": "Computing Curriculum Framework",
                    "targetType": "CFItem",
                }
            ],
            "resultDescription": [
                {
                    "id": RESULT_DESCRIPTION_ID,
                    "name": "Final grade",
                    "resultType": "LetterGrade",
                    "allowedValue": ["A", "B", "C", "D", "F"],
                    "requiredValue": "C",
                }
            ],
            "creditsAvailable": 7.5,
            "fieldOfStudy": "Computer Science",
            "humanCode": "CS2010",
            "inLanguage": "en",
            "tag": ["algorithms", "data structures"],
        },
        "results": [
            {"resultDescription": RESULT_DESCRIPTION_ID, "value": "A", "status": "Completed"},
        ],
        "creditsEarned": 7.5,
        "narrative": "Completed all assignments; project graded A.",
        "evidence": [
            {
                "id": "https://tech.example/evidence/4711",
                "narrative": "Final project: a persistent B-tree.",
                "name": "Final project",
                "description": "Source code and report.",
                "genre": "Project",
                "audience": "Employers",
            }
        ],
        "algorithm": "EdDSA",
    }


def test_a_maximal_credential_validates_with_the_reference_library(
    http: FlaskClient,
    tech: Issuer,
    auth: dict[str, str],
    clock: SettableClock,
    issued_credentials: IssuedCredentials,
) -> None:
    response = http.post("/api/v1/credentials", json=maximal_body(clock), headers=auth)
    assert response.status_code == 201, json_of(response)
    credential: dict[str, Any] = json_of(response)["credential"]

    # Every optional member the API can produce is really there.
    subject = credential["credentialSubject"]
    achievement = subject["achievement"]
    assert credential["issuer"]["id"] == tech.did
    assert credential["issuer"]["image"] == {"id": "https://tech.example/logo.png", "type": "Image"}
    assert credential["issuer"]["address"]["type"] == ["Address"]
    assert credential["issuer"]["address"]["addressCountry"] == "NL"
    for member in ("description", "validUntil", "awardedDate", "evidence"):
        assert member in credential, member
    for member in ("identifier", "result", "creditsEarned", "narrative"):
        assert member in subject, member
    for member in ("image", "achievementType", "alignment", "resultDescription", "creditsAvailable", "tag"):
        assert member in achievement, member
    assert achievement["image"] == {"id": "https://tech.example/badges/data-structures.png", "type": "Image"}
    assert subject["result"][0]["resultDescription"] == achievement["resultDescription"][0]["id"]

    assert_reference_valid(credential)
    assert [c["id"] for c in issued_credentials.open_badges] == [credential["id"]]


@pytest.mark.parametrize("shape", ["parts", "document"])
def test_a_minimal_credential_validates_with_the_reference_library(
    http: FlaskClient, issuer: Issuer, auth: dict[str, str], shape: str
) -> None:
    achievement = {
        "id": "https://acme.example/achievements/minimal",
        "name": "Minimal",
        "description": "The least an achievement can say.",
        "criteria": {"narrative": "Be there."},
    }
    if shape == "parts":
        body: dict[str, Any] = {
            "issuer": "acme",
            "recipient": {"did": "did:example:minimal-learner"},
            "achievement": achievement,
        }
    else:
        body = {
            "issuer": "acme",
            "credential": {
                "@context": [VC_CONTEXT, OB3_CONTEXT],
                "type": ["VerifiableCredential", "OpenBadgeCredential"],
                "credentialSubject": {
                    "type": ["AchievementSubject"],
                    "id": "did:example:minimal-learner",
                    "achievement": {**achievement, "type": ["Achievement"]},
                },
            },
        }

    response = http.post("/api/v1/credentials", json=body, headers=auth)
    assert response.status_code == 201, json_of(response)
    credential: dict[str, Any] = json_of(response)["credential"]

    required = {"@context", "id", "type", "issuer", "validFrom", "credentialSubject"}
    assert required <= set(credential)
    assert set(credential) - required <= {"name", "credentialStatus", "status"}  # status: the JWT's Token Status List
    assert_reference_valid(credential)


def rejected_document(issuer: Issuer, clock: SettableClock) -> dict[str, Any]:
    """A complete VC 2.0 document the OB 3.0 schema rejects: no achievement criteria, a date that is no date-time."""
    return {
        "@context": [VC_CONTEXT, OB3_CONTEXT],
        "id": "urn:uuid:0b3c0b3c-0000-4000-8000-000000000422",
        "type": ["VerifiableCredential", "AchievementCredential"],
        "issuer": {"id": issuer.did, "type": ["Profile"], "name": issuer.name},
        "validFrom": format_datetime(clock.now()),
        "awardedDate": "last Tuesday",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "id": "did:example:learner",
            "achievement": {
                "id": "https://acme.example/achievements/no-criteria",
                "type": ["Achievement"],
                "name": "No criteria",
                "description": "Lacks the criteria the schema requires.",
            },
        },
    }


def test_a_document_the_schema_rejects_is_answered_422_with_pointers(
    http: FlaskClient, issuer: Issuer, auth: dict[str, str], clock: SettableClock
) -> None:
    document = rejected_document(issuer, clock)
    # The reference library rejects it too, at the same places.
    reference = {problem.split(": ")[1] for problem in schema_problems(document)}
    assert reference == {"/awardedDate", "/credentialSubject/achievement"}

    response = http.post("/api/v1/credentials", json={"issuer": "acme", "credential": document}, headers=auth)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = json_of(response)
    assert problem["status"] == 422
    pointers = {error["pointer"] for error in problem["errors"]}
    assert pointers == {"/credential" + pointer for pointer in reference}
    criteria_error = next(e for e in problem["errors"] if e["pointer"] == "/credential/credentialSubject/achievement")
    assert "criteria" in criteria_error["detail"]
    assert http.get("/api/v1/credentials", headers=auth).get_json()["items"] == []


class AcceptEverything:
    def errors(self, document: dict[str, Any]) -> list[FieldError]:
        return []


def test_the_recorder_catches_a_credential_that_slips_past_the_service(
    http: FlaskClient,
    issuer: Issuer,
    auth: dict[str, str],
    clock: SettableClock,
    container: Container,
    issued_credentials: IssuedCredentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the service's own schema check switched off, the invalid document is signed; the recorder sees it."""
    monkeypatch.setattr(container.issuing, "_schema", AcceptEverything())
    document = rejected_document(issuer, clock)

    response = http.post("/api/v1/credentials", json={"issuer": "acme", "credential": document}, headers=auth)
    assert response.status_code == 201, json_of(response)

    problems = issued_credentials.problems()
    for label in reference_validators():
        assert any(p.startswith(f"{document['id']}: {label}: /credentialSubject/achievement: ") for p in problems)
        assert any(p.startswith(f"{document['id']}: {label}: /awardedDate: ") for p in problems)
    # Issued on purpose: without this the recorder would (rightly) fail this test after it returns.
    issued_credentials.forget()


@pytest.mark.parametrize(
    ("valid_from", "valid"),
    [
        ("2026-03-14T15:09:26Z", True),
        ("2026-03-14t15:09:26.123456789+05:30", True),
        ("2016-12-31T23:59:60Z", True),  # a leap second
        ("2026-03-14T15:09:26", False),  # no offset
        ("2026-03-14 15:09:26Z", False),
        ("2026-02-30T15:09:26Z", False),
        ("2026-03-14T24:00:00Z", False),
        ("2026-03-14T15:09:26+24:00", False),
        ("2026-03-14", False),
    ],
)
def test_the_reference_check_enforces_rfc3339_date_times(valid_from: str, valid: bool) -> None:
    """The recorder's format checking is really on for `date-time` (the schemas' timestamps)."""
    credential = {
        "@context": [VC_CONTEXT, OB3_CONTEXT],
        "id": "urn:uuid:0b3c0b3c-0000-4000-8000-000000003339",
        "type": ["VerifiableCredential", "AchievementCredential"],
        "issuer": {"id": "did:web:issuer.test:issuers:acme", "type": ["Profile"]},
        "validFrom": valid_from,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "id": "did:example:learner",
            "achievement": {
                "id": "https://acme.example/achievements/time",
                "type": ["Achievement"],
                "name": "Time",
                "description": "Timestamps.",
                "criteria": {"narrative": "Tell the time."},
            },
        },
    }
    problems = schema_problems(credential)
    if valid:
        assert problems == []
    else:
        assert len(problems) == 2, problems  # one per schema copy
        assert all(": /validFrom: " in problem and "date-time" in problem for problem in problems), problems
