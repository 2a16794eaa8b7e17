"""Refused lifecycle requests: each answers the right 4xx RFC 9457 problem and changes nothing stored.

Covers POST /api/v1/credentials/<id>/revoke|suspend|reinstate, GET .../history and the public
GET /issuers/<slug>/status/<kind>/<n>. Every case runs on SQLite and on PostgreSQL. Before the request the
database holds two issuers with keys, the admin client and two scoped clients, an active and a revoked
credential (so their status lists, entries and history rows); after the refused request every table must
hold exactly the rows it held before (`snapshot` of tests/e2e/test_bad_input.py). A 5xx is never acceptable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from ec_issuer.access.commands import CreateClient
from ec_issuer.bootstrap import Container
from ec_issuer.core.encoding import dumps, loads
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.status.model import MAX_REASON_LENGTH
from ec_issuer.storage.tables import metadata
from tests.attestation_support import record_a_validation_credential
from tests.conftest import json_of
from tests.e2e.test_bad_input import Snapshot, snapshot
from tests.oid4vci_support import hand_an_offer_to_an_agent, redeem_an_offer
from tests.support import SettableClock, award_body

CREDENTIALS = "/api/v1/credentials"
PROBLEM = "application/problem+json"
RUST_101 = "https://acme.example/achievements/rust-101"  # not the achievement of tests.support.award_body
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"
ACTIONS = ("revoke", "suspend", "reinstate")
DEFAULT = object()  # the case sends its default body, `{}`


# ---------------------------------------------------------------------------------------------------------------
# The world every case starts from


@dataclass(frozen=True)
class World:
    container: Container
    http: FlaskClient
    active: str  # an active acme credential
    revoked: str  # a revoked acme credential
    tokens: dict[str, dict[str, str]]  # who -> request headers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(http: FlaskClient, auth: dict[str, str], **overrides: Any) -> str:
    response = http.post(CREDENTIALS, json=award_body(**overrides), headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    credential_id: str = json_of(response)["id"]
    return credential_id


def change(http: FlaskClient, headers: dict[str, str], credential_id: str, action: str, **body: Any) -> Any:
    return http.post(f"{CREDENTIALS}/{credential_id}/{action}", json=body, headers=headers)


def history(http: FlaskClient, auth: dict[str, str], credential_id: str) -> list[dict[str, Any]]:
    response = http.get(f"{CREDENTIALS}/{credential_id}/history", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    events: list[dict[str, Any]] = json_of(response)["events"]
    return events


@pytest.fixture
def world(container: Container, http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> World:
    other = container.issuers.create(CreateIssuer(slug="other", name="Other College", url="https://other.example"))
    container.keys.generate(other, Algorithm.ES256)
    active = issue(http, auth)
    revoked = issue(http, auth)
    assert change(http, auth, revoked, "revoke", reasonCode="fraud").status_code == 200
    assert change(http, auth, active, "suspend").status_code == 200
    assert change(http, auth, active, "reinstate").status_code == 200  # history rows of every kind but expiry
    issue(http, auth, issuer="other")  # the other issuer's lists, entries and history
    admin = container.access.authenticate(auth["Authorization"].removeprefix("Bearer "))
    redeem_an_offer(container, admin)  # offer, token, delivery and nonce rows
    hand_an_offer_to_an_agent(container, admin)  # and the external agent's offer, credential and event rows
    record_a_validation_credential(container, admin)  # and the validation attestation rows
    outsider = container.access.create(CreateClient(name="other-only", issuers=["other"])).token
    rust_only = container.access.create(CreateClient(name="acme-rust", issuers=["acme"], achievements=[RUST_101]))
    tokens = {
        "admin": auth,
        "outsider": bearer(outsider),
        "achievement-scoped": bearer(rust_only.token),
        "nobody": {},
        "unknown-token": bearer("eci_this-token-was-never-issued-0123456789abcdef"),
    }
    return World(container, http, active, revoked, tokens)


@pytest.fixture
def before(world: World) -> Snapshot:
    """The tables just before the test's request; every one has rows a stray write could disturb."""
    state = snapshot(world.container.engine)
    assert set(state) == set(metadata.tables)
    assert all(state.values()), {name: len(rows) for name, rows in state.items()}
    return state


