"""The European Learning Model part of an issue request: what an Open Badge does not say but a European
Digital Credential (and an EU micro-credential, Council Recommendation 2022/C 243/02, Annex I) needs.

Concepts are named by the keys of the vendored vocabulary (`elm/vocabulary.py`), never by free text;
everything else the credential holds comes from the Open Badges part of the request or the issuer.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ec_issuer.core.validation import LongText, Name, ShortText

_ESCO_SKILL = re.compile(r"^http://data\.europa\.eu/esco/skill/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
# ISO 8601 durations as ELM's volumeOfLearning uses them (PT60H, P2M, P1Y6M, P1DT12H).
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")


def _esco_skill(value: str) -> str:
    if not _ESCO_SKILL.match(value):
        raise ValueError("must be an ESCO skill URI, http://data.europa.eu/esco/skill/<uuid>")
    return value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError("must be an ISO 8601 duration such as PT60H or P2M")
    return value


EscoSkillUri = Annotated[str, AfterValidator(_esco_skill)]
Duration = Annotated[str, Field(max_length=40), AfterValidator(_duration)]
CodeKey = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=20_000)


class NationalId(_Strict):
    notation: ShortText
    country: CodeKey = Field(description="ISO 3166 alpha-2 or alpha-3 code of the issuing country")


class LearnerIdentifier(_Strict):
    notation: ShortText
    schemeName: Name = Field(description="e.g. 'Student number'")


class Learner(_Strict):
    """Europass shows the learner by name: a hashed Open Badges identity cannot be put in the file."""

    fullName: Name | None = None
    givenName: Name | None = None
    familyName: Name | None = None
    dateOfBirth: date | None = None
    nationalId: NationalId | None = None
    identifiers: list[LearnerIdentifier] | None = Field(default=None, max_length=10)

    @model_validator(mode="after")
    def _named(self) -> Learner:
        if self.fullName is None and (self.givenName is None or self.familyName is None):
            raise ValueError("give 'fullName', or both 'givenName' and 'familyName'")
        return self


class EscoSkill(_Strict):
    uri: EscoSkillUri
    label: Name = Field(description="The skill's ESCO preferred label, shown by Europass")


class LearningOutcome(_Strict):
    title: Name
    description: LongText | None = None
    escoSkills: list[EscoSkill] | None = Field(default=None, max_length=50)


class Assessment(_Strict):
    """How the learning was assessed (Annex I element 9), and the grade when there is one."""

    title: Name
    type: Name | None = Field(default=None, description="Type of assessment, e.g. 'written exam', 'portfolio'")
    grade: ShortText | None = None
    gradingScheme: Name | None = None
    gradingSchemeDescription: LongText | None = None
    mode: Literal["online", "blended"] | None = None
    idVerification: Literal["unsupervised-without-id-verification"] | None = None


class Europass(_Strict):
    learner: Learner
    language: CodeKey | None = Field(
        default=None,
        description="ISO 639-1 code of the credential's text (default: the achievement's inLanguage, else en)",
    )
    learningOutcomes: list[LearningOutcome] | None = Field(
        default=None,
        max_length=100,
        description="Default: the achievement's alignments (ESCO skill alignments become ESCO references)",
    )
    learningOutcomeSummary: LongText | None = Field(default=None, description="Default: criteria.narrative")
    eqfLevel: int | None = Field(
        default=None, ge=1, le=8, description="Default: an alignment whose targetFramework is EQF"
    )
    thematicAreas: list[CodeKey] | None = Field(
        default=None, max_length=10, description="ISCED-F 2013 field codes; default: fieldOfStudy when it is one"
    )
    ects: float | None = Field(default=None, ge=0, le=1_000, description="Default: achievement.creditsAvailable")
    volumeOfLearning: Duration | None = Field(default=None, description="Notional workload, e.g. PT60H")
    mode: Literal["online", "blended"] | None = None
    learningSetting: Literal["formal", "non-formal"] | None = None
    learningOpportunityType: Literal["short-learning-programme"] | None = None
    entryRequirements: LongText | None = None
    isPartialQualification: bool | None = None
    assessment: Assessment | None = None
    qualityAssurance: LongText | None = Field(default=None, description="Annex I element 11, shown as a note")
    stackability: LongText | None = Field(default=None, description="Integration or stackability options")
    additionalNotes: list[LongText] | None = Field(default=None, max_length=20)
    certificateNumber: ShortText | None = None
