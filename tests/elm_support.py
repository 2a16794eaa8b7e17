"""Shared pieces of the European Digital Credential tests: a test eSeal and a full award request."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from PIL import Image

from ec_issuer.config import ElmSealSettings
from ec_issuer.custody.eseal import DevelopmentESealFiles, write_development_eseal


def eseal_settings(files: DevelopmentESealFiles, *, trusted: bool = True) -> ElmSealSettings:
    password = files.password_file.read_text(encoding="utf-8").strip()
    return ElmSealSettings(files.pkcs12, password, None, files.ca_certificate if trusted else None)


def write_test_eseal(directory: Path) -> DevelopmentESealFiles:
    return write_development_eseal(directory)


def badge_data_uri() -> str:
    image = Image.new("RGB", (120, 120), "#1d3f73")
    for x in range(30, 90):
        for y in range(30, 90):
            image.putpixel((x, y), (240, 190, 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def micro_credential_body(issuer: str = "acme", **overrides: Any) -> dict[str, Any]:
    """An award asking for both an Open Badge and an EDC, with every EU micro-credential element (Annex I)."""
    body: dict[str, Any] = {
        "issuer": issuer,
        "recipient": {"email": "maria.jansen@example.org"},
        "produce": ["open-badges-3.0", "elm-3.2"],
        "achievement": {
            "id": "https://acme.example/achievements/data-science-fundamentals",
            "name": "Data Science Fundamentals",
            "description": "A short programme on data analysis with Python.",
            "criteria": {"narrative": "Analyse a real data set and defend the analysis."},
            "image": badge_data_uri(),
            "achievementType": "MicroCredential",
            "creditsAvailable": 5,
            "fieldOfStudy": "0613",
            "inLanguage": "en",
            "alignment": [
                {
                    "targetName": "work in teams",
                    "targetUrl": "http://data.europa.eu/esco/skill/60c78287-22eb-4103-9c8c-28deaa460da0",
                    "targetFramework": "ESCO",
                },
                {
                    "targetName": "EQF level 6",
                    "targetUrl": "http://data.europa.eu/snb/eqf/6",
                    "targetFramework": "EQF",
                    "targetCode": "6",
                },
            ],
        },
        "validFrom": "2026-11-30T09:00:00Z",
        "awardedDate": "2026-11-28T15:00:00Z",
        "results": [{"value": "8.5"}],
        "creditsEarned": 5,
        "europass": {
            "learner": {
                "givenName": "Maria",
                "familyName": "Jansen",
                "dateOfBirth": "2001-02-03",
                "nationalId": {"notation": "NL-123456789", "country": "NL"},
                "identifiers": [{"notation": "s1234567", "schemeName": "Student number"}],
            },
            "learningOutcomes": [
                {
                    "title": "Clean and explore a data set",
                    "escoSkills": [
                        {
                            "uri": "http://data.europa.eu/esco/skill/fcb2b5f4-3a64-42f2-987a-073bea986104",
                            "label": "business knowledge",
                        }
                    ],
                },
                {"title": "Communicate results to a lay audience"},
            ],
            "learningOutcomeSummary": "Learners clean, explore and model data and explain their results.",
            "eqfLevel": 6,
            "thematicAreas": ["0613", "0542"],
            "ects": 5,
            "volumeOfLearning": "PT140H",
            "mode": "online",
            "learningSetting": "non-formal",
            "learningOpportunityType": "short-learning-programme",
            "entryRequirements": "Secondary school mathematics.",
            "isPartialQualification": False,
            "assessment": {
                "title": "Final project",
                "type": "project defence",
                "grade": "8.5",
                "gradingScheme": "Dutch 1-10 scale",
                "gradingSchemeDescription": "5.5 or higher is a pass.",
                "mode": "online",
                "idVerification": "unsupervised-without-id-verification",
            },
            "qualityAssurance": "Internal quality assurance by the examination board.",
            "stackability": "Counts towards the Data Science minor.",
            "additionalNotes": ["Offered in cooperation with the city library."],
            "certificateNumber": "DSF-2026-0042",
        },
    }
    body.update(overrides)
    return body