def assert_problem(response: Any, statuses: tuple[int, ...], pointer: str | None = None) -> dict[str, Any]:
    text = response.get_data(as_text=True)
    assert response.status_code < 500, f"server error for a client mistake: {text[:1000]}"
    assert response.status_code in statuses, text[:1000]
    assert response.mimetype == PROBLEM, response.headers
    problem: dict[str, Any] = loads(response.get_data())
    assert problem["status"] == response.status_code
    assert isinstance(problem["title"], str)
    assert problem["title"]
    assert isinstance(problem.get("detail"), str)
    if pointer is not None:
        pointers = [error["pointer"] for error in problem.get("errors", [])]
        assert pointer in pointers, problem
    return problem


# ---------------------------------------------------------------------------------------------------------------
# The table of refused requests


@dataclass(frozen=True)
class Bad:
    """One refused lifecycle request and the answer it must get."""

    status: int | tuple[int, ...]
    action: str  # revoke, suspend, reinstate or history
    pointer: str | None = None  # an errors[].pointer the problem must contain
    json: Any = DEFAULT
    data: bytes | None = None  # raw body; takes precedence over `json`
    content_type: str | None = "application/json"
    target: str = "active"  # active, revoked, or a literal credential id in the URL
    who: str = "admin"
    headers: dict[str, str] = field(default_factory=dict[str, str])

    @property
    def statuses(self) -> tuple[int, ...]:
        return self.status if isinstance(self.status, tuple) else (self.status,)

    def path(self, world: World) -> str:
        credential_id = {"active": world.active, "revoked": world.revoked}.get(self.target, self.target)
        return f"{CREDENTIALS}/{credential_id}/{self.action}"

    def send(self, world: World) -> Any:
        headers = {**world.tokens[self.who], **self.headers}
        if self.action == "history":
            return world.http.get(self.path(world), headers=headers)
        body = self.data if self.data is not None else dumps({} if self.json is DEFAULT else self.json)
        return world.http.post(self.path(world), data=body, content_type=self.content_type, headers=headers)


def each_action(status: int | tuple[int, ...], pointer: str | None = None, **fields: Any) -> list[Any]:
    return [pytest.param(Bad(status, action, pointer, **fields), id=action) for action in ACTIONS]


def _ids(prefix: str, params: list[Any]) -> list[Any]:
    return [pytest.param(*p.values, id=f"{prefix}-{p.id}") for p in params]


TOO_LONG = "r" * (MAX_REASON_LENGTH + 1)

