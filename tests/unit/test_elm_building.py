"""European Digital Credentials from Open Badge awards: mapping, the EU micro-credential elements, the SHACL
gate (with its vacuous-pass guard) and the official samples."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ec_issuer.core.errors import InvalidInput
from ec_issuer.credentials.commands import IssueCredential
from ec_issuer.elm.building import EdcInput, PageText, Sealer, build_edc
from ec_issuer.elm.nodes import Media
from ec_issuer.elm.shapes import check_credential
from ec_issuer.issuers.model import Address, Issuer
from tests.elm_support import micro_credential_body

SAMPLES = Path(__file__).parent.parent / "fixtures" / "elm"
ISSUED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ISSUER = Issuer(
    slug="acme",
    did="did:web:issuer.test:issuers:acme",
    name="ACME University",
    url="https://acme.example",
    email="badges@acme.example",
    address=Address(locality="Utrecht", country="NL"),
)
SEALER = Sealer("NTRNL-12345678", "NL")


class _Pages:
    def __init__(self) -> None:
        self.seen: list[PageText] = []

    def __call__(self, text: PageText) -> Media:
        self.seen.append(text)
        buffer = io.BytesIO()
        Image.new("RGB", (794, 1123), "white").save(buffer, "PNG")
        return Media(buffer.getvalue(), "image/png")


def _build(body: dict[str, Any], issuer: Issuer = ISSUER) -> tuple[dict[str, Any], _Pages]:
    command = IssueCredential.model_validate(body)
    assert command.europass is not None
    pages = _Pages()
    document = build_edc(
        EdcInput(
            command,
            command.europass,
            issuer,
            SEALER,
            "urn:credential:00000000-0000-4000-8000-000000000001",
            ISSUED,
            pages,
        )
    )
    return document, pages


def _texts(node: dict[str, Any]) -> list[str]:
    return list(node.values())


def test_a_micro_credential_conforms_to_edc_generic_full() -> None:
    document, _ = _build(micro_credential_body())
    report = check_credential(document)
    assert report.conforms, [v.describe() for v in report.violations]
    assert report.credential_nodes == 1


def test_every_annex_one_element_is_in_the_credential() -> None:
    """Council Recommendation 2022/C 243/02, Annex I, mandatory elements 1 to 11 (and the optional ones we take)."""
    document, _ = _build(micro_credential_body())
    person = document["credentialSubject"]
    claim = person["hasClaim"]
    spec = claim["specifiedBy"]
    assessment = claim["provenBy"]
    # 1 learner identification
    assert person["fullName"] == {"en": "Maria Jansen"}
    assert person["givenName"] == {"en": "Maria"} and person["familyName"] == {"en": "Jansen"}
    assert person["dateOfBirth"] == "2001-02-03T00:00:00Z"
    assert person["nationalID"]["notation"] == "NL-123456789"
    assert person["identifier"][0]["notation"] == "s1234567"
    assert person["contactPoint"]["emailAddress"]["id"] == "mailto:maria.jansen@example.org"
    # 2 title
    assert claim["title"] == spec["title"] == {"en": "Data Science Fundamentals"}
    assert document["displayParameter"]["title"] == {"en": "Data Science Fundamentals"}
    # 3 country of the issuer, 4 awarding body
    issuer = document["issuer"]
    assert issuer["location"]["address"]["countryCode"]["id"].endswith("/country/NLD")
    assert issuer["legalName"] == {"en": "ACME University"}
    assert claim["awardedBy"]["awardingBody"] == issuer["id"] == ISSUER.did
    assert issuer["eIDASIdentifier"]["notation"] == "NTRNL-12345678"
    # 5 date of issuing
    assert document["issued"] == document["issuanceDate"] == "2026-12-01T10:00:00Z"
    assert claim["awardedBy"]["awardingDate"] == "2026-11-28T15:00:00Z"
    assert document["validFrom"] == "2026-11-30T09:00:00Z"
    # 6 learning outcomes (with ESCO references)
    outcomes = spec["learningOutcome"]
    assert [o["title"]["en"] for o in outcomes] == [
        "Clean and explore a data set",
        "Communicate results to a lay audience",
    ]
    assert outcomes[0]["relatedESCOSkill"][0]["inScheme"]["id"] == "http://data.europa.eu/esco/concept-scheme/skills"
    assert spec["learningOutcomeSummary"]["noteLiteral"]["en"].startswith("Learners clean")
    # 7 notional workload
    assert spec["creditPoint"]["point"] == "5"
    assert spec["creditPoint"]["framework"]["id"] == "http://data.europa.eu/snb/education-credit/6fcec5c5af"
    assert spec["volumeOfLearning"] == "PT140H"
    assert claim["creditReceived"]["point"] == "5"
    # 8 level
    assert spec["eqfLevel"]["id"] == "http://data.europa.eu/snb/eqf/6"
    # 9 type of assessment (and grade, supervision)
    assert assessment["specifiedBy"]["dcType"]["prefLabel"] == {"en": "project defence"}
    assert assessment["grade"]["noteLiteral"] == {"en": "8.5"}
    assert assessment["specifiedBy"]["gradingScheme"]["title"] == {"en": "Dutch 1-10 scale"}
    assert assessment["idVerification"]["id"].endswith("/supervision-verification/c598449d64")
    # 10 form of participation
    assert spec["mode"]["id"] == "http://data.europa.eu/snb/learning-assessment/920fbb3cbe"
    assert spec["learningSetting"]["id"] == "http://data.europa.eu/snb/learning-setting/e207a81fc7"
    # 11 quality assurance, and the optional prerequisites, stackability, further information
    notes = [note["noteLiteral"]["en"] for note in spec["additionalNote"]]
    assert "Quality assurance: Internal quality assurance by the examination board." in notes
    assert "Stackability: Counts towards the Data Science minor." in notes
    assert spec["entryRequirement"]["noteLiteral"] == {"en": "Secondary school mathematics."}
    assert spec["isPartialQualification"] is False
    assert [n["noteLiteral"]["en"] for n in claim["additionalNote"]] == [
        "Offered in cooperation with the city library."
    ]
    assert [a["id"].rsplit("/", 1)[1] for a in spec["thematicArea"]] == ["0613", "0542"]
    assert spec["dcType"]["id"].endswith("/learning-opportunity/74a4a268e8")
    assert document["identifier"]["notation"] == "DSF-2026-0042"


def test_open_badge_fields_map_when_the_europass_part_leaves_them_out() -> None:
    """OB3 -> EDC: alignments become outcomes (ESCO skills as references) and the EQF level, fieldOfStudy the
    thematic area, creditsAvailable the ECTS points, criteria the outcome summary, results[0] the grade."""
    body = micro_credential_body()
    europass = body["europass"]
    for name in ("learningOutcomes", "learningOutcomeSummary", "eqfLevel", "thematicAreas", "ects"):
        del europass[name]
    del europass["assessment"]["grade"]
    document, _ = _build(body)
    spec = document["credentialSubject"]["hasClaim"]["specifiedBy"]
    assert spec["id"] == body["achievement"]["id"]
    assert [o["title"]["en"] for o in spec["learningOutcome"]] == ["work in teams"]
    skill = spec["learningOutcome"][0]["relatedESCOSkill"][0]
    assert skill["id"] == "http://data.europa.eu/esco/skill/60c78287-22eb-4103-9c8c-28deaa460da0"
    assert spec["eqfLevel"]["id"] == "http://data.europa.eu/snb/eqf/6"
    assert [a["id"] for a in spec["thematicArea"]] == ["http://data.europa.eu/snb/isced-f/0613"]
    assert spec["creditPoint"]["point"] == "5"
    assert spec["learningOutcomeSummary"]["noteLiteral"]["en"] == body["achievement"]["criteria"]["narrative"]
    assert document["credentialSubject"]["hasClaim"]["provenBy"]["grade"]["noteLiteral"] == {"en": "8.5"}
    assert check_credential(document).conforms


def test_the_page_shows_what_the_credential_says() -> None:
    _, pages = _build(micro_credential_body())
    (page,) = pages.seen
    assert page.learner_name == "Maria Jansen"
    assert page.title == "Data Science Fundamentals"
    assert page.awarding_body == "ACME University"
    assert page.badge is not None and page.badge.media_type == "image/png"
    facts = dict(page.facts)
    assert facts["Credits"] == "5 ECTS"
    assert facts["EQF level"] == "6"
    assert facts["Workload"] == "140 hours"
    assert facts["Grade"] == "8.5"


def test_the_smallest_europass_part_still_conforms() -> None:
    body = {
        "issuer": "acme",
        "recipient": {"did": "did:example:learner"},
        "produce": ["elm-3.2"],
        "achievement": {
            "id": "https://acme.example/achievements/a",
            "name": "A",
            "description": "B",
            "criteria": {"narrative": "C"},
        },
        "europass": {"learner": {"fullName": "Ana Andromeda"}},
    }
    document, _ = _build(body, Issuer(slug="acme", did=ISSUER.did, name="ACME University"))
    assert document["credentialSubject"]["id"] == "did:example:learner"
    # Without an address, the issuer's country comes from the seal certificate.
    assert document["issuer"]["location"]["address"]["countryCode"]["id"].endswith("/country/NLD")
    assert document["credentialSubject"]["hasClaim"]["specifiedBy"]["type"] == "LearningAchievementSpecification"
    assert check_credential(document).conforms


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda e: e["learner"].pop("givenName"), "/europass/learner"),
        (lambda e: e.update(thematicAreas=["9999"]), "/europass/thematicAreas/0"),
        (lambda e: e.update(language="xx"), "/europass/language"),
        (lambda e: e["learner"]["nationalId"].update(country="ZZ"), "/europass/learner/nationalId/country"),
        (lambda e: e.update(volumeOfLearning="140 hours"), "/europass/volumeOfLearning"),
        (
            lambda e: e["learningOutcomes"][0]["escoSkills"][0].update(uri="https://example.org/skill"),
            "/europass/learningOutcomes/0/escoSkills/0/uri",
        ),
    ],
)
def test_a_missing_or_unknown_element_is_refused_with_its_pointer(change: Any, pointer: str) -> None:
    from ec_issuer.core.validation import parse_command

    body = micro_credential_body()
    change(body["europass"])
    with pytest.raises(InvalidInput) as raised:
        command = parse_command(IssueCredential, body)
        _build(command.model_dump(mode="json", exclude_none=True))
    assert any(error.pointer.startswith(pointer) for error in raised.value.errors), raised.value.errors


def test_an_assessment_without_any_grade_is_refused() -> None:
    body = micro_credential_body()
    del body["europass"]["assessment"]["grade"]
    del body["results"]
    with pytest.raises(InvalidInput) as raised:
        _build(body)
    assert [e.pointer for e in raised.value.errors] == ["/europass/assessment/grade"]


def test_an_issuer_country_outside_the_vocabulary_is_refused() -> None:
    issuer = Issuer(slug="acme", did=ISSUER.did, name="ACME", address=Address(country="Narnia"))
    with pytest.raises(InvalidInput) as raised:
        _build(micro_credential_body(), issuer)
    assert [e.pointer for e in raised.value.errors] == ["/issuer"]


def test_removing_a_mandatory_element_fails_the_shapes() -> None:
    document, _ = _build(micro_credential_body())
    for path in (("issued",), ("issuer", "eIDASIdentifier"), ("displayParameter", "primaryLanguage")):
        broken = copy.deepcopy(document)
        target = broken
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        report = check_credential(broken)
        assert not report.conforms, path


def test_a_credential_the_shapes_would_not_target_is_caught_by_the_vacuous_pass_guard() -> None:
    """SHACL "conforms" when no shape finds its target: here the EDC type is gone, everything else stays."""
    document, _ = _build(micro_credential_body())
    document["type"] = ["VerifiableCredential"]
    report = check_credential(document)
    assert report.credential_nodes == 0
    assert not report.conforms
    assert any("exactly one node typed" in v.message for v in report.violations)


def test_a_credential_without_type_is_refused_before_the_shapes_run() -> None:
    # The VC 1.1 context defines credentialSubject, issuer… only inside the VerifiableCredential type: without
    # a type they would silently vanish from the RDF, which JSON-LD safe mode refuses.
    document, _ = _build(micro_credential_body())
    del document["type"]
    with pytest.raises(InvalidInput, match="not safe to sign"):
        check_credential(document)


def _payload_of(name: str) -> dict[str, Any]:
    document = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    if "payload" in document:
        return json.loads(document["payload"])
    if "credential" in document and "@context" not in document:
        return document["credential"]
    return document


@pytest.mark.parametrize("name", ["Sample-CertOfPart-signed.jsonld", "Sample-MC-Annex1-signed.jsonld"])
def test_the_official_sealed_samples_conform(name: str) -> None:
    report = check_credential(_payload_of(name))
    assert report.conforms, [v.describe() for v in report.violations]


@pytest.mark.parametrize(
    "name",
    [
        "Sample-CertOfPart-unsigned.jsonld",
        "Sample-CertOfPart-unsigned-uploadable.json",
        "Sample-MC-Annex1-unsigned.jsonld",
        "Sample-MC-Annex1-unsigned-uploadable.json",
    ],
)
def test_the_official_unsigned_samples_lack_exactly_what_sealing_adds(name: str) -> None:
    report = check_credential(_payload_of(name))
    paths = sorted((v.path or "").rsplit("/", 1)[-1].rsplit("#", 1)[-1] for v in report.violations)
    # `issued` is missing on the credential; the issuer lacks its eIDAS identifier, which fails the issuer
    # node shape as well: the three violations the reference set records, and nothing else.
    assert paths == ["eidasLegalIdentifier", "issued", "issuer"], [v.describe() for v in report.violations]


@pytest.mark.parametrize("name", ["Sample-CertOfPart-unsigned.jsonld", "Sample-MC-Annex1-unsigned.jsonld"])
def test_the_official_unsigned_samples_conform_once_given_what_sealing_adds(name: str) -> None:
    document = _payload_of(name)
    document["issued"] = document["issuanceDate"] = "2026-12-01T10:00:00Z"
    issuer = document["issuer"]
    issuer["eIDASIdentifier"] = {
        "id": "urn:epass:legalIdentifier:eidas",
        "type": "LegalIdentifier",
        "notation": SEALER.organization_identifier,
        "spatial": {
            "id": "http://publications.europa.eu/resource/authority/country/NLD",
            "type": "Concept",
            "inScheme": {"id": "http://publications.europa.eu/resource/authority/country", "type": "ConceptScheme"},
            "prefLabel": {"en": "Netherlands"},
        },
    }
    report = check_credential(document)
    assert report.conforms, [v.describe() for v in report.violations]
