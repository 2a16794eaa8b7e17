"""A European Digital Credential (ELM 3.2, EDC application profile 1.2.0) from an Open Badges award.

The mapping follows docs/elm.md ("From an Open Badge"): the OB 3.0 parts of the request give the title,
description, achievement, credits, alignments, results and dates; the `europass` part gives what Open
Badges cannot say (the learner's name in clear, EQF level, ISCED-F field, mode, assessment…); the issuer
profile gives the organisation; the seal certificate gives the `eIDASIdentifier`. A mandatory element
nobody supplied is a 4xx naming it, before anything is rendered or sealed.

The envelope is VC 1.1 with the `edc-ap` context, as Europass ingests it: under VC 2.0 `issued` is not
defined and the shapes would fail.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ec_issuer.core.encoding import format_datetime
from ec_issuer.core.errors import FieldError, InvalidInput
from ec_issuer.core.vcdm import VC_V1_CONTEXT
from ec_issuer.credentials.commands import Alignment, IssueCredential
from ec_issuer.elm import vocabulary
from ec_issuer.elm.commands import Europass, Learner, LearningOutcome
from ec_issuer.elm.nodes import Media, Nodes
from ec_issuer.elm.shapes import GENERIC_FULL_PROFILE
from ec_issuer.elm.vocabulary import Concept
from ec_issuer.issuers.model import Issuer

EDC_AP_CONTEXT = "http://data.europa.eu/snb/model/context/edc-ap"
EDC_TYPES = ["VerifiableCredential", "EuropeanDigitalCredential"]
ESCO_SKILLS_SCHEME = "http://data.europa.eu/esco/concept-scheme/skills"
_ESCO_SKILL = re.compile(r"^http://data\.europa\.eu/esco/skill/[0-9a-f-]{36}$")
_EQF_URI = re.compile(r"^https?://data\.europa\.eu/snb/eqf/([1-8])$")

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Sealer:
    """The organisation named by the seal certificate, which Europass shows as the issuer's eIDAS identity."""

    organization_identifier: str  # the certificate's organizationIdentifier (2.5.4.97), e.g. NTRNL-12345678
    country: str  # the certificate's C, ISO 3166 alpha-2


@dataclass(frozen=True, slots=True)
class PageText:
    """What the rendered page shows, as resolved while building (labels, not keys)."""

    title: str
    learner_name: str
    awarding_body: str
    awarded_on: date
    description: str
    facts: list[tuple[str, str]]
    badge: Media | None
    logo: Media | None
    credential_id: str


# Draws the page image, the human-readable face of the credential that Europass shows.
PageRenderer = Callable[[PageText], Media]


@dataclass(frozen=True, slots=True)
class EdcInput:
    command: IssueCredential
    europass: Europass
    issuer: Issuer
    sealer: Sealer
    credential_id: str  # urn:credential:<uuid>
    issued_at: datetime
    render_page: PageRenderer


def credential_language(command: IssueCredential, europass: Europass) -> Concept:
    """The language the credential's texts are in: asked for, else the achievement's, else English."""
    if europass.language is not None:
        return vocabulary.language(europass.language, "/europass/language")
    in_language = command.achievement.inLanguage
    found = vocabulary.find_language(in_language) if in_language else None
    return found or vocabulary.language("en", "/europass/language")