CASES = [
    # --- no such credential (404) -----------------------------------------------------------------------------------
    *_ids("unknown-id", each_action(404, target=f"urn:uuid:{UNKNOWN_UUID}")),
    pytest.param(Bad(404, "history", target=f"urn:uuid:{UNKNOWN_UUID}"), id="unknown-id-history"),
    pytest.param(Bad(404, "revoke", target=UNKNOWN_UUID), id="unknown-bare-uuid-revoke"),
    pytest.param(Bad(404, "history", target=UNKNOWN_UUID), id="unknown-bare-uuid-history"),
    pytest.param(Bad(404, "suspend", target="not-a-credential"), id="not-an-id-suspend"),
    pytest.param(Bad(400, "revoke", "path", target="urn:uuid:a%00b"), id="nul-in-id-revoke"),
    pytest.param(Bad(400, "history", "path", target="urn:uuid:a%00b"), id="nul-in-id-history"),
    # --- reason codes -----------------------------------------------------------------------------------------------
    pytest.param(Bad(422, "revoke", "/reasonCode", json={"reasonCode": "changed_my_mind"}), id="unknown-reason-code"),
    pytest.param(Bad(422, "revoke", "/reasonCode", json={"reasonCode": "FRAUD"}), id="reason-code-wrong-case"),
    pytest.param(Bad(422, "revoke", "/reasonCode", json={"reasonCode": ""}), id="reason-code-empty"),
    pytest.param(Bad(422, "revoke", "/reasonCode", json={"reasonCode": "x" * 65}), id="reason-code-too-long"),
    pytest.param(Bad(422, "revoke", "/reasonCode", json={"reasonCode": 3}), id="reason-code-a-number"),
    pytest.param(Bad(422, "revoke", "/reasonCode", json={"reasonCode": None}), id="reason-code-null"),
    pytest.param(Bad(422, "revoke", "/reasonCode", json={"reasonCode": ["fraud"]}), id="reason-code-an-array"),
    # --- free-text reasons ------------------------------------------------------------------------------------------
    *_ids("reason-too-long", each_action(422, "/reason", json={"reason": TOO_LONG})),
    pytest.param(
        Bad(422, "revoke", "/reason", json={"reasonCode": "fraud", "reason": TOO_LONG}),
        id="reason-too-long-with-a-valid-code",
    ),
    pytest.param(Bad(422, "suspend", "/reason", json={"reason": 42}), id="reason-a-number"),
    pytest.param(Bad(422, "revoke", "/reason", json={"reason": {"text": "x"}}), id="reason-an-object"),
    # --- unknown members (typos) ------------------------------------------------------------------------------------
    pytest.param(Bad(422, "revoke", "/reasonCodes", json={"reasonCodes": "fraud"}), id="typo-revoke"),
    pytest.param(Bad(422, "suspend", "/reasn", json={"reasn": "review"}), id="typo-suspend"),
    pytest.param(Bad(422, "reinstate", "/reasonCode", json={"reasonCode": "fraud"}), id="reason-code-on-reinstate"),
    pytest.param(Bad(422, "suspend", "/reasonCode", json={"reasonCode": "fraud"}), id="reason-code-on-suspend"),
    pytest.param(Bad(422, "revoke", "/status", json={"status": "active"}), id="status-member-on-revoke"),
    # --- body framing -----------------------------------------------------------------------------------------------
    *_ids("not-json", each_action(400, "", data=b"reasonCode=fraud")),
    pytest.param(Bad(400, "revoke", "", data=b'{"reasonCode": "fraud"'), id="truncated-json"),
    pytest.param(Bad(400, "revoke", "", data=b'{"reasonCode": "fraud"}}'), id="trailing-garbage"),
    pytest.param(Bad(400, "suspend", "", data=b'{"reason": "a\xff\xfe"}'), id="invalid-utf8"),
    pytest.param(Bad(400, "revoke", "", data=b""), id="empty-body-declared-json"),
    *_ids("json-array", each_action((400, 422), json=[])),
    pytest.param(Bad((400, 422), "revoke", json=["fraud"]), id="json-array-of-a-code"),
    pytest.param(Bad((400, 422), "revoke", json="fraud"), id="json-string"),
    pytest.param(Bad((400, 422), "suspend", json=None), id="json-null"),
    pytest.param(Bad((400, 422), "reinstate", json=1), id="json-number"),
    # --- Content-Type -----------------------------------------------------------------------------------------------
    *_ids("text-plain", each_action(415, data=b'{"reason": "x"}', content_type="text/plain")),
    pytest.param(
        Bad(415, "revoke", data=b"reasonCode=fraud", content_type="application/x-www-form-urlencoded"),
        id="form-encoded",
    ),
    pytest.param(Bad(415, "revoke", data=b'{"reasonCode": "fraud"}', content_type=None), id="body-without-type"),
    # --- authentication and scopes ----------------------------------------------------------------------------------
    *_ids("no-token", each_action(401, who="nobody")),
    pytest.param(Bad(401, "history", who="nobody"), id="no-token-history"),
    pytest.param(Bad(401, "revoke", who="unknown-token"), id="unknown-token-revoke"),
    pytest.param(Bad(401, "history", who="unknown-token"), id="unknown-token-history"),
    *_ids("other-issuers-client", each_action(404, who="outsider")),
    pytest.param(Bad(404, "history", who="outsider"), id="other-issuers-client-history"),
    pytest.param(Bad(404, "reinstate", who="outsider", target="revoked"), id="other-issuers-client-revoked"),
    *_ids("achievement-out-of-scope", each_action(403, who="achievement-scoped")),
    # --- not allowed from the current status ------------------------------------------------------------------------
    pytest.param(Bad(409, "reinstate", target="revoked"), id="reinstate-revoked"),
    pytest.param(
        Bad(409, "reinstate", json={"reason": "appeal upheld"}, target="revoked"), id="reinstate-revoked-with-a-reason"
    ),
    pytest.param(Bad(409, "suspend", target="revoked"), id="suspend-revoked"),
]


