"""Offers delivered by an external OID4VCI agent (SSI_AGENT_URL), against a local stub of the UniCore ssi-agent's
admin API that records every call (tests/agent_stub.py): the calls and bodies we send, the failures we report,
and the agent's events mapped onto our offer states and outbox events.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from ec_issuer.access.commands import CreateClient
from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.issuers.model import Issuer
from ec_issuer.storage.tables import oid4vci_agent_events, oid4vci_agent_offers, oid4vci_offers, outbox_events
from tests.agent_stub import (
    AGENT_TOKEN,
    CREDENTIAL_ENDPOINT,
    NONCE_ENDPOINT,
    WEBHOOK_SECRET,
    AgentStub,
    Failure,
    agent_settings,
    running_agent,
)
from tests.conftest import json_of
from tests.support import SettableClock, award_body, make_settings

JWT_TEMPLATE = "ec-issuer.OpenBadgeCredential_jwt_vc_json"
LDP_TEMPLATE = "ec-issuer.OpenBadgeCredential_ldp_vc"
WEBHOOK = "/api/v1/agent/events"


@pytest.fixture
def agent() -> Iterator[AgentStub]:
    with running_agent(token=AGENT_TOKEN) as stub:
        yield stub


@pytest.fixture
def container(database_url: str, tmp_path: Path, clock: SettableClock, agent: AgentStub) -> Iterator[Container]:
    """The conftest container, with the agent mode on (so `issuer`, `http` and `auth` build on it)."""
    settings = make_settings(database_url, tmp_path, ssi_agent=agent_settings(agent.url, timeout_seconds=0.5))
    built = build(settings, clock=clock)
    yield built
    built.engine.dispose()


def award(
    achievement: str = "https://acme.example/achievements/python-101", name: str = "Python 101"
) -> dict[str, Any]:
    credential = award_body()
    del credential["issuer"], credential["recipient"]
    credential["achievement"] = {**credential["achievement"], "id": achievement, "name": name}
    return credential


def make_offer(http: FlaskClient, auth: dict[str, str], *awards: dict[str, Any], **extra: Any) -> Any:
    body = {"issuer": "acme", "awards": list(awards) or [{"credential": award()}], **extra}
    return http.post("/api/v1/offers", json=body, headers=auth)


def made(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_data(as_text=True)
    return json_of(response)


def count(container: Container, table: Any) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def offer_events(container: Container) -> int:
    with container.engine.connect() as connection:
        query = select(func.count()).where(outbox_events.c.type.like("org.ec-issuer.offer.%"))
        return int(connection.execute(query).scalar_one())


def outbox(container: Container, offer_id: str) -> list[dict[str, Any]]:
    with container.engine.connect() as connection:
        rows = connection.execute(
            select(outbox_events.c.envelope).where(outbox_events.c.subject == offer_id).order_by(outbox_events.c.seq)
        ).all()
    return [json.loads(row.envelope) for row in rows]


def send(http: FlaskClient, event: Any, *, secret: str = WEBHOOK_SECRET) -> Any:
    return http.post(WEBHOOK, json=event, headers={"Authorization": f"Bearer {secret}"})


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return json_of(response)


# --- making offers ----------------------------------------------------------------------------------------------


def test_an_offer_goes_to_the_agent_one_credential_per_award_and_each_template_is_made_once(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, agent: AgentStub, container: Container
) -> None:
    first_award, second_award = award(), award("https://acme.example/achievements/sql", "SQL")
    offer = made(make_offer(http, auth, {"credential": first_award}, {"credential": second_award}))

    assert [(call.method, call.path) for call in agent.calls] == [
        ("GET", "/v0/list-all-templates"),
        ("POST", "/v0/create-new-template"),
        ("POST", "/v0/credentials"),
        ("POST", "/v0/credentials"),
        ("POST", "/v0/offers"),
    ]
    assert all(call.headers["authorization"] == f"Bearer {AGENT_TOKEN}" for call in agent.calls)
    [template] = [call.body for call in agent.calls_to("POST", "/v0/create-new-template")]
    assert template == {
        "id": JWT_TEMPLATE,
        "title": JWT_TEMPLATE,
        "credentialFormat": "jwt_vc_json",
        "type": ["VerifiableCredential", "AchievementCredential"],
    }
    assert [call.body for call in agent.calls_to("POST", "/v0/credentials")] == [
        {"offerId": offer["id"], "credential": first_award, "templateId": JWT_TEMPLATE},
        {"offerId": offer["id"], "credential": second_award, "templateId": JWT_TEMPLATE},
    ]
    [offer_call] = agent.calls_to("POST", "/v0/offers")
    assert offer_call.body == {"offerId": offer["id"], "templateIds": [JWT_TEMPLATE]}

    # The answer carries the agent's link, and where the wallet will go with it.
    link = urlsplit(offer["offerLink"])
    assert link.scheme == "openid-credential-offer"
    document = json.loads(parse_qs(link.query)["credential_offer"][0])
    assert offer["offer"] == document and offer["offerLinkByValue"] == offer["offerLink"]
    assert offer["credentialIssuer"] == agent.url and offer["offerUri"] is None
    assert offer["delivery"] == {
        "by": "ssi-agent",
        "nonceEndpoint": NONCE_ENDPOINT,
        "credentialEndpoint": CREDENTIAL_ENDPOINT,
    }
    assert offer["state"] == "created" and "txCode" not in offer
    assert [a["id"] for a in offer["awards"]] == [f"{offer['id']}/0", f"{offer['id']}/1"]
    stored = json_of(http.get(f"/api/v1/offers/{offer['id']}", headers=auth))
    assert stored == offer
    [created] = outbox(container, offer["id"])
    assert created["type"] == "org.ec-issuer.offer.created" and created["data"]["awards"] == 2

    # A second offer reuses the template it knows, and makes the one for the other configuration once.
    agent.calls.clear()
    second = made(
        make_offer(
            http, auth, {"credential": award()}, {"configuration": "OpenBadgeCredential_ldp_vc", "credential": award()}
        )
    )
    assert [(call.method, call.path) for call in agent.calls] == [
        ("GET", "/v0/list-all-templates"),
        ("POST", "/v0/create-new-template"),
        ("POST", "/v0/credentials"),
        ("POST", "/v0/credentials"),
        ("POST", "/v0/offers"),
    ]
    assert agent.calls_to("POST", "/v0/create-new-template")[0].body["id"] == LDP_TEMPLATE
    assert [call.body["templateId"] for call in agent.calls_to("POST", "/v0/credentials")] == [
        JWT_TEMPLATE,
        LDP_TEMPLATE,
    ]
    assert agent.calls_to("POST", "/v0/offers")[0].body == {
        "offerId": second["id"],
        "templateIds": [JWT_TEMPLATE, LDP_TEMPLATE],
    }


def test_another_process_finds_the_templates_in_the_agent_rather_than_making_them_again(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, agent: AgentStub, database_url: str, tmp_path: Path
) -> None:
    made(make_offer(http, auth))
    agent.calls.clear()
    again = build(make_settings(database_url, tmp_path, ssi_agent=agent_settings(agent.url)))
    try:
        client = create_app(again).test_client()
        made(make_offer(client, auth))
    finally:
        again.engine.dispose()
    assert [(call.method, call.path) for call in agent.calls] == [
        ("GET", "/v0/list-all-templates"),
        ("POST", "/v0/credentials"),
        ("POST", "/v0/offers"),
    ]
    assert list(agent.templates) == [JWT_TEMPLATE]


def test_the_qr_codes_show_the_agents_link_and_the_built_in_endpoints_do_not_know_the_offer(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, agent: AgentStub, clock: SettableClock
) -> None:
    agent.by_reference = True
    offer = made(make_offer(http, auth, expires_in=600))
    assert offer["offerUri"] == f"{agent.url}/offers/{offer['id']}" and offer["offer"] is None
    assert offer["credentialIssuer"] is None and offer["offerLinkByValue"] is None
    png = http.get(urlsplit(offer["qrCode"]["png"]).path)
    assert png.status_code == 200 and png.mimetype == "image/png"
    [decoded] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.get_data())))
    assert decoded.text == offer["offerLink"]
    assert http.get(urlsplit(offer["qrCode"]["svg"]).path).status_code == 200
    # The agent serves the offer and its codes; our wallet endpoints have no such offer.
    reference_path = urlsplit(offer["qrCode"]["png"]).path.removesuffix("/qr.png")
    assert http.get(reference_path).status_code == 404
    clock.advance(timedelta(seconds=601))
    assert http.get(urlsplit(offer["qrCode"]["png"]).path).status_code == 404
    assert json_of(http.get(f"/api/v1/offers/{offer['id']}", headers=auth))["state"] == "expired"


def test_offers_are_authorized_and_checked_before_the_agent_is_called(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, agent: AgentStub, container: Container
) -> None:
    elsewhere = container.access.create(CreateClient(name="elsewhere", issuers=["elsewhere"]))
    other_badge = container.access.create(
        CreateClient(name="sql only", achievements=["https://acme.example/achievements/sql"])
    )
    for token in (elsewhere.token, other_badge.token):
        response = make_offer(http, {"Authorization": f"Bearer {token}"})
        assert problem(response, 403)["type"] == "urn:ec-issuer:problem:forbidden"
    assert make_offer(http, {"Authorization": "Bearer nobody-" + "x" * 32}).status_code == 401
    invalid = award()
    del invalid["achievement"]["name"]
    cases = {
        "/awards/0/credential/achievement/name": make_offer(http, auth, {"credential": invalid}),
        "/tx_code": make_offer(http, auth, tx_code={}),
        "/grants": make_offer(http, auth, grants=["authorization_code"]),
        "/awards/0/deferred": make_offer(http, auth, {"credential": award(), "deferred": True}),
        "/awards/0/template": make_offer(http, auth, {"template": "python-101"}),
    }
    for pointer, response in cases.items():
        assert pointer in {error["pointer"] for error in problem(response, 422)["errors"]}
    assert agent.calls == []
    assert count(container, oid4vci_agent_offers) == offer_events(container) == 0
    # The same client, allowed the achievement, gets through.
    allowed = {"Authorization": f"Bearer {other_badge.token}"}
    made(make_offer(http, allowed, {"credential": award("https://acme.example/achievements/sql", "SQL")}))


@pytest.mark.parametrize(
    ("method", "path", "failure", "status", "kind"),
    [
        ("POST", "/v0/offers", Failure(500), 502, "bad-gateway"),
        ("POST", "/v0/credentials", Failure(400, "invalid payload"), 502, "bad-gateway"),
        ("GET", "/v0/list-all-templates", Failure(503), 502, "bad-gateway"),
        ("POST", "/v0/offers", Failure(200, "<html>welcome</html>", "text/html"), 502, "bad-gateway"),
        ("POST", "/v0/offers", Failure(200, "https://agent.test/offers/1"), 502, "bad-gateway"),
        ("GET", "/v0/list-all-templates", Failure(200, "not json"), 502, "bad-gateway"),
        ("POST", "/v0/offers", Failure(302, "", "text/plain"), 502, "bad-gateway"),
        ("POST", "/v0/credentials", Failure(delay_seconds=1.5), 504, "gateway-timeout"),
        ("POST", "/v0/offers", Failure(delay_seconds=1.5), 504, "gateway-timeout"),
    ],
)
def test_an_agent_failure_is_a_gateway_problem_and_stores_nothing(
    http: FlaskClient,
    auth: dict[str, str],
    issuer: Issuer,
    agent: AgentStub,
    container: Container,
    method: str,
    path: str,
    failure: Failure,
    status: int,
    kind: str,
) -> None:
    agent.fail(method, path, failure)
    body = problem(make_offer(http, auth), status)
    assert body["type"] == f"urn:ec-issuer:problem:{kind}"
    assert method in body["detail"] and path in body["detail"]
    assert AGENT_TOKEN not in body["detail"] and "invalid payload" not in body["detail"]
    assert count(container, oid4vci_agent_offers) == offer_events(container) == 0
    # Once the agent is well again, the offer is made.
    agent.failures.clear()
    offer = made(make_offer(http, auth))
    assert count(container, oid4vci_agent_offers) == 1 and offer["state"] == "created"


def test_an_agent_that_cannot_be_reached_is_a_503(
    database_url: str, tmp_path: Path, issuer: Issuer, auth: dict[str, str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    unreachable = build(make_settings(database_url, tmp_path, ssi_agent=agent_settings(closed)))
    try:
        response = make_offer(create_app(unreachable).test_client(), auth)
        body = problem(response, 503)
        assert body["type"] == "urn:ec-issuer:problem:unavailable" and response.headers["Retry-After"]
        assert count(unreachable, oid4vci_agent_offers) == 0
    finally:
        unreachable.engine.dispose()


def test_offers_of_the_built_in_issuer_stay_readable_and_agent_offers_have_nothing_to_release(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, database_url: str, tmp_path: Path
) -> None:
    built_in = build(make_settings(database_url, tmp_path))
    try:
        earlier = made(make_offer(create_app(built_in).test_client(), auth))
    finally:
        built_in.engine.dispose()
    assert earlier["delivery"]["by"] == "built-in"
    read = json_of(http.get(f"/api/v1/offers/{earlier['id']}", headers=auth))
    assert read["offerLink"] == earlier["offerLink"] and read["delivery"]["by"] == "built-in"
    assert http.post(f"/api/v1/offers/{earlier['id']}/release", headers=auth).status_code == 200
    offer = made(make_offer(http, auth))
    assert problem(http.post(f"/api/v1/offers/{offer['id']}/release", headers=auth), 409)
    assert http.get("/api/v1/offers/no-such-offer", headers=auth).status_code == 404


# --- the agent's events -------------------------------------------------------------------------------------------


def test_the_webhook_needs_the_shared_secret(
    http: FlaskClient, issuer: Issuer, agent: AgentStub, container: Container, auth: dict[str, str]
) -> None:
    event = {"SomethingNew": {}}
    assert problem(http.post(WEBHOOK, json=event), 401)["type"] == "urn:ec-issuer:problem:unauthenticated"
    assert problem(send(http, event, secret="wrong"), 401)
    assert problem(send(http, event, secret=WEBHOOK_SECRET + "x"), 401)
    assert problem(http.post(WEBHOOK, json=event, headers=auth), 401)  # an API token is not the agent's secret
    assert problem(http.post(f"{WEBHOOK}/wrong-secret", json=event), 401)
    assert count(container, oid4vci_agent_events) == 0
    assert send(http, event).status_code == 202
    # UniCore's event publisher can be given a URL only: the secret may be its last segment.
    assert http.post(f"{WEBHOOK}/{WEBHOOK_SECRET}", json=event).status_code == 202
    assert count(container, oid4vci_agent_events) == 2


def test_without_an_agent_there_is_no_webhook(database_url: str, tmp_path: Path) -> None:
    plain = build(make_settings(database_url, tmp_path))
    try:
        response = create_app(plain).test_client().post(WEBHOOK, json={"SomethingNew": {}})
        assert problem(response, 404)
    finally:
        plain.engine.dispose()


def test_agent_events_move_the_offer_and_write_our_events_once(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, agent: AgentStub, container: Container
) -> None:
    offer = made(make_offer(http, auth, {"credential": award()}, {"credential": award()}))
    first, second = agent.credentials  # the agent's credential ids, as its Location headers gave them

    def state() -> dict[str, Any]:
        return json_of(http.get(f"/api/v1/offers/{offer['id']}", headers=auth))

    def outcome(event: dict[str, Any]) -> str:
        response = send(http, event)
        assert response.status_code == 202, response.get_data(as_text=True)
        return json_of(response)["outcome"]

    assert outcome({"CredentialOfferCreated": {"offer_id": offer["id"], "pre_authorized_code": "c"}}) == "noted"
    token = {"TokenResponseCreated": {"offer_id": offer["id"], "token_response": {"access_token": "secret-token"}}}
    assert outcome(token) == "applied"
    assert outcome(token) == "repeated"
    assert state()["state"] == "token_issued"
    assert outcome({"UnsignedCredentialCreated": {"credential_id": first, "notification_id": "n-1", "data": {}}}) == (
        "noted"
    )
    assert outcome(
        {"CredentialSigned": {"credential_id": first, "signed_credential": "eyJ...", "status": "Issued"}}
    ) == ("applied")
    signed = {
        "SignedCredentialCreated": {"credential_id": second, "signed_credential": "eyJ...", "notification_id": "n-2"}
    }
    assert outcome(signed) == "applied"
    assert outcome(signed) == "repeated"
    assert (state()["state"], state()["credentialsIssued"]) == ("credential_issued", 2)
    notification = {
        "NotificationReceived": {
            "credential_id": first,
            "notification": {"notification_id": "n-1", "event": "credential_accepted", "event_description": "ok"},
        }
    }
    assert outcome(notification) == "applied"
    assert outcome(notification) == "repeated"
    assert outcome({"CredentialResponseCreated": {"offer_id": offer["id"], "status": "Issued"}}) == "applied"
    after = state()
    assert (after["state"], after["notification"], after["credentialsIssued"]) == ("notified", "credential_accepted", 2)

    events = outbox(container, offer["id"])
    assert [event["type"].removeprefix("org.ec-issuer.") for event in events] == [
        "offer.created",
        "offer.redeemed",
        "offer.delivered",
        "offer.delivered",
        "offer.notified",
    ]
    delivered = [event["data"] for event in events if event["type"] == "org.ec-issuer.offer.delivered"]
    assert delivered == [
        {
            "offerId": offer["id"],
            "awardId": f"{offer['id']}/0",
            "configurationId": "OpenBadgeCredential_jwt_vc_json",
            "credentialIds": [first],
            "notificationId": "n-1",
        },
        {
            "offerId": offer["id"],
            "awardId": f"{offer['id']}/1",
            "configurationId": "OpenBadgeCredential_jwt_vc_json",
            "credentialIds": [second],
            "notificationId": "n-2",
        },
    ]
    notified = events[-1]["data"]
    assert notified == {
        "offerId": offer["id"],
        "notificationId": "n-1",
        "credentialIds": [first],
        "event": "credential_accepted",
    }
    assert "secret-token" not in str(events) and "eyJ" not in str(events)
    asyncapi = (Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml").read_text(encoding="utf-8")
    assert all(f"{name}:" in asyncapi for event in events for name in event["data"])


def test_events_arriving_out_of_order_never_move_an_offer_back(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, agent: AgentStub, container: Container
) -> None:
    offer = made(make_offer(http, auth))
    [credential] = agent.credentials
    notification = {"notification_id": "n-9", "event": "credential_failure"}
    assert (
        send(http, {"NotificationReceived": {"credential_id": credential, "notification": notification}}).status_code
        == 202
    )
    assert send(http, {"CredentialResponseCreated": {"offer_id": offer["id"]}}).status_code == 202
    assert send(http, {"TokenResponseCreated": {"offer_id": offer["id"]}}).status_code == 202
    assert send(http, {"CredentialSigned": {"credential_id": credential}}).status_code == 202
    after = json_of(http.get(f"/api/v1/offers/{offer['id']}", headers=auth))
    assert (after["state"], after["notification"], after["credentialsIssued"]) == ("notified", "credential_failure", 1)
    types = [event["type"].removeprefix("org.ec-issuer.") for event in outbox(container, offer["id"])]
    assert types == ["offer.created", "offer.notified", "offer.redeemed", "offer.delivered"]
    # No notification_id came with the signed credential, nor before it: the event says so.
    assert outbox(container, offer["id"])[-1]["data"]["notificationId"] is None


def test_events_that_are_not_ours_are_noted_and_ignored(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, agent: AgentStub, container: Container
) -> None:
    offer = made(make_offer(http, auth))
    cases = [
        ({"ServerMetadataLoaded": {"metadata": {}}}, "unknown-event"),
        ({"TokenResponseCreated": {"offer_id": "someone-elses-offer"}}, "unknown-offer"),
        ({"CredentialSigned": {"credential_id": "someone-elses-credential"}}, "unknown-credential"),
    ]
    for event, expected in cases:
        response = send(http, event)
        assert response.status_code == 202 and json_of(response)["outcome"] == expected
    assert json_of(http.get(f"/api/v1/offers/{offer['id']}", headers=auth))["state"] == "created"
    assert offer_events(container) == 1  # offer.created only
    with container.engine.connect() as connection:
        noted = connection.execute(
            select(oid4vci_agent_events.c.name, oid4vci_agent_events.c.outcome).order_by(oid4vci_agent_events.c.seq)
        ).all()
    assert [tuple(row) for row in noted] == [
        ("ServerMetadataLoaded", "unknown-event"),
        ("TokenResponseCreated", "unknown-offer"),
        ("CredentialSigned", "unknown-credential"),
    ]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ([{"TokenResponseCreated": {}}], ""),
        ({}, ""),
        ({"TokenResponseCreated": {"offer_id": "a"}, "CredentialSigned": {"credential_id": "b"}}, ""),
        ({"TokenResponseCreated": "offer-1"}, "/TokenResponseCreated"),
        ({"Token Response": {}}, "/Token Response"),
        ({"TokenResponseCreated": {}}, "/TokenResponseCreated/offer_id"),
        ({"TokenResponseCreated": {"offer_id": 7}}, "/TokenResponseCreated/offer_id"),
        ({"CredentialSigned": {"credential_id": "x\u0000y"}}, "/CredentialSigned/credential_id"),
        (
            {"NotificationReceived": {"credential_id": "c", "notification": {"notification_id": "n", "event": "ok"}}},
            "/NotificationReceived/notification/event",
        ),
        ({"NotificationReceived": {"credential_id": "c"}}, "/NotificationReceived/notification"),
    ],
)
def test_malformed_events_are_422_naming_the_field(
    http: FlaskClient, issuer: Issuer, container: Container, body: Any, pointer: str
) -> None:
    assert pointer in {error["pointer"] for error in problem(send(http, body), 422)["errors"]}
    assert count(container, oid4vci_agent_events) == 0


def test_unreadable_event_bodies_are_refused(http: FlaskClient, issuer: Issuer) -> None:
    headers = {"Authorization": f"Bearer {WEBHOOK_SECRET}"}
    assert problem(http.post(WEBHOOK, data=b"{not json", headers=headers, content_type="application/json"), 400)
    assert problem(http.post(WEBHOOK, data=b"TokenResponseCreated", headers=headers, content_type="text/plain"), 415)


def test_built_in_offers_are_not_touched_by_agent_events(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer, database_url: str, tmp_path: Path, container: Container
) -> None:
    built_in = build(make_settings(database_url, tmp_path))
    try:
        earlier = made(make_offer(create_app(built_in).test_client(), auth))
    finally:
        built_in.engine.dispose()
    response = send(http, {"TokenResponseCreated": {"offer_id": earlier["id"]}})
    assert json_of(response)["outcome"] == "unknown-offer"
    with container.engine.connect() as connection:
        state = connection.execute(select(oid4vci_offers.c.state).where(oid4vci_offers.c.id == earlier["id"])).scalar()
    assert state == "created"
