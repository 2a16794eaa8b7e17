"""Who may do what, over HTTP: authentication (401), client scopes (403/404), and the external policy service.

The rules under test are those of docs/authorization.md: a missing, unknown or malformed bearer token is a 401
problem with `WWW-Authenticate: Bearer`; a known client the policy refuses gets a 403 problem saying why; a scoped
client naming an issuer outside its scope gets 403 whether or not that issuer exists, and does not see other
issuers or their credentials (404, and absent from lists). With AUTHZ_POLICY_URL set, the scopes are checked first
and then the external service decides; anything but a 200 `{"allow": true}` denies (fail closed, 403).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from ec_issuer.access.commands import CreateClient
from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.core.encoding import dumps, loads
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.storage.tables import issued_credentials
from tests.support import SettableClock, award_body, make_settings

CREDENTIALS = "/api/v1/credentials"
PROBLEM = "application/problem+json"
PYTHON_101 = "https://acme.example/achievements/python-101"  # the achievement of tests.support.award_body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_token(container: Container, name: str, **scope: Any) -> str:
    return container.access.create(CreateClient(name=name, **scope)).token


def stored_credentials(container: Container) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(issued_credentials)).scalar_one())


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    problem: dict[str, Any] = loads(response.get_data())
    assert problem["status"] == status
    assert isinstance(problem["title"], str) and problem["title"]
    return problem


@pytest.fixture
def other(container: Container, issuer: Issuer) -> Issuer:
    """A second issuer, 'other', with an ES256 key (besides 'acme' from the `issuer` fixture)."""
    created = container.issuers.create(CreateIssuer(slug="other", name="Other College", url="https://other.example"))
    container.keys.generate(created, Algorithm.ES256)
    return created


# ---------------------------------------------------------------------------------------------------------------
# 401: no usable bearer token


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer eci_this-token-was-never-issued-0123456789abcdef", id="unknown-token"),
        pytest.param("Bearer", id="scheme-without-token"),
        pytest.param("Bearer ", id="scheme-and-blank"),
        pytest.param("Basic dXNlcjpwYXNzd29yZA==", id="basic-scheme"),
        pytest.param("Token {admin}", id="other-scheme-with-valid-token"),
        pytest.param("{admin}", id="valid-token-without-scheme"),
        pytest.param("Bearer {admin} trailing", id="valid-token-with-trailing-text"),
        pytest.param("Bearer {admin}x", id="valid-token-with-extra-character"),
    ],
)
def test_requests_without_a_valid_bearer_token_are_401(
    http: FlaskClient, container: Container, issuer: Issuer, admin_token: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization.format(admin=admin_token)}
    answers = {
        "issue": http.post(CREDENTIALS, json=award_body(), headers=headers),
        "list credentials": http.get(CREDENTIALS, headers=headers),
        "list issuers": http.get("/api/v1/issuers", headers=headers),
        "create issuer": http.post("/api/v1/issuers", json={"slug": "sneaky", "name": "Sneaky"}, headers=headers),
    }
    for action, response in answers.items():
        problem = problem_of(response, 401)
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), action
        assert problem["type"] == "urn:ec-issuer:problem:unauthenticated", action
        assert admin_token not in response.get_data(as_text=True), action
    assert stored_credentials(container) == 0
    assert container.issuers.get("sneaky") is None


def test_the_valid_token_is_accepted(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> None:
    """The counterpart of the 401 cases: the same requests with the token as issued succeed."""
    assert http.get(CREDENTIALS, headers=auth).status_code == 200
    assert http.post(CREDENTIALS, json=award_body(), headers=auth).status_code == 201


# ---------------------------------------------------------------------------------------------------------------
# 403: known clients outside their scopes


@pytest.mark.parametrize(
    "issuer_ref",
    [
        pytest.param("acme", id="by-slug"),
        pytest.param("did:web:issuer.test:issuers:acme", id="by-did"),
        pytest.param("ghost", id="issuer-that-does-not-exist"),
    ],
)
def test_a_client_scoped_to_another_issuer_may_not_issue(
    http: FlaskClient, container: Container, issuer: Issuer, other: Issuer, issuer_ref: str
) -> None:
    assert issuer.did == "did:web:issuer.test:issuers:acme"
    token = client_token(container, "other-only", issuers=["other"])

    problem = problem_of(http.post(CREDENTIALS, json=award_body(issuer=issuer_ref), headers=bearer(token)), 403)

    assert problem["type"] == "urn:ec-issuer:problem:forbidden"
    assert issuer_ref in problem["detail"] or "acme" in problem["detail"], problem
    assert stored_credentials(container) == 0


def test_a_client_without_the_achievement_in_its_allow_list_may_not_issue_it(
    http: FlaskClient, container: Container, issuer: Issuer
) -> None:
    token = client_token(
        container, "acme-other-badge", issuers=["acme"], achievements=["https://acme.example/achievements/rust-101"]
    )

    problem = problem_of(http.post(CREDENTIALS, json=award_body(), headers=bearer(token)), 403)

    assert PYTHON_101 in problem["detail"]
    assert stored_credentials(container) == 0


def test_a_client_with_an_empty_issuer_scope_may_issue_for_nobody(
    http: FlaskClient, container: Container, issuer: Issuer
) -> None:
    token = client_token(container, "nothing", issuers=[])

    problem_of(http.post(CREDENTIALS, json=award_body(), headers=bearer(token)), 403)
    assert loads(http.get("/api/v1/issuers", headers=bearer(token)).get_data())["items"] == []
    assert stored_credentials(container) == 0


def test_a_correctly_scoped_client_issues(http: FlaskClient, container: Container, issuer: Issuer) -> None:
    token = client_token(container, "acme-python", issuers=["acme"], achievements=[PYTHON_101])

    response = http.post(CREDENTIALS, json=award_body(), headers=bearer(token))

    assert response.status_code == 201, response.get_data(as_text=True)
    body = loads(response.get_data())
    assert body["issuer"] == "acme"
    assert body["achievementId"] == PYTHON_101
    assert stored_credentials(container) == 1
    assert http.get(f"{CREDENTIALS}/{body['id']}", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/api/v1/issuers", {"slug": "new", "name": "New"}, id="create-issuer"),
        pytest.param("POST", "/api/v1/issuers/acme/keys", {"algorithm": "ES256"}, id="generate-key"),
        pytest.param("POST", "/api/v1/clients", {"name": "escalated", "admin": True}, id="create-client"),
    ],
)
def test_admin_actions_need_an_admin_client(
    http: FlaskClient, container: Container, issuer: Issuer, method: str, path: str, body: dict[str, Any]
) -> None:
    token = client_token(container, "acme-issuing", issuers=["acme"])
    keys_before = len(container.keys.for_issuer("acme"))
    clients_before = len(container.access.all())

    problem = problem_of(http.open(path, method=method, json=body, headers=bearer(token)), 403)

    assert "admin" in problem["detail"]
    assert container.issuers.get("new") is None
    assert len(container.keys.for_issuer("acme")) == keys_before
    assert len(container.access.all()) == clients_before


# ---------------------------------------------------------------------------------------------------------------
# What a scoped client can see


def test_issuer_list_shows_only_the_issuers_a_client_may_use(
    http: FlaskClient, container: Container, issuer: Issuer, other: Issuer, auth: dict[str, str]
) -> None:
    container.issuers.create(CreateIssuer(slug="third", name="Third School"))
    token = client_token(container, "two-of-three", issuers=["other", "third"])

    def slugs(headers: dict[str, str]) -> set[str]:
        response = http.get("/api/v1/issuers", headers=headers)
        assert response.status_code == 200
        return {item["id"] for item in loads(response.get_data())["items"]}

    assert slugs(bearer(token)) == {"other", "third"}
    assert slugs(auth) == {"acme", "other", "third"}  # the admin client is not scoped


def test_a_scoped_client_cannot_see_another_issuers_credentials_or_keys(
    http: FlaskClient, container: Container, issuer: Issuer, other: Issuer, auth: dict[str, str]
) -> None:
    acme_credential = loads(http.post(CREDENTIALS, json=award_body(), headers=auth).get_data())
    other_credential = loads(http.post(CREDENTIALS, json=award_body(issuer="other"), headers=auth).get_data())
    outsider = bearer(client_token(container, "other-only", issuers=["other"]))
    acme_id: str = acme_credential["id"]

    # Hidden as if it did not exist: 404, not 403, so that a scoped client learns nothing about it.
    for path in (
        f"{CREDENTIALS}/{acme_id}",
        f"{CREDENTIALS}/{acme_id.removeprefix('urn:uuid:')}",
        "/api/v1/issuers/acme",
        f"/api/v1/issuers/{issuer.did}",
        "/api/v1/issuers/acme/keys",
    ):
        problem_of(http.get(path, headers=outsider), 404)
    problem_of(http.post(f"{CREDENTIALS}/verify", json={"credentialId": acme_id}, headers=outsider), 404)

    listed = loads(http.get(CREDENTIALS, headers=outsider).get_data())
    assert [item["id"] for item in listed["items"]] == [other_credential["id"]]
    searched = loads(http.get(f"{CREDENTIALS}?recipient=learner@example.org", headers=outsider).get_data())
    assert [item["id"] for item in searched["items"]] == [other_credential["id"]]

    # The same reads by a client whose scope covers acme do find it: the 404s above come from the scope.
    insider = bearer(client_token(container, "acme-only", issuers=["acme"]))
    assert http.get(f"{CREDENTIALS}/{acme_id}", headers=insider).status_code == 200
    assert http.get("/api/v1/issuers/acme/keys", headers=insider).status_code == 200
    insider_list = loads(http.get(CREDENTIALS, headers=insider).get_data())
    assert [item["id"] for item in insider_list["items"]] == [acme_id]


@pytest.mark.parametrize(
    "issuer_ref",
    [
        pytest.param("acme", id="by-slug"),
        pytest.param("did:web:issuer.test:issuers:acme", id="by-did"),
        pytest.param("ghost", id="issuer-that-does-not-exist"),
    ],
)
def test_filtering_the_list_by_an_issuer_outside_the_scope_finds_nothing(
    http: FlaskClient,
    container: Container,
    issuer: Issuer,
    other: Issuer,
    auth: dict[str, str],
    issuer_ref: str,
) -> None:
    assert http.post(CREDENTIALS, json=award_body(), headers=auth).status_code == 201
    outsider = bearer(client_token(container, "other-only", issuers=["other"]))

    response = http.get(f"{CREDENTIALS}?issuer={issuer_ref}", headers=outsider)

    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert loads(response.get_data()) == {"items": [], "nextCursor": None}


# ---------------------------------------------------------------------------------------------------------------
# The external authorization service (access/http_policy.py), as a real HTTP server in a thread

POLICY_TOKEN = "policy-service-token-0123456789"
Reply = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PolicyService:
    """A stand-in for the authorization service of docs/authorization.md; `reply` decides each answer."""

    url: str
    reply: Reply
    seen: list[SeenRequest] = field(default_factory=list[SeenRequest])
    release: threading.Event = field(default_factory=threading.Event)


def answer(status: int, body: bytes, content_type: str = "application/json") -> Reply:
    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return send


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the timeout case) is expected; keep stderr clean


@pytest.fixture
def policy_service() -> Iterator[PolicyService]:
    service = PolicyService(url="", reply=answer(200, b'{"allow": true}'))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            service.seen.append(SeenRequest("POST", self.path, dict(self.headers.items()), body))
            service.reply(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    service.url = f"http://127.0.0.1:{server.server_address[1]}/v1/decide"
    try:
        yield service
    finally:
        service.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Guarded:
    container: Container
    http: FlaskClient
    token: str  # an unscoped, non-admin client


def guarded_app(database_url: str, data_dir: Path, policy_url: str) -> Guarded:
    settings = make_settings(database_url, data_dir, authz_policy_url=policy_url, authz_policy_token=POLICY_TOKEN)
    container = build(settings, clock=SettableClock())
    acme = container.issuers.create(CreateIssuer(slug="acme", name="ACME University", url="https://acme.example"))
    container.keys.generate(acme, Algorithm.ES256)
    container.issuers.create(CreateIssuer(slug="other", name="Other College"))
    app = create_app(container)
    app.testing = False
    return Guarded(container, app.test_client(), client_token(container, "issuing-service"))


@pytest.fixture
def guarded(database_url: str, tmp_path: Path, policy_service: PolicyService) -> Iterator[Guarded]:
    """The app built with AUTHZ_POLICY_URL pointing at `policy_service`."""
    built = guarded_app(database_url, tmp_path, policy_service.url)
    yield built
    built.container.engine.dispose()


def test_the_policy_service_allows(guarded: Guarded, policy_service: PolicyService) -> None:
    response = guarded.http.post(CREDENTIALS, json=award_body(), headers=bearer(guarded.token))

    assert response.status_code == 201, response.get_data(as_text=True)
    assert stored_credentials(guarded.container) == 1
    # The request follows the documented contract.
    assert len(policy_service.seen) == 1
    seen = policy_service.seen[0]
    assert seen.method == "POST"
    assert seen.path == "/v1/decide"
    assert seen.headers.get("Authorization") == f"Bearer {POLICY_TOKEN}"
    assert seen.headers.get("Content-Type", "").startswith("application/json")
    asked = loads(seen.body)
    assert set(asked) == {"client_id", "client_name", "issuer", "achievement", "recipient"}
    assert asked["client_name"] == "issuing-service"
    assert asked["issuer"] == "acme"
    assert asked["achievement"] == PYTHON_101
    # The recipient is an opaque reference, never the address itself.
    assert "learner@example.org" not in seen.body.decode()
    assert isinstance(asked["recipient"], str) and len(asked["recipient"]) >= 32


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        pytest.param(
            answer(200, b'{"allow": false, "reason": "yearly quota used up"}'), "yearly quota used up", id="deny"
        ),
        pytest.param(answer(200, b'{"allow": false}'), "denied", id="deny-without-reason"),
        pytest.param(answer(200, b'{"allow": "true"}'), "", id="allow-as-string"),
        pytest.param(answer(200, b'{"allow": 1}'), "", id="allow-as-number"),
        pytest.param(answer(200, b"{}"), "", id="empty-object"),
        pytest.param(answer(200, b"[true]"), "unreadable", id="array"),
        pytest.param(answer(200, b"allow", "text/plain"), "unreadable", id="not-json"),
        pytest.param(answer(200, b""), "unreadable", id="empty-body"),
        pytest.param(answer(500, b'{"allow": true}'), "", id="status-500-saying-allow"),
        pytest.param(answer(201, b'{"allow": true}'), "", id="status-201-saying-allow"),
        pytest.param(answer(403, b'{"allow": true}'), "", id="status-403"),
        pytest.param(answer(302, b'{"allow": true}'), "", id="redirect"),
    ],
)
def test_the_policy_service_denies_or_fails_closed(
    guarded: Guarded, policy_service: PolicyService, reply: Reply, detail: str
) -> None:
    policy_service.reply = reply

    problem = problem_of(guarded.http.post(CREDENTIALS, json=award_body(), headers=bearer(guarded.token)), 403)

    assert detail in problem["detail"]
    assert len(policy_service.seen) == 1  # it was asked, and its answer was not taken as consent
    assert stored_credentials(guarded.container) == 0


def test_the_policy_service_timing_out_denies(guarded: Guarded, policy_service: PolicyService) -> None:
    """The service waits longer than the documented 2 s timeout before giving up on the request."""

    def hang(handler: BaseHTTPRequestHandler) -> None:
        policy_service.release.wait(10)  # set when the test ends

    policy_service.reply = hang

    problem = problem_of(guarded.http.post(CREDENTIALS, json=award_body(), headers=bearer(guarded.token)), 403)

    assert "unavailable" in problem["detail"]
    assert len(policy_service.seen) == 1
    assert stored_credentials(guarded.container) == 0


def test_the_policy_service_being_down_denies(database_url: str, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens once the block ends
    down = guarded_app(database_url, tmp_path, f"http://127.0.0.1:{port}/v1/decide")
    try:
        problem = problem_of(down.http.post(CREDENTIALS, json=award_body(), headers=bearer(down.token)), 403)
        assert "unavailable" in problem["detail"]
        assert stored_credentials(down.container) == 0
    finally:
        down.container.engine.dispose()


@pytest.mark.parametrize(
    ("scope", "issuer_ref"),
    [
        pytest.param({"issuers": ["other"]}, "acme", id="issuer-out-of-scope"),
        pytest.param({"achievements": ["https://acme.example/achievements/rust-101"]}, "acme", id="achievement"),
    ],
)
def test_scopes_are_checked_before_asking_the_policy_service(
    guarded: Guarded, policy_service: PolicyService, scope: dict[str, list[str]], issuer_ref: str
) -> None:
    token = client_token(guarded.container, "scoped", **scope)

    problem_of(guarded.http.post(CREDENTIALS, json=award_body(issuer=issuer_ref), headers=bearer(token)), 403)

    assert policy_service.seen == []  # the service that would have allowed it was never asked
    assert stored_credentials(guarded.container) == 0


def test_the_stand_in_service_answers_as_configured(policy_service: PolicyService) -> None:
    """The double itself: a plain HTTP POST gets the configured answer (so a 403 above is not our own bug)."""
    policy_service.reply = answer(200, dumps({"allow": False, "reason": "checked"}))
    response = httpx.post(policy_service.url, json={"ping": 1}, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"allow": False, "reason": "checked"}
    assert loads(policy_service.seen[0].body) == {"ping": 1}