@pytest.mark.parametrize("case", CASES)
def test_a_refused_lifecycle_request_changes_nothing(world: World, before: Snapshot, case: Bad) -> None:
    response = case.send(world)

    problem = assert_problem(response, case.statuses, case.pointer)
    if case.statuses == (401,):
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert problem["type"] == "urn:ec-issuer:problem:unauthenticated"
    assert snapshot(world.container.engine) == before


def test_the_table_ids_are_unique() -> None:
    ids = [str(param.id) for param in CASES]
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})


def test_the_snapshot_sees_a_lifecycle_change(world: World, before: Snapshot) -> None:
    """The comparison can fail: an accepted change writes the credential, its history and its lists."""
    response = change(world.http, world.tokens["admin"], world.active, "suspend", reason="checks the checker")
    assert response.status_code == 200, response.get_data(as_text=True)
    after = snapshot(world.container.engine)
    assert len(after["credential_history"]) == len(before["credential_history"]) + 1
    assert after["issued_credentials"] != before["issued_credentials"]
    assert after["status_entries"] != before["status_entries"]


@pytest.mark.parametrize("action", [*ACTIONS, "history"])
def test_another_issuers_client_learns_nothing_of_the_credential(world: World, before: Snapshot, action: str) -> None:
    """Its 404 for an existing credential is the 404 for an id that was never issued, but for the id."""
    unknown = f"urn:uuid:{UNKNOWN_UUID}"
    existing = Bad(404, action, who="outsider").send(world)
    missing = Bad(404, action, who="outsider", target=unknown).send(world)

    seen = assert_problem(existing, (404,))
    never = assert_problem(missing, (404,))
    assert {k: str(v).replace(world.active, unknown) for k, v in seen.items()} == {k: str(v) for k, v in never.items()}
    assert snapshot(world.container.engine) == before


def test_the_achievement_scoped_client_is_told_why(world: World, before: Snapshot) -> None:
    problem = assert_problem(Bad(403, "revoke", who="achievement-scoped").send(world), (403,))
    assert problem["type"] == "urn:ec-issuer:problem:forbidden"
    assert "https://acme.example/achievements/python-101" in problem["detail"], problem
    assert snapshot(world.container.engine) == before


def test_an_unknown_reason_code_names_the_allowed_ones(world: World, before: Snapshot) -> None:
    response = Bad(422, "revoke", json={"reasonCode": "changed_my_mind"}).send(world)
    problem = assert_problem(response, (422,), "/reasonCode")
    assert "changed_my_mind" in problem["detail"]
    for code in ("unspecified", "issued_in_error", "superseded", "privilege_withdrawn", "fraud", "key_compromise"):
        assert code in problem["detail"], problem
    assert snapshot(world.container.engine) == before


def test_a_reason_of_exactly_the_limit_is_accepted(world: World, auth: dict[str, str]) -> None:
    """The boundary of the reason-too-long cases: 1000 characters are fine, and recorded as given."""
    reason = "r" * MAX_REASON_LENGTH
    response = change(world.http, auth, world.active, "suspend", reason=reason)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert history(world.http, auth, world.active)[-1]["reason"] == reason


@pytest.mark.parametrize("action", ACTIONS)
def test_a_control_character_in_the_reason_is_refused(world: World, before: Snapshot, action: str) -> None:
    target = world.active
    if action == "reinstate":  # only a suspended credential can be reinstated: the refusal must be for the reason
        assert change(world.http, world.tokens["admin"], target, "suspend").status_code == 200
        before = snapshot(world.container.engine)
    response = change(world.http, world.tokens["admin"], target, action, reason="under\x00review")
    assert_problem(response, (422,), "/reason")
    assert snapshot(world.container.engine) == before


def test_reinstating_a_revoked_credential_leaves_its_history_unchanged(
    world: World, before: Snapshot, auth: dict[str, str]
) -> None:
    events = history(world.http, auth, world.revoked)
    assert [e["event"] for e in events] == ["issued", "revoked"]

    refused = change(world.http, auth, world.revoked, "reinstate", reason="appeal")
    problem = assert_problem(refused, (409,))
    assert "revoked" in problem["detail"]

    assert history(world.http, auth, world.revoked) == events
    assert json_of(world.http.get(f"{CREDENTIALS}/{world.revoked}", headers=auth))["status"] == "revoked"
    assert snapshot(world.container.engine) == before


