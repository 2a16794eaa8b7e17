"""Malformed requests, one table: each is refused with the right 4xx RFC 9457 problem and changes nothing stored.

Every case runs on SQLite and on PostgreSQL. Before the request the database already holds an issuer with two
keys, the admin client and one credential (issued with an Idempotency-Key); after the refused request every
table must hold exactly the rows it held before. A 5xx answer is never acceptable.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, select

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.core.encoding import b64url_encode, dumps, loads
from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.status.model import LifecycleAction
from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.tables import metadata
from tests.attestation_support import record_a_validation_credential
from tests.conftest import DATABASES
from tests.oid4vci_support import TEMPLATE_ID, hand_an_offer_to_an_agent, redeem_an_offer
from tests.support import SettableClock, award_body, make_settings

CREDENTIALS = "/api/v1/credentials"
OFFERS = "/api/v1/offers"
TEMPLATES = "/api/v1/issuers/acme/credential-templates"
VERIFY = "/api/v1/credentials/verify"
ISSUERS = "/api/v1/issuers"
PROBLEM = "application/problem+json"
MAX_REQUEST_BYTES = 256 * 1024  # tests.support.make_settings
SEED_IDEMPOTENCY_KEY = "seed-request-1"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
DROP = object()  # marks a member to remove in the builders below

# ---------------------------------------------------------------------------------------------------------------
# Request builders


def with_changes(base: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of `base` with members replaced, added, or removed (value DROP)."""
    result = dict(base)
    for name, value in changes.items():
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def award(**changes: Any) -> dict[str, Any]:
    """A valid issue request with top-level members changed."""
    return with_changes(award_body(), **changes)


def achievement(**changes: Any) -> dict[str, Any]:
    """A valid issue request with members of its achievement changed."""
    body = award_body()
    return {**body, "achievement": with_changes(body["achievement"], **changes)}


def offer_award(name: Any = "Python 101", **changes: Any) -> dict[str, Any]:
    """An award of an OID4VCI offer: an issue request without issuer and recipient (achievement name changed)."""
    credential = {k: v for k, v in award_body().items() if k not in ("issuer", "recipient")}
    credential["achievement"] = with_changes(credential["achievement"], name=name)
    return {"credential": credential, **changes}


def offer(**changes: Any) -> dict[str, Any]:
    """A valid offer request with members changed."""
    return with_changes({"issuer": "acme", "awards": [offer_award()]}, **changes)


def template(**changes: Any) -> dict[str, Any]:
    """A valid credential template with members changed."""
    return with_changes({"achievement": award_body()["achievement"]}, **changes)


def document(**changes: Any) -> dict[str, Any]:
    """A document-mode issue request (`{"issuer", "credential"}`) with members of the credential changed."""
    credential = {
        "@context": [VC_V2],
        "type": ["VerifiableCredential"],
        "name": "Attendance",
        "credentialSubject": {"id": "did:example:learner"},
    }
    return {"issuer": "acme", "credential": with_changes(credential, **changes)}