def build_edc(edc: EdcInput) -> JsonObject:
    command, europass = edc.command, edc.europass
    language = credential_language(command, europass)
    nodes = Nodes(language.key)
    issuer = _organisation(nodes, edc.issuer, edc.sealer)
    title = command.name or command.achievement.name
    description = command.description or command.achievement.description
    valid_from = command.validFrom or edc.issued_at
    awarded = command.awardedDate or valid_from
    awarding = _awarding_process(nodes, edc.issuer, awarded)
    achievement: JsonObject = {
        "id": nodes.ids.next("learningAchievement"),
        "type": "LearningAchievement",
        "title": nodes.text(command.achievement.name),
        "description": nodes.text(command.achievement.description),
        "awardedBy": awarding,
        "specifiedBy": _specification(nodes, command, europass, language),
    }
    assessment = _assessment(nodes, command, europass, awarding)
    if assessment is not None:
        achievement["provenBy"] = assessment
    if command.creditsEarned is not None:
        achievement["creditReceived"] = nodes.credit_point(command.creditsEarned)
    notes = [*(europass.additionalNotes or []), *([command.narrative] if command.narrative else [])]
    if notes:
        achievement["additionalNote"] = [nodes.note(text) for text in notes]

    person = _person(nodes, command, europass.learner)
    page = edc.render_page(
        PageText(
            title=title,
            learner_name=person["fullName"][language.key],
            awarding_body=edc.issuer.name,
            awarded_on=awarded.date(),
            description=description,
            facts=_page_facts(achievement, language.key),
            badge=embedded_image(command.achievement.image),
            logo=embedded_image(edc.issuer.image),
            credential_id=edc.credential_id,
        )
    )
    credential: JsonObject = {
        "@context": [VC_V1_CONTEXT, EDC_AP_CONTEXT],
        "id": edc.credential_id,
        "type": EDC_TYPES,
        "credentialSchema": {"id": GENERIC_FULL_PROFILE, "type": "ShaclValidator2017"},
        "credentialProfiles": vocabulary.concept("credential-profile", "generic", "/europass").to_json(),
        "displayParameter": _display(nodes, title, description, language, page),
        "credentialSubject": {**person, "hasClaim": achievement},
        "issuer": issuer,
        "issuanceDate": format_datetime(edc.issued_at),
        "issued": format_datetime(edc.issued_at),
        "validFrom": format_datetime(valid_from),
    }
    if command.validUntil is not None:
        credential["expirationDate"] = format_datetime(command.validUntil)
    if europass.certificateNumber is not None:
        credential["identifier"] = nodes.identifier(europass.certificateNumber, "Certificate number")
    return credential


def _page_facts(achievement: JsonObject, lang: str) -> list[tuple[str, str]]:
    """The lines under the title: what a reader of the page looks for first (Annex I elements among them)."""
    spec: JsonObject = achievement["specifiedBy"]
    facts: list[tuple[str, str]] = []
    if "creditPoint" in spec:
        facts.append(("Credits", f"{spec['creditPoint']['point']} ECTS"))
    if "volumeOfLearning" in spec:
        facts.append(("Workload", _readable_duration(spec["volumeOfLearning"])))
    if "eqfLevel" in spec:
        facts.append(("EQF level", spec["eqfLevel"]["prefLabel"]["en"].removeprefix("Level ")))
    if "thematicArea" in spec:
        facts.append(("Field", "; ".join(area["prefLabel"]["en"] for area in spec["thematicArea"])))
    if "mode" in spec:
        facts.append(("Mode", spec["mode"]["prefLabel"]["en"]))
    if "provenBy" in achievement:
        facts.append(("Grade", achievement["provenBy"]["grade"]["noteLiteral"][lang]))
    outcomes = [outcome["title"][lang] for outcome in spec.get("learningOutcome", [])]
    if outcomes:
        facts.append(("Learning outcomes", "; ".join(outcomes)))
    return facts


def _readable_duration(duration: str) -> str:
    hours = re.fullmatch(r"PT(\d+)H", duration)
    return f"{hours.group(1)} hours" if hours else duration


def _display(nodes: Nodes, title: str, description: str, language: Concept, page: Media) -> JsonObject:
    display: JsonObject = {
        "id": nodes.ids.next("displayParameter"),
        "type": "DisplayParameter",
        "title": nodes.text(title),
        "description": nodes.text(description),
        "language": [language.to_json()],
        "primaryLanguage": language.to_json(),
        "individualDisplay": [
            {
                "id": nodes.ids.next("individualDisplay"),
                "type": "IndividualDisplay",
                "language": language.to_json(),
                "displayDetail": [
                    {
                        "id": nodes.ids.next("displayDetail"),
                        "type": "DisplayDetail",
                        "page": 1,
                        "image": nodes.media(page),
                    }
                ],
            }
        ],
    }
    return display


def _organisation(nodes: Nodes, issuer: Issuer, sealer: Sealer) -> JsonObject:
    country = _issuer_country(issuer, sealer)
    organisation: JsonObject = {
        "id": issuer.did,
        "type": "Organisation",
        "legalName": nodes.text(issuer.name),
        "location": nodes.location(country),
        "eIDASIdentifier": nodes.legal_identifier(
            sealer.organization_identifier, vocabulary.country(sealer.country, "/issuer")
        ),
    }
    if issuer.url:
        organisation["homepage"] = nodes.web_resource(issuer.url)
    if issuer.email:
        organisation["contactPoint"] = _contact_point(nodes, issuer.email)
    logo = embedded_image(issuer.image)
    if logo is not None:
        organisation["logo"] = nodes.media(logo)
    return organisation