def past_valid_until(world: World, clock: SettableClock, auth: dict[str, str], *, suspended: bool) -> str:
    """A credential valid for a day, suspended first if asked, with the clock moved two days on (no sweep)."""
    valid_until = (clock.now() + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    expiring = issue(world.http, auth, validUntil=valid_until)
    if suspended:
        assert change(world.http, auth, expiring, "suspend").status_code == 200
    clock.advance(timedelta(days=2))
    return expiring


def refused_change_to_expired(world: World, auth: dict[str, str], credential_id: str, action: str) -> None:
    events = history(world.http, auth, credential_id)
    before = snapshot(world.container.engine)

    body = {"reasonCode": "superseded"} if action == "revoke" else {}
    problem = assert_problem(change(world.http, auth, credential_id, action, **body), (409,))

    assert "expired" in problem["detail"], problem
    assert snapshot(world.container.engine) == before
    assert history(world.http, auth, credential_id) == events


@pytest.mark.parametrize("action", ACTIONS)
def test_an_expired_credential_cannot_change(
    world: World, clock: SettableClock, auth: dict[str, str], action: str
) -> None:
    expired = past_valid_until(world, clock, auth, suspended=False)
    assert json_of(world.http.get(f"{CREDENTIALS}/{expired}", headers=auth))["status"] == "expired"

    refused_change_to_expired(world, auth, expired, action)


@pytest.mark.parametrize("action", ["reinstate", "revoke"])
def test_a_suspended_credential_past_valid_until_is_expired_too(
    world: World, clock: SettableClock, auth: dict[str, str], action: str
) -> None:
    expired = past_valid_until(world, clock, auth, suspended=True)

    refused_change_to_expired(world, auth, expired, action)


# ---------------------------------------------------------------------------------------------------------------
# Public status lists that do not exist


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/issuers/acme/status/revocation/2", id="next-number"),
        pytest.param("/issuers/acme/status/revocation/0", id="number-zero"),
        pytest.param("/issuers/acme/status/token/7", id="token-list-that-does-not-exist"),
        pytest.param("/issuers/ghost/status/revocation/1", id="unknown-issuer"),
        pytest.param("/issuers/other/status/suspension/1", id="purpose-never-used"),
        pytest.param("/issuers/acme/status/bogus/1", id="unknown-kind"),
        pytest.param("/issuers/acme/status/Revocation/1", id="kind-in-another-case"),
        pytest.param("/issuers/acme/status/revocation/abc", id="number-not-a-number"),
        pytest.param("/issuers/acme/status/revocation/-1", id="number-negative"),
        pytest.param("/issuers/acme/status/revocation/1.5", id="number-fractional"),
        pytest.param("/issuers/acme/status/revocation/1e3", id="number-exponent"),
        pytest.param("/issuers/acme/status/revocation/" + "9" * 30, id="number-huge"),
        pytest.param("/issuers/acme/status/revocation/", id="number-missing"),
        pytest.param("/issuers/acme/status/revocation/1/extra", id="trailing-segment"),
    ],
)
def test_a_status_list_that_does_not_exist_is_404(world: World, before: Snapshot, path: str) -> None:
    response = world.http.get(path, headers={"Accept": "application/json"})

    assert_problem(response, (404,))
    assert "public" not in response.headers.get("Cache-Control", ""), "a 404 is not cached as a list"
    assert snapshot(world.container.engine) == before


def test_the_lists_that_exist_are_served(world: World) -> None:
    """The counterpart of the 404s: the lists the world's credentials reference answer 200."""
    for path, accept in (
        ("/issuers/acme/status/revocation/1", "application/json"),
        ("/issuers/acme/status/token/1", "application/statuslist+jwt"),
        ("/issuers/other/status/revocation/1", "application/json"),
    ):
        response = world.http.get(path, headers={"Accept": accept})
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])


def test_a_random_credential_id_is_unknown(world: World, before: Snapshot) -> None:
    """Not only the all-zero UUID: a fresh random one is as unknown, for every action."""
    fresh = f"urn:uuid:{uuid.uuid4()}"
    for action in (*ACTIONS, "history"):
        assert_problem(Bad(404, action, target=fresh).send(world), (404,))
    assert snapshot(world.container.engine) == before