def nested_list(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def stdlib_json(value: Any) -> bytes:
    """For values orjson (our `dumps`) refuses: nesting deeper than 254 levels, integers beyond 64 bits."""
    return json.dumps(value).encode()


def cursor(value: Any) -> str:
    return b64url_encode(dumps(value))


def body_of_exactly(size: int) -> bytes:
    """A valid-JSON issue request of exactly `size` bytes (its achievement description is too long)."""
    body = achievement(description="")
    padding = size - len(dumps(body))
    raw = dumps(achievement(description="x" * padding))
    assert len(raw) == size
    return raw


@dataclass(frozen=True)
class Bad:
    """One malformed request and the answer it must get."""

    status: int
    pointer: str | None = None  # an errors[].pointer the problem must contain
    json: Any = None
    data: bytes | None = None  # raw body; takes precedence over `json`
    content_type: str | None = "application/json"
    method: str = "POST"
    path: str = CREDENTIALS
    headers: Mapping[str, str] = field(default_factory=dict[str, str])

    def body(self) -> bytes | None:
        if self.data is not None:
            return self.data
        return None if self.json is None and self.method == "GET" else dumps(self.json)


def get(path: str, status: int, pointer: str | None = None) -> Bad:
    return Bad(status, pointer, method="GET", path=path, content_type=None)


CASES = [
    # --- wrong JSON types -----------------------------------------------------------------------------------------
    pytest.param(Bad(422, "", json=[]), id="body-is-an-array"),
    pytest.param(Bad(422, "", json="acme"), id="body-is-a-string"),
    pytest.param(Bad(422, "", json=None), id="body-is-null"),
    pytest.param(Bad(422, "/issuer", json=award(issuer=42)), id="issuer-is-a-number"),
    pytest.param(Bad(422, "/recipient", json=award(recipient="learner@example.org")), id="recipient-is-a-string"),
    pytest.param(Bad(422, "/achievement", json=award(achievement=[])), id="achievement-is-an-array"),
    pytest.param(Bad(422, "/evidence", json=award(evidence={"narrative": "x"})), id="evidence-is-an-object"),
    pytest.param(Bad(422, "/name", json=award(name=5)), id="name-is-a-number"),
    pytest.param(Bad(422, "/achievement/name", json=achievement(name=True)), id="achievement-name-is-a-boolean"),
    pytest.param(
        Bad(422, "/creditsEarned", json=award(creditsEarned="5")),
        id="credits-is-a-string",
    ),
    pytest.param(
        Bad(422, "/creditsEarned", json=award(creditsEarned=True)),
        id="credits-is-a-boolean",
    ),
    # --- missing members --------------------------------------------------------------------------------------------
    pytest.param(Bad(422, "/achievement/name", json=achievement(name=DROP)), id="missing-achievement-name"),
    pytest.param(Bad(422, "/recipient", json=award(recipient=DROP)), id="missing-recipient"),
    pytest.param(Bad(422, "/issuer", json=award(issuer=DROP)), id="missing-issuer"),
    pytest.param(Bad(422, "/achievement/criteria", json=achievement(criteria=DROP)), id="missing-criteria"),
    pytest.param(Bad(422, "/achievement/criteria", json=achievement(criteria={})), id="criteria-without-id-or-text"),
    # --- recipient --------------------------------------------------------------------------------------------------
    pytest.param(
        Bad(422, "/recipient", json=award(recipient={"email": "a@example.org", "did": "did:example:a"})),
        id="recipient-with-email-and-did",
    ),
    pytest.param(Bad(422, "/recipient", json=award(recipient={})), id="recipient-with-neither"),
    pytest.param(Bad(422, "/recipient/email", json=award(recipient={"email": "no-at-sign"})), id="bad-email"),
    pytest.param(
        Bad(422, "/recipient/email", json=award(recipient={"email": "a" * 250 + "@example.org"})), id="email-too-long"
    ),
    pytest.param(Bad(422, "/recipient/did", json=award(recipient={"did": "did:Example"})), id="bad-did"),
    # --- dates ------------------------------------------------------------------------------------------------------
    pytest.param(Bad(422, "/validFrom", json=award(validFrom="2024-13-45T00:00:00Z")), id="impossible-date"),
    pytest.param(Bad(422, "/validFrom", json=award(validFrom="2024-01-02T00:00:00")), id="date-without-offset"),
    pytest.param(Bad(422, "/validFrom", json=award(validFrom=1_700_000_000)), id="date-as-unix-number"),
    pytest.param(Bad(422, "/awardedDate", json=award(awardedDate="yesterday")), id="date-as-words"),
    pytest.param(
        Bad(422, "/validUntil", json=award(validFrom="2024-01-02T00:00:00Z", validUntil="2024-01-01T00:00:00Z")),
        id="validUntil-before-validFrom",
    ),
    pytest.param(
        Bad(422, "/validUntil", json=award(validFrom="2024-01-02T00:00:00Z", validUntil="2024-01-02T00:00:00Z")),
        id="validUntil-equal-to-validFrom",
    ),
    pytest.param(
        Bad(422, "/validFrom", json=award(validFrom="0001-01-01T00:00:00+01:00")),
        id="validFrom-before-year-1-in-utc",
    ),
    pytest.param(
        Bad(422, "/validUntil", json=award(validUntil="9999-12-31T23:30:00-01:00")),
        id="validUntil-after-year-9999-in-utc",
    ),
    # --- issuer -----------------------------------------------------------------------------------------------------
    pytest.param(Bad(422, "/issuer", json=award(issuer="nope")), id="unknown-issuer-slug"),
    pytest.param(Bad(422, "/issuer", json=award(issuer="did:web:elsewhere.example")), id="unknown-issuer-did"),
    pytest.param(Bad(422, "/issuer", json=award(issuer="")), id="empty-issuer"),
    # --- body framing -----------------------------------------------------------------------------------------------
    pytest.param(Bad(400, "", data=b"issuer=acme&name=x"), id="not-json"),
    pytest.param(Bad(400, "", data=b""), id="empty-body"),
    pytest.param(Bad(400, "", data=dumps(award_body())[:-5]), id="truncated-json"),
    pytest.param(Bad(400, "", data=dumps(award_body()) + b"}"), id="trailing-garbage"),
    pytest.param(Bad(400, "", data=b'{"issuer": "acme\xff\xfe"}'), id="invalid-utf8"),
    pytest.param(Bad(400, "", data=b'{"issuer": "\\ud800"}'), id="lone-surrogate-escape"),
    pytest.param(Bad(400, "", data=b'{"creditsEarned": NaN}'), id="nan-literal"),
    pytest.param(Bad(400, "", data=b'{"creditsEarned": 1e400}'), id="number-overflows-to-infinity"),
    pytest.param(Bad(400, "", data=b"[" * 2000 + b"]" * 2000), id="nesting-beyond-parser-limit"),
    pytest.param(Bad(415, data=dumps(award_body()), content_type="text/plain"), id="content-type-text-plain"),
    pytest.param(Bad(415, data=dumps(award_body()), content_type=None), id="no-content-type"),
    pytest.param(
        Bad(415, data=b"issuer=acme", content_type="application/x-www-form-urlencoded"), id="content-type-form"
    ),
    pytest.param(Bad(413, data=body_of_exactly(MAX_REQUEST_BYTES + 1)), id="body-one-byte-over-limit"),
    pytest.param(Bad(413, json=achievement(description="x" * 1_000_000)), id="body-of-a-megabyte"),
    pytest.param(
        Bad(422, "/achievement/description", data=body_of_exactly(MAX_REQUEST_BYTES)), id="body-exactly-at-limit"
    ),
    # --- strings ----------------------------------------------------------------------------------------------------
    pytest.param(Bad(422, "/achievement/name", json=achievement(name="n" * 513)), id="name-too-long"),
    pytest.param(
        Bad(422, "/achievement/description", json=achievement(description="d" * 20_001)), id="description-too-long"
    ),
    pytest.param(Bad(422, "/achievement/name", json=achievement(name="   ")), id="name-only-whitespace"),
    pytest.param(Bad(422, "/achievement/name", json=achievement(name="Python\u0007101")), id="bell-in-name"),
    pytest.param(Bad(422, "/name", json=award(name="Python\u0000101")), id="nul-in-credential-name"),
    pytest.param(Bad(422, "/narrative", json=award(narrative="done\u0085")), id="c1-control-in-narrative"),
    pytest.param(Bad(422, "/issuer", json=award(issuer="acme\u001b[31m")), id="escape-sequence-in-issuer"),
    # --- unknown members (typos) -----------------------------------------------------------------------------------
    pytest.param(Bad(422, "/validUtil", json=award(validUtil="2030-01-01T00:00:00Z")), id="typo-top-level"),
    pytest.param(Bad(422, "/achievement/nmae", json=achievement(nmae="Python")), id="typo-in-achievement"),
    pytest.param(Bad(422, "/recipient/emial", json=award(recipient={"emial": "a@example.org"})), id="typo-recipient"),
    # --- arrays and numbers -----------------------------------------------------------------------------------------
    pytest.param(Bad(422, "/achievement/tag", json=achievement(tag=["t"] * 101)), id="too-many-tags"),
    pytest.param(Bad(422, "/evidence", json=award(evidence=[{"narrative": "x"}] * 51)), id="too-much-evidence"),
    pytest.param(Bad(422, "/results", json=award(results=[{"value": "A"}] * 101)), id="too-many-results"),
    pytest.param(Bad(422, "/creditsEarned", json=award(creditsEarned=-1)), id="negative-credits"),
    pytest.param(Bad(422, "/creditsEarned", data=stdlib_json(award(creditsEarned=10**30))), id="huge-credits"),
    pytest.param(
        Bad(422, "/achievement/creditsAvailable", json=achievement(creditsAvailable=100_001)), id="credits-over-max"
    ),
    # --- URIs and enumerations -------------------------------------------------------------------------------------
    pytest.param(Bad(422, "/achievement/id", json=achievement(id="python 101")), id="achievement-id-not-a-uri"),
    pytest.param(
        Bad(422, "/achievement/id", json=achievement(id="https://acme.example/" + "a" * 2048)), id="uri-too-long"
    ),
    pytest.param(
        Bad(422, "/achievement/criteria/id", json=achievement(criteria={"id": "https://acme.example/has space"})),
        id="criteria-uri-with-space",
    ),
    pytest.param(Bad(422, "/achievement/image", json=achievement(image="not a uri")), id="image-not-a-uri"),
    pytest.param(
        Bad(422, "/achievement/alignment/0/targetUrl", json=achievement(alignment=[{"targetName": "PEP 8"}])),
        id="alignment-without-url",
    ),
    pytest.param(Bad(422, "/algorithm", json=award(algorithm="RS256")), id="unsupported-algorithm"),
    pytest.param(Bad(422, "/results/0/status", json=award(results=[{"status": "Done"}])), id="unknown-result-status"),
    # --- document mode ----------------------------------------------------------------------------------------------
    pytest.param(
        Bad(400, "/credential/issuer", json=document(issuer="did:web:evil.example")), id="document-issuer-mismatch"
    ),
    pytest.param(
        Bad(400, "/credential/issuer", json=document(issuer={"id": "did:web:evil.example", "type": ["Profile"]})),
        id="document-issuer-profile-mismatch",
    ),
    pytest.param(Bad(422, "/credential/@context", json=document(**{"@context": DROP})), id="document-without-context"),
    pytest.param(
        Bad(422, "/credential/@context/0", json=document(**{"@context": [OB3]})), id="document-context-not-vc-first"
    ),
    pytest.param(Bad(422, "/credential/type", json=document(type=["AchievementCredential"])), id="document-wrong-type"),
    pytest.param(
        Bad(422, "/credential/credentialSubject", json=document(credentialSubject="learner")),
        id="document-subject-not-object",
    ),
    pytest.param(Bad(422, "/credential/proof", json=document(proof={"type": "x"})), id="document-already-signed"),
    pytest.param(Bad(422, "/credential/name", json=document(name="A\u0008B")), id="document-control-character"),
    pytest.param(Bad(422, "/credential", json={"issuer": "acme", "credential": "{}"}), id="document-not-an-object"),
    pytest.param(Bad(422, "/credential/id", json=document(id=42)), id="document-id-not-a-string"),
    pytest.param(Bad(422, "/credential/validFrom", json=document(validFrom="soon")), id="document-bad-validFrom"),
    pytest.param(
        Bad(422, "/credential/validUntil", json=document(validFrom="2024-02-01T00:00:00Z", validUntil="2024-01-01Z")),
        id="document-bad-validUntil",
    ),
    pytest.param(
        Bad(
            422,
            "/credential/validUntil",
            json=document(validFrom="2024-02-01T00:00:00Z", validUntil="2024-01-01T00:00:00Z"),
        ),
        id="document-validUntil-before-validFrom",
    ),
    pytest.param(
        Bad(
            422,
            "/credential/credentialSubject",
            json=document(
                **{"@context": [VC_V2, OB3], "type": ["VerifiableCredential", "AchievementCredential"]},
            ),
        ),
        id="document-open-badge-without-achievement",
    ),
    pytest.param(Bad(422, "/algoritm", json={**document(), "algoritm": "ES256"}), id="document-typo"),
    pytest.param(Bad(422, "/issuer", json={**document(), "issuer": "nope"}), id="document-unknown-issuer"),
    pytest.param(
        Bad(422, "/credential/validFrom", json=document(validFrom="0001-01-01T00:00:00+01:00")),
        id="document-validFrom-before-year-1-in-utc",
    ),
    pytest.param(
        Bad(
            400,
            # the first container past 64 levels: root, credential, credentialSubject, x, then 61 lists
            "/credential/credentialSubject/x" + "/0" * 61,
            data=stdlib_json(document(credentialSubject={"id": "did:example:a", "x": nested_list(300)})),
        ),
        id="document-nested-300-deep",
    ),
    # --- Idempotency-Key --------------------------------------------------------------------------------------------
    pytest.param(
        Bad(422, "Idempotency-Key", json=award_body(), headers={"Idempotency-Key": "k" * 256}),
        id="idempotency-key-too-long",
    ),
    pytest.param(
        Bad(422, "Idempotency-Key", json=award_body(), headers={"Idempotency-Key": ""}), id="idempotency-key-empty"
    ),
    pytest.param(
        Bad(409, "Idempotency-Key", json=award(name="Another"), headers={"Idempotency-Key": SEED_IDEMPOTENCY_KEY}),
        id="idempotency-key-reused-with-another-body",
    ),
    pytest.param(
        Bad(422, "Idempotency-Key", json=award_body(), headers={"Idempotency-Key": "key\x00nul"}),
        id="idempotency-key-with-nul",
    ),
    pytest.param(
        Bad(422, "Idempotency-Key", json=award_body(), headers={"Idempotency-Key": "key\x01soh"}),
        id="idempotency-key-with-a-control-character",
    ),
    pytest.param(
        get(f"{CREDENTIALS}?status=act%01ive", 400, "status"),
        id="list-filter-with-a-control-character",
    ),
    # --- POST /api/v1/credentials/verify ----------------------------------------------------------------------------
    pytest.param(Bad(422, "", path=VERIFY, json={"jws": "a.b.c", "credentialId": "x"}), id="verify-both-inputs"),
    pytest.param(Bad(422, "", path=VERIFY, json={}), id="verify-no-input"),
    pytest.param(Bad(422, "/jws", path=VERIFY, json={"jws": 5}), id="verify-jws-is-a-number"),
    pytest.param(Bad(422, "", path=VERIFY, json=["a.b.c"]), id="verify-body-is-an-array"),
    pytest.param(Bad(400, "", path=VERIFY, data=b""), id="verify-empty-body"),
    pytest.param(Bad(415, path=VERIFY, data=b"a.b.c", content_type="text/plain"), id="verify-text-plain"),
    pytest.param(
        Bad(404, path=VERIFY, json={"credentialId": "urn:uuid:00000000-0000-4000-8000-000000000000"}),
        id="verify-unknown-credential-id",
    ),
    pytest.param(
        Bad(422, "/credentialID", path=VERIFY, json={"jws": "a.b.c", "credentialID": "x"}),
        id="verify-typo",
    ),
    # --- admin endpoints --------------------------------------------------------------------------------------------
    pytest.param(Bad(422, "/slug", path=ISSUERS, json={"slug": "Bad Slug", "name": "X"}), id="issuer-bad-slug"),
    pytest.param(Bad(422, "/name", path=ISSUERS, json={"slug": "beta"}), id="issuer-without-name"),
    pytest.param(Bad(422, "/url", path=ISSUERS, json={"slug": "beta", "name": "B", "url": "b c"}), id="issuer-bad-url"),
    pytest.param(Bad(422, "/rooot", path=ISSUERS, json={"slug": "beta", "name": "B", "rooot": True}), id="issuer-typo"),
    pytest.param(Bad(409, "/slug", path=ISSUERS, json={"slug": "acme", "name": "Again"}), id="issuer-duplicate"),
    pytest.param(Bad(415, path=ISSUERS, data=b"slug=beta", content_type="text/plain"), id="issuer-text-plain"),
    pytest.param(
        Bad(422, "/algorithm", path=f"{ISSUERS}/acme/keys", json={"algorithm": "RS256"}), id="key-bad-algorithm"
    ),
    pytest.param(Bad(404, path=f"{ISSUERS}/ghost/keys", json={"algorithm": "ES256"}), id="key-for-unknown-issuer"),
    pytest.param(
        Bad(422, "/issuers/0", path="/api/v1/clients", json={"name": "c", "issuers": ["Not A Slug"]}),
        id="client-bad-issuer-scope",
    ),
    pytest.param(
        Bad(422, "/achievements/0", path="/api/v1/clients", json={"name": "c", "achievements": ["no uri"]}),
        id="client-bad-achievement-scope",
    ),
    # --- GET /api/v1/credentials filters ----------------------------------------------------------------------------
    pytest.param(get(f"{CREDENTIALS}?limit=0", 422, "limit"), id="list-limit-zero"),
    pytest.param(get(f"{CREDENTIALS}?limit=201", 422, "limit"), id="list-limit-too-big"),
    pytest.param(get(f"{CREDENTIALS}?limit=ten", 422, "limit"), id="list-limit-not-a-number"),
    pytest.param(get(f"{CREDENTIALS}?limit=-5", 422, "limit"), id="list-limit-negative"),
    pytest.param(get(f"{CREDENTIALS}?status=deleted", 422, "status"), id="list-unknown-status"),
    pytest.param(get(f"{CREDENTIALS}?issuedAfter=2024-01-01", 422, "issuedAfter"), id="list-date-without-time"),
    pytest.param(get(f"{CREDENTIALS}?issuedBefore=yesterday", 422, "issuedBefore"), id="list-date-as-words"),
    pytest.param(get(f"{CREDENTIALS}?cursor=!!!", 422, "cursor"), id="list-cursor-not-base64url"),
    pytest.param(get(f"{CREDENTIALS}?cursor=YWJj", 422, "cursor"), id="list-cursor-not-json"),
    pytest.param(get(f"{CREDENTIALS}?cursor={cursor({'a': 1})}", 422, "cursor"), id="list-cursor-an-object"),
    pytest.param(get(f"{CREDENTIALS}?cursor={cursor([1, 2, 3])}", 422, "cursor"), id="list-cursor-three-items"),
    pytest.param(get(f"{CREDENTIALS}?cursor={cursor(['soon', 'x'])}", 422, "cursor"), id="list-cursor-bad-time"),
    pytest.param(
        get(f"{CREDENTIALS}?issuedAfter=0001-01-01T00:00:00%2B01:00", 422, "issuedAfter"),
        id="list-date-before-year-1-in-utc",
    ),
    pytest.param(
        get(f"{CREDENTIALS}?cursor={cursor(['0001-01-01T00:00:00+01:00', 'x'])}", 422, "cursor"),
        id="list-cursor-before-year-1-in-utc",
    ),
    # --- OID4VCI offers (admin API) -------------------------------------------------------------------------------
    pytest.param(Bad(422, "", json=[], path=OFFERS), id="offer-is-an-array"),
    pytest.param(Bad(422, "/awards", json={"issuer": "acme", "awards": {}}, path=OFFERS), id="offer-awards-an-object"),
    pytest.param(Bad(422, "/awards", json={"issuer": "acme", "awards": []}, path=OFFERS), id="offer-without-awards"),
    pytest.param(Bad(422, "/awards", json=offer(awards=[offer_award()] * 21), path=OFFERS), id="offer-21-awards"),
    pytest.param(
        Bad(422, "/awards/0/credential", json=offer(awards=[{"credential": "badge"}]), path=OFFERS),
        id="offer-award-a-string",
    ),
    pytest.param(
        Bad(422, "/awards/0/credential/achievement/name", json=offer(awards=[offer_award(name=DROP)]), path=OFFERS),
        id="offer-award-without-achievement-name",
    ),
    pytest.param(
        Bad(422, "/awards/0/credential/recipient", json=offer(awards=[{"credential": award_body()}]), path=OFFERS),
        id="offer-award-names-a-recipient",
    ),
    pytest.param(
        Bad(422, "/awards/0/configuration", json=offer(awards=[offer_award(configuration="mdoc")]), path=OFFERS),
        id="offer-unknown-configuration",
    ),
    pytest.param(
        Bad(422, "/tx_code/length", json=offer(tx_code={"length": "6"}), path=OFFERS), id="offer-tx-length-text"
    ),
    pytest.param(Bad(422, "/tx_code/length", json=offer(tx_code={"length": 40}), path=OFFERS), id="offer-tx-too-long"),
    pytest.param(Bad(422, "/expires_in", json=offer(expires_in=10**9), path=OFFERS), id="offer-lives-too-long"),
    pytest.param(
        Bad(422, "/awards/0/deferred", json=offer(awards=[offer_award(deferred="yes")]), path=OFFERS),
        id="offer-deferred-as-text",
    ),
    pytest.param(Bad(404, json={}, path="/api/v1/offers/no-such-offer/release"), id="offer-release-unknown"),
    pytest.param(Bad(422, "/grants/0", json=offer(grants=["implicit"]), path=OFFERS), id="offer-unknown-grant"),
    pytest.param(Bad(422, "/grants", json=offer(grants=[]), path=OFFERS), id="offer-without-grants"),
    pytest.param(Bad(422, "/issuer", json=offer(issuer="nobody"), path=OFFERS), id="offer-unknown-issuer"),
    pytest.param(get("/api/v1/offers/" + "x" * 65, 404), id="offer-id-too-long"),
    pytest.param(
        Bad(422, "/awards/0/template", json=offer(awards=[{"template": "no-such-badge"}]), path=OFFERS),
        id="offer-unknown-template",
    ),
    pytest.param(
        Bad(
            422, "/awards/0/credential/achievement", json=offer(awards=[offer_award(template=TEMPLATE_ID)]), path=OFFERS
        ),
        id="offer-template-and-its-own-achievement",
    ),
    # --- credential templates (admin API) -------------------------------------------------------------------------
    pytest.param(
        Bad(
            422,
            "/display/0/background_color",
            json=template(display=[{"name": "x", "background_color": "blue"}]),
            method="PUT",
            path=f"{TEMPLATES}/{TEMPLATE_ID}",
        ),
        id="template-colour-by-name",
    ),
    pytest.param(
        Bad(
            422,
            "/display/0/logo/uri",
            json=template(display=[{"name": "x", "logo": {"uri": "http://a.example/l"}}]),
            method="PUT",
            path=f"{TEMPLATES}/{TEMPLATE_ID}",
        ),
        id="template-logo-over-http",
    ),
    pytest.param(
        Bad(422, "/achievement", json={"formats": ["ldp_vc"]}, method="PUT", path=f"{TEMPLATES}/{TEMPLATE_ID}"),
        id="template-without-achievement",
    ),
    pytest.param(
        Bad(422, "templateId", json=template(), method="PUT", path=f"{TEMPLATES}/Not_A_Slug"), id="template-bad-id"
    ),
    pytest.param(Bad(404, method="DELETE", path=f"{TEMPLATES}/never-was"), id="template-retire-unknown"),
    pytest.param(get(f"{TEMPLATES}/never-was", 404), id="template-unknown"),
]


# ---------------------------------------------------------------------------------------------------------------
# One service per database for the whole module


Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(engine: Engine) -> Snapshot:
    """Every row of every table, in primary-key order."""
    with engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
            for table in metadata.sorted_tables
        }