def _issuer_country(issuer: Issuer, sealer: Sealer) -> Concept:
    code = issuer.address.country if issuer.address else None
    if code is None:
        return vocabulary.country(sealer.country, "/issuer")
    found = vocabulary.find_country(code)
    if found is None:
        raise InvalidInput(
            f"issuer '{issuer.slug}' has address country {code!r}, which is not an ISO 3166 code in the vocabulary",
            [FieldError("/issuer", "set the issuer's address country to an ISO 3166 alpha-2 code such as NL")],
        )
    return found


def _awarding_process(nodes: Nodes, issuer: Issuer, awarded: datetime) -> JsonObject:
    return {
        "id": nodes.ids.next("awardingProcess"),
        "type": "AwardingProcess",
        "awardingBody": issuer.did,
        "awardingDate": format_datetime(awarded),
    }


def _contact_point(nodes: Nodes, email: str) -> JsonObject:
    return {
        "id": nodes.ids.next("contactPoint"),
        "type": "ContactPoint",
        "emailAddress": {"id": f"mailto:{email}", "type": "Mailbox"},
    }


def _person(nodes: Nodes, command: IssueCredential, learner: Learner) -> JsonObject:
    person: JsonObject = {"id": command.recipient.did or nodes.ids.next("person"), "type": "Person"}
    full_name = learner.fullName or f"{learner.givenName} {learner.familyName}"
    person["fullName"] = nodes.text(full_name)
    if learner.givenName:
        person["givenName"] = nodes.text(learner.givenName)
    if learner.familyName:
        person["familyName"] = nodes.text(learner.familyName)
    if learner.dateOfBirth:
        person["dateOfBirth"] = _midnight(learner.dateOfBirth)
    if learner.nationalId:
        country = vocabulary.country(learner.nationalId.country, "/europass/learner/nationalId/country")
        person["nationalID"] = nodes.legal_identifier(learner.nationalId.notation, country)
    if learner.identifiers:
        person["identifier"] = [nodes.identifier(i.notation, i.schemeName) for i in learner.identifiers]
    if command.recipient.email:
        person["contactPoint"] = _contact_point(nodes, command.recipient.email)
    return person


def _specification(nodes: Nodes, command: IssueCredential, europass: Europass, language: Concept) -> JsonObject:
    achievement = command.achievement
    eqf_level = europass.eqfLevel or _eqf_from_alignments(achievement.alignment or [])
    qualification = eqf_level is not None or europass.isPartialQualification is not None
    spec: JsonObject = {
        "id": achievement.id,
        "type": "Qualification" if qualification else "LearningAchievementSpecification",
        "title": nodes.text(achievement.name),
        "description": nodes.text(achievement.description),
        "language": language.to_json(),
    }
    summary = europass.learningOutcomeSummary or achievement.criteria.narrative
    if summary:
        spec["learningOutcomeSummary"] = nodes.note(summary)
    outcomes = _learning_outcomes(nodes, europass.learningOutcomes, achievement.alignment or [])
    if outcomes:
        spec["learningOutcome"] = outcomes
    ects = europass.ects if europass.ects is not None else achievement.creditsAvailable
    if ects is not None:
        spec["creditPoint"] = nodes.credit_point(ects)
    if europass.volumeOfLearning:
        spec["volumeOfLearning"] = europass.volumeOfLearning
    if eqf_level is not None:
        spec["eqfLevel"] = vocabulary.concept("eqf", str(eqf_level), "/europass/eqfLevel").to_json()
    areas = _thematic_areas(europass, achievement.fieldOfStudy)
    if areas:
        spec["thematicArea"] = areas
    if europass.mode:
        spec["mode"] = vocabulary.concept("mode", europass.mode, "/europass/mode").to_json()
    if europass.learningSetting:
        setting = vocabulary.concept("learning-setting", europass.learningSetting, "/europass/learningSetting")
        spec["learningSetting"] = setting.to_json()
    if europass.learningOpportunityType:
        kind = vocabulary.concept(
            "learning-opportunity", europass.learningOpportunityType, "/europass/learningOpportunityType"
        )
        spec["dcType"] = kind.to_json()
    if europass.entryRequirements:
        spec["entryRequirement"] = nodes.note(europass.entryRequirements)
    if europass.isPartialQualification is not None:
        spec["isPartialQualification"] = europass.isPartialQualification
    notes = [
        *([f"Quality assurance: {europass.qualityAssurance}"] if europass.qualityAssurance else []),
        *([f"Stackability: {europass.stackability}"] if europass.stackability else []),
    ]
    if notes:
        spec["additionalNote"] = [nodes.note(text) for text in notes]
    return spec


