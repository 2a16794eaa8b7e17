"""Status checks against published lists, with 1EdTech's revoked OB 3.0 example and its status list."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ec_issuer.credentials.status_checks import StatusListChecker
from ec_issuer.signing.data_integrity.proof_sets import proofs_of
from ec_issuer.signing.data_integrity.verifier import DataIntegrityVerifier
from ec_issuer.status.bitstring import BitstringStatusList
from ec_issuer.status.ports import FetchedList, StatusListUnavailable
from tests.unit.test_data_integrity_ob3_examples import EXAMPLES, example, resolver_for

NOW = datetime(2026, 12, 6, tzinfo=UTC)
ISSUER = "https://1edtech.edu/issuers/565049"


def onedtech_list() -> dict[str, Any]:
    return json.loads((EXAMPLES / "1edtech-bit-string-list-testlist.json").read_text(encoding="utf-8"))


class Served:
    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self._documents = documents

    def fetch(self, url: str, accept: str) -> FetchedList:
        if url not in self._documents:
            raise StatusListUnavailable(f"{url}: 404")
        return FetchedList(json.dumps(self._documents[url]), "application/json")


def checker(list_document: dict[str, Any] | None) -> tuple[StatusListChecker, dict[str, Any]]:
    credential = example("bit-string-list_credential-status-revoked")
    url = credential["credentialStatus"]["statusListCredential"]
    keys = resolver_for({"proof": [*proofs_of(credential), *proofs_of(onedtech_list())]})
    source = Served({url: list_document} if list_document is not None else {})
    return StatusListChecker(source, keys, DataIntegrityVerifier(keys)), credential


def test_the_1edtech_revoked_example_is_reported_revoked() -> None:
    assert BitstringStatusList.decode(onedtech_list()["credentialSubject"]["encodedList"]).get(23)
    lists, credential = checker(onedtech_list())
    [finding] = lists.bitstring_findings(credential, ISSUER, NOW)
    assert (finding.source, finding.outcome) == ("revocation", "revoked"), finding.detail


def test_a_clear_bit_is_clear() -> None:
    lists, credential = checker(onedtech_list())
    credential["credentialStatus"]["statusListIndex"] = "24"
    [finding] = lists.bitstring_findings(credential, ISSUER, NOW)
    assert finding.outcome == "clear", finding.detail


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda doc: doc["credentialSubject"].update(
                encodedList="uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
            ),
            "proof",
        ),
        (lambda doc: doc["credentialSubject"].update(statusPurpose="suspension"), "proof"),
        (lambda doc: doc.update(issuer="https://elsewhere.example/issuer"), "proof"),
    ],
)
def test_a_list_that_does_not_verify_makes_the_status_unknown(change: Any, reason: str) -> None:
    altered = copy.deepcopy(onedtech_list())
    change(altered)
    lists, credential = checker(altered)
    [finding] = lists.bitstring_findings(credential, ISSUER, NOW)
    assert finding.outcome == "unknown"
    assert reason in finding.detail


def test_purpose_issuer_and_range_are_checked() -> None:
    lists, credential = checker(onedtech_list())
    credential["credentialStatus"]["statusPurpose"] = "suspension"
    [finding] = lists.bitstring_findings(credential, ISSUER, NOW)
    assert (finding.outcome, "statusPurpose is 'revocation'" in finding.detail) == ("unknown", True)

    lists, credential = checker(onedtech_list())
    [finding] = lists.bitstring_findings(credential, "https://someone-else.example", NOW)
    assert finding.outcome == "unknown"

    lists, credential = checker(onedtech_list())
    credential["credentialStatus"]["statusListIndex"] = "131072"
    [finding] = lists.bitstring_findings(credential, ISSUER, NOW)
    assert (finding.outcome, "outside" in finding.detail) == ("unknown", True)

    lists, credential = checker(onedtech_list())
    credential["credentialStatus"]["statusListIndex"] = "-1"
    [finding] = lists.bitstring_findings(credential, ISSUER, NOW)
    assert finding.outcome == "unknown"


def test_an_unreachable_list_is_unknown() -> None:
    lists, credential = checker(None)
    [finding] = lists.bitstring_findings(credential, ISSUER, NOW)
    assert finding.outcome == "unknown"
    assert finding.detail.startswith("list unavailable")