@dataclass(frozen=True)
class Service:
    container: Container
    http: FlaskClient
    auth: dict[str, str]


@pytest.fixture(scope="module", params=DATABASES)
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The app on a database holding an issuer with two keys, the admin client and one credential.

    Built once per database for this module (a refused request changes nothing, so the cases can share it;
    each case still compares the tables before and after its own request). The function-scoped `container`
    fixture would rebuild all of this for each of the ~240 cases.
    """
    url: str = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
    engine.dispose()
    container = build(make_settings(url, tmp_path_factory.mktemp("bad-input")), clock=SettableClock())
    assert container.settings.max_request_bytes == MAX_REQUEST_BYTES  # the size cases are built for this limit
    acme = container.issuers.create(CreateIssuer(slug="acme", name="ACME University", url="https://acme.example"))
    container.keys.generate(acme, Algorithm.ES256)
    container.keys.generate(acme, Algorithm.EDDSA)
    token = "bad-input-admin-token-" + uuid.uuid4().hex
    admin = container.access.ensure_bootstrap_client(token)
    container.issuing.issue(admin, parse_issue_request(award_body()), SEED_IDEMPOTENCY_KEY)
    suspended = container.issuing.issue(admin, parse_issue_request(award_body())).credential
    container.lifecycle.change(admin, suspended.id, LifecycleAction.SUSPEND)  # a status entry row to guard
    redeem_an_offer(container, admin)  # offer, token, delivery and nonce rows to guard
    hand_an_offer_to_an_agent(container, admin)  # and the external agent's offer, credential and event rows
    record_a_validation_credential(container, admin)  # and the validation attestation rows
    app = create_app(container)
    app.testing = False  # errors go through the real handlers, as in production
    yield Service(container, app.test_client(), {"Authorization": f"Bearer {token}"})
    container.engine.dispose()


@pytest.fixture
def before(service: Service) -> Snapshot:
    """The tables just before the test's request."""
    state = snapshot(service.container.engine)
    # The comparison is only meaningful if every table has rows a stray write could disturb.
    assert set(state) == set(metadata.tables)
    assert all(state.values()), {name: len(rows) for name, rows in state.items()}
    return state