def _learning_outcomes(
    nodes: Nodes, outcomes: list[LearningOutcome] | None, alignments: list[Alignment]
) -> list[JsonObject]:
    if outcomes is not None:
        return [_outcome(nodes, o.title, [(s.uri, s.label) for s in o.escoSkills or []]) for o in outcomes]
    # Without explicit outcomes, each alignment that is not a level becomes one: ESCO skills as references.
    built: list[JsonObject] = []
    for alignment in alignments:
        if _eqf_level_of(alignment) is not None:
            continue
        skills = [(alignment.targetUrl, alignment.targetName)] if _ESCO_SKILL.match(alignment.targetUrl) else []
        built.append(_outcome(nodes, alignment.targetName, skills))
    return built


def _outcome(nodes: Nodes, title: str, skills: list[tuple[str, str]]) -> JsonObject:
    outcome: JsonObject = {
        "id": nodes.ids.next("learningOutcome"),
        "type": "LearningOutcome",
        "title": nodes.text(title),
    }
    if skills:
        outcome["relatedESCOSkill"] = [
            {
                "id": uri,
                "type": "Concept",
                "inScheme": {"id": ESCO_SKILLS_SCHEME, "type": "ConceptScheme"},
                "prefLabel": nodes.text(label),
            }
            for uri, label in skills
        ]
    return outcome


def _eqf_from_alignments(alignments: list[Alignment]) -> int | None:
    return next((level for level in map(_eqf_level_of, alignments) if level is not None), None)


def _eqf_level_of(alignment: Alignment) -> int | None:
    by_uri = _EQF_URI.match(alignment.targetUrl)
    if by_uri:
        return int(by_uri.group(1))
    framework = (alignment.targetFramework or "").upper()
    code = (alignment.targetCode or "").strip()
    if "EQF" in framework and code.isdigit() and 1 <= int(code) <= 8:
        return int(code)
    return None


def _thematic_areas(europass: Europass, field_of_study: str | None) -> list[JsonObject]:
    if europass.thematicAreas is not None:
        return [
            vocabulary.concept("isced-f", code, f"/europass/thematicAreas/{position}").to_json()
            for position, code in enumerate(europass.thematicAreas)
        ]
    found = vocabulary.find("isced-f", field_of_study.strip()) if field_of_study else None
    return [found.to_json()] if found else []


def _assessment(nodes: Nodes, command: IssueCredential, europass: Europass, awarding: JsonObject) -> JsonObject | None:
    assessment = europass.assessment
    first_result = next((r.value for r in command.results or [] if r.value), None)
    if assessment is None:
        return None
    grade = assessment.grade or first_result
    if grade is None:
        raise InvalidInput(
            "an ELM assessment needs a grade",
            [FieldError("/europass/assessment/grade", "required (e.g. 'Pass'), or give results[0].value")],
        )
    spec: JsonObject = {
        "id": nodes.ids.next("learningAssessmentSpec"),
        "type": "LearningAssessmentSpecification",
        "title": nodes.text(assessment.title),
    }
    if assessment.type:
        spec["dcType"] = nodes.own_concept("assessment-type", assessment.type)
    if assessment.mode:
        spec["mode"] = vocabulary.concept("mode", assessment.mode, "/europass/assessment/mode").to_json()
    if assessment.gradingScheme:
        scheme: JsonObject = {
            "id": nodes.ids.next("gradingScheme"),
            "type": "GradingScheme",
            "title": nodes.text(assessment.gradingScheme),
        }
        if assessment.gradingSchemeDescription:
            scheme["description"] = nodes.text(assessment.gradingSchemeDescription)
        spec["gradingScheme"] = scheme
    proven: JsonObject = {
        "id": nodes.ids.next("learningAssessment"),
        "type": "LearningAssessment",
        "title": nodes.text(assessment.title),
        "awardedBy": awarding,
        "grade": nodes.note(grade),
        "specifiedBy": spec,
    }
    if assessment.idVerification:
        verification = vocabulary.concept(
            "supervision", assessment.idVerification, "/europass/assessment/idVerification"
        )
        proven["idVerification"] = verification.to_json()
    return proven


def embedded_image(uri: str | None) -> Media | None:
    """The image of a `data:` URI (PNG or JPEG, base64); None for anything else, which is never fetched."""
    if uri is None:
        return None
    match = re.match(r"^data:(image/(?:png|jpeg));base64,([A-Za-z0-9+/=\s]+)$", uri)
    if match is None:
        return None
    try:
        return Media(base64.b64decode(match.group(2), validate=False), match.group(1))
    except (binascii.Error, ValueError):
        return None


def _midnight(day: date) -> str:
    return format_datetime(datetime(day.year, day.month, day.day, tzinfo=UTC))
