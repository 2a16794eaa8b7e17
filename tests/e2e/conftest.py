"""End-to-end fixtures: every Open Badges 3.0 credential an e2e test issues must satisfy the official schema.

An autouse fixture wraps `container.issuing.issue` in each test that uses the `container` fixture and records
the payload of every credential issued (over HTTP, the CLI runner or directly). After the test body passes,
each recorded OB 3.0 credential is validated with the reference Python `jsonschema` library, independently
of the jsonschema-rs validator the service itself uses, against two copies of the AchievementCredential
schema: the one the service vendors, and the strict 2024-09 variant in tests/fixtures/ob3/ that requires
arrays where the newer copy also accepts single values. Any violation fails the test.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Generator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft201909Validator, FormatChecker

from ec_issuer.access.model import ApiClient
from ec_issuer.bootstrap import Container
from ec_issuer.core.unit_of_work import UnitOfWork
from ec_issuer.credentials.commands import IssueCredential, IssueRequest
from ec_issuer.credentials.issuing import IssueOutcome
from ec_issuer.credentials.model import IssuedCredential
from ec_issuer.credentials.schema import OB3_ACHIEVEMENT_CREDENTIAL_SCHEMA
from ec_issuer.resources import load_json

STRICT_SCHEMA_PATH = (
    Path(__file__).resolve().parent.parent
    / "fixtures"
    / "ob3"
    / "ob_v3p0_achievementcredential_schema.strict-variant-2024-09.json"
)
OB3_TYPES = frozenset({"AchievementCredential", "OpenBadgeCredential"})

# RFC 3339 section 5.6 `date-time`: full-date "T" full-time, with a mandatory offset ("Z" or +hh:mm).
_RFC3339_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$"
)


def _is_rfc3339_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats constrain strings only
    match = _RFC3339_DATE_TIME.match(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    sign, offset_hours, offset_minutes = match.groups()[6:]
    try:
        # A leap second (60) is valid RFC 3339; check the rest of the fields with second 59.
        datetime(year, month, day, hour, minute, min(second, 59))
        if sign is not None:
            timezone(timedelta(hours=int(offset_hours), minutes=int(offset_minutes)))
    except ValueError:
        return False
    return second <= 60 and (offset_minutes is None or int(offset_minutes) < 60)


def _format_checker() -> FormatChecker:
    """Draft 2019-09 format checks. jsonschema checks `date-time` only when its optional
    `rfc3339-validator` dependency is installed; without it the format would silently pass, so a strict
    RFC 3339 check stands in. (`date`, the schemas' other format, is always checked.)"""
    checker = FormatChecker(Draft201909Validator.FORMAT_CHECKER.checkers)
    if "date-time" not in checker.checkers:
        checker.checks("date-time")(_is_rfc3339_date_time)
    return checker


@functools.cache
def reference_validators() -> dict[str, Draft201909Validator]:
    schemas = {
        "OB 3.0 AchievementCredential schema (service copy)": load_json(OB3_ACHIEVEMENT_CREDENTIAL_SCHEMA),
        "OB 3.0 AchievementCredential schema (strict 2024-09 variant)": json.loads(
            STRICT_SCHEMA_PATH.read_text(encoding="utf-8")
        ),
    }
    checker = _format_checker()
    validators: dict[str, Draft201909Validator] = {}
    for label, schema in schemas.items():
        Draft201909Validator.check_schema(schema)
        validators[label] = Draft201909Validator(schema, format_checker=checker)
    return validators


def _pointer(path: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def schema_problems(credential: dict[str, Any]) -> list[str]:
    """Every violation of either schema, as "<schema>: <JSON Pointer>: <message>"."""
    problems: list[str] = []
    for label, validator in reference_validators().items():
        for error in sorted(validator.iter_errors(credential), key=lambda e: list(map(str, e.absolute_path))):
            problems.append(f"{label}: {_pointer(error.absolute_path) or '/'}: {error.message}")
    return problems


def is_open_badge(credential: dict[str, Any]) -> bool:
    types = credential.get("type")
    names = [types] if isinstance(types, str) else types if isinstance(types, list) else []
    return bool(OB3_TYPES.intersection(name for name in names if isinstance(name, str)))


class IssuedCredentials:
    """The credentials one test issued, by credential id (a replayed request records nothing new)."""

    def __init__(self) -> None:
        self._payloads: dict[str, dict[str, Any]] = {}

    def record(self, payload: bytes) -> None:
        credential = json.loads(payload)
        self._payloads[str(credential.get("id"))] = credential

    @property
    def all(self) -> list[dict[str, Any]]:
        return list(self._payloads.values())

    @property
    def open_badges(self) -> list[dict[str, Any]]:
        return [credential for credential in self.all if is_open_badge(credential)]

    def problems(self) -> list[str]:
        return [
            f"{credential.get('id')}: {problem}"
            for credential in self.open_badges
            for problem in schema_problems(credential)
        ]

    def forget(self) -> None:
        """Drop what was recorded (only for the test that proves the recorder catches a bad credential)."""
        self._payloads.clear()


_RECORDER = pytest.StashKey[IssuedCredentials]()


@pytest.fixture(autouse=True)
def issued_credentials(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> IssuedCredentials | None:
    """Records every credential the test's container issues; None in tests without a container."""
    if "container" not in request.fixturenames:
        return None
    container: Container = request.getfixturevalue("container")
    issuing = container.issuing  # the Container is frozen; the CredentialIssuer it holds is not
    original = issuing.issue
    recorder = IssuedCredentials()

    def recording_issue(
        client: ApiClient, issue_request: IssueRequest, idempotency_key: str | None = None
    ) -> IssueOutcome:
        outcome = original(client, issue_request, idempotency_key)
        recorder.record(outcome.credential.payload)
        return outcome

    original_all_in = issuing.issue_all_in

    def recording_issue_all_in(
        uow: UnitOfWork, client: ApiClient, requests: Sequence[IssueCredential]
    ) -> list[IssuedCredential]:
        # OID4VCI deliveries issue inside their own unit of work (recorded even if it is then rolled back).
        credentials = original_all_in(uow, client, requests)
        for credential in credentials:
            recorder.record(credential.payload)
        return credentials

    monkeypatch.setattr(issuing, "issue", recording_issue)
    monkeypatch.setattr(issuing, "issue_all_in", recording_issue_all_in)
    request.node.stash[_RECORDER] = recorder
    return recorder


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After a test body that passed, fail it if any OB 3.0 credential it issued violates a schema."""
    result = yield  # a failing test body raises here and is reported as it is
    recorder = item.stash.get(_RECORDER, None)
    if recorder is not None:
        problems = recorder.problems()
        if problems:
            pytest.fail(
                f"{len(problems)} schema violation(s) in credentials issued by this test "
                "(reference jsonschema, Draft 2019-09, formats checked):\n  " + "\n  ".join(problems),
                pytrace=False,
            )
    return result