def send(service: Service, case: Bad) -> Any:
    return service.http.open(
        case.path,
        method=case.method,
        data=case.body(),
        content_type=case.content_type,
        headers={**service.auth, **case.headers},
    )


def assert_problem(response: Any, status: int, pointer: str | None) -> dict[str, Any]:
    text = response.get_data(as_text=True)
    assert response.status_code < 500, f"server error for a client mistake: {text[:1000]}"
    assert response.status_code == status, text[:1000]
    assert response.mimetype == PROBLEM, response.headers
    problem: dict[str, Any] = loads(response.get_data())
    assert problem["status"] == status
    assert isinstance(problem["title"], str)
    assert problem["title"]
    assert isinstance(problem.get("detail"), str)
    if pointer is not None:
        pointers = [error["pointer"] for error in problem.get("errors", [])]
        assert pointer in pointers, problem
    return problem


@pytest.mark.parametrize("case", CASES)
def test_malformed_request_is_refused_and_changes_nothing(service: Service, before: Snapshot, case: Bad) -> None:
    response = send(service, case)

    assert_problem(response, case.status, case.pointer)
    assert snapshot(service.container.engine) == before


def test_the_table_is_large_enough_and_its_ids_are_unique() -> None:
    ids = [str(param.id) for param in CASES]
    assert len(ids) >= 35
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})


def test_the_snapshot_sees_a_change(service: Service, before: Snapshot) -> None:
    """The before/after comparison must be able to fail: a request that is accepted does change the snapshot."""
    response = service.http.post(CREDENTIALS, json=award_body(), headers=service.auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    after = snapshot(service.container.engine)
    assert after != before
    assert len(after["issued_credentials"]) == len(before["issued_credentials"]) + 1


# ---------------------------------------------------------------------------------------------------------------
# 413 and 415 problems should name what is wrong, as api/problems.py http_error intends


@pytest.mark.parametrize(
    ("case", "pointer", "detail_mentions"),
    [
        pytest.param(Bad(415, data=b"{}", content_type="text/plain"), "Content-Type", "text/plain", id="415"),
        pytest.param(Bad(413, data=body_of_exactly(MAX_REQUEST_BYTES + 1)), "", "", id="413"),
    ],
)
def test_transport_problems_name_the_cause(service: Service, case: Bad, pointer: str, detail_mentions: str) -> None:
    problem = assert_problem(send(service, case), case.status, None)
    assert pointer in [error["pointer"] for error in problem.get("errors", [])], problem
    assert detail_mentions in problem["detail"]
    assert problem["detail"] != problem["title"], "the detail only repeats the title"


# ---------------------------------------------------------------------------------------------------------------
# A NUL character in a lookup key: refused before any query on every database (PostgreSQL cannot even
# compare one), never a 500; inside a JWS header it is simply a key nobody published


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(get(f"{CREDENTIALS}/urn:uuid:a%00b", 400, "path"), id="get-credential"),
        pytest.param(get(f"{ISSUERS}/ac%00me", 400, "path"), id="get-issuer"),
        pytest.param(get(f"{ISSUERS}/ac%00me/keys", 400, "path"), id="list-keys"),
        pytest.param(get("/issuers/ac%00me/jwks.json", 400, "path"), id="public-jwks"),
        pytest.param(get("/issuers/ac%00me/did.json", 400, "path"), id="public-did-document"),
        pytest.param(get(f"{CREDENTIALS}?issuer=ac%00me", 400, "issuer"), id="list-issuer-filter"),
        pytest.param(
            get(CREDENTIALS + "?cursor=" + cursor(["2024-01-01T00:00:00Z", "a\x00b"]), 422, "cursor"), id="cursor"
        ),
        pytest.param(
            Bad(422, "/credentialId", path=VERIFY, json={"credentialId": "urn:uuid:a\x00b"}),
            id="verify-credential-id",
        ),
        pytest.param(
            Bad(
                200,
                path=VERIFY,
                json={
                    "jws": b64url_encode(dumps({"alg": "ES256", "typ": "vc+jwt", "kid": "did:web:x#a\x00b"}))
                    + "."
                    + b64url_encode(dumps({"issuer": "did:web:x"}))
                    + ".AAAA"
                },
            ),
            id="verify-jws-kid",
        ),
    ],
)
def test_nul_in_a_lookup_key_is_not_a_server_error(service: Service, before: Snapshot, case: Bad) -> None:
    response = send(service, case)

    text = response.get_data(as_text=True)
    assert response.status_code < 500, text[:500]
    assert response.status_code == case.status, text[:500]
    if case.status >= 400:
        assert_problem(response, case.status, case.pointer)
    else:
        body = loads(response.get_data())
        assert body["verified"] is False, body
        assert any(c["check"] == "key" and c["result"] == "failed" for c in body["checks"]), body
    assert snapshot(service.container.engine) == before
