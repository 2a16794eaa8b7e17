"""Credential templates over HTTP: the admin API, the configurations they add to the Credential Issuer metadata with
their wallet display, and offers made from them, redeemed by the plain HTTP wallet of test_oid4vci_protocol.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from ec_issuer.access.commands import CreateClient
from ec_issuer.bootstrap import Container
from ec_issuer.core.encoding import b64url_decode, loads
from ec_issuer.issuers.model import Issuer
from ec_issuer.storage.tables import outbox_events
from tests.conftest import json_of
from tests.e2e.test_oid4vci_protocol import Wallet, authorized_code, code_token, error_of
from tests.oid4vci_support import Holder
from tests.support import SettableClock, award_body

TEMPLATE = "python-101"
ACHIEVEMENT: dict[str, Any] = award_body()["achievement"]
DISPLAY = [
    {
        "name": "Python 101",
        "locale": "en",
        "description": "Introductory Python at ACME",
        "logo": {"uri": "https://acme.example/badges/python-101.png", "alt_text": "A blue snake"},
        "background_color": "#12107C",
        "text_color": "#FFFFFF",
    },
    {"name": "Python 101", "locale": "de-CH", "description": "Einführung in Python"},
]
LEARNER_PARTS = {
    "narrative": "Built a web scraper as the final project.",
    "results": [{"status": "Completed"}],
    "creditsEarned": 5,
}


def template_body(**changes: Any) -> dict[str, Any]:
    return {"achievement": ACHIEVEMENT, "name": "Python 101 certificate", "display": DISPLAY, **changes}


def templates_url(template_id: str = "", issuer: str = "acme") -> str:
    base = f"/api/v1/issuers/{issuer}/credential-templates"
    return f"{base}/{template_id}" if template_id else base


def put(http: FlaskClient, headers: dict[str, str], body: Any = None, template_id: str = TEMPLATE) -> Any:
    return http.put(templates_url(template_id), json=template_body() if body is None else body, headers=headers)


def published(http: FlaskClient, auth: dict[str, str], template_id: str = TEMPLATE, **changes: Any) -> dict[str, Any]:
    response = put(http, auth, template_body(**changes), template_id)
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return json_of(response)


def metadata_configurations(http: FlaskClient) -> dict[str, Any]:
    return json_of(http.get("/.well-known/openid-credential-issuer/issuers/acme"))[
        "credential_configurations_supported"
    ]


def event_types(container: Container, subject: str) -> list[str]:
    with container.engine.connect() as connection:
        types = connection.execute(
            select(outbox_events.c.type).where(outbox_events.c.subject == subject).order_by(outbox_events.c.seq)
        ).scalars()
        return [type_.removeprefix("org.ec-issuer.") for type_ in types]


def payload_of(jws: str) -> dict[str, Any]:
    return loads(b64url_decode(jws.split(".")[1]))


@pytest.fixture
def wallet(http: FlaskClient, issuer: Issuer, auth: dict[str, str]) -> Wallet:
    return Wallet(http, auth)


def redeem(wallet: Wallet, offer: dict[str, Any], configuration_id: str) -> tuple[str, Any]:
    """The access token for the offer, and the answer to a credential request under the configuration."""
    token = wallet.access_token(offer)
    proofs = {"jwt": [Holder().proof(wallet.nonce())]}
    return token, wallet.credential(token, {"credential_configuration_id": configuration_id, "proofs": proofs})


def verified(wallet: Wallet, credential: str | dict[str, Any]) -> bool:
    body = {"jws": credential} if isinstance(credential, str) else {"credential": credential}
    answer = json_of(wallet.http.post("/api/v1/credentials/verify", json=body, headers=wallet.auth))
    return answer["verified"]


# --- the admin API --------------------------------------------------------------------------------------------


def test_a_template_is_created_read_listed_and_replaced(wallet: Wallet, container: Container) -> None:
    http, auth = wallet.http, wallet.auth
    created = put(http, auth)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.headers["Location"] == templates_url(TEMPLATE)
    body = json_of(created)
    assert body["id"] == TEMPLATE and body["issuer"] == "acme"
    assert body["achievement"]["id"] == ACHIEVEMENT["id"]
    assert body["name"] == "Python 101 certificate" and body["description"] is None
    assert body["display"] == DISPLAY
    assert body["formats"] == ["jwt_vc_json", "ldp_vc"]
    assert body["configurationIds"] == ["python-101_jwt_vc_json", "python-101_ldp_vc"]
    assert json_of(http.get(templates_url(TEMPLATE), headers=auth)) == body
    assert json_of(http.get(templates_url(), headers=auth))["items"] == [body]

    unchanged = put(http, auth)
    assert unchanged.status_code == 200 and json_of(unchanged) == body
    replaced = published(http, auth, formats=["ldp_vc"], display=[])
    assert replaced["configurationIds"] == ["python-101_ldp_vc"]
    # Without a display of its own, wallets show the achievement's name.
    assert replaced["display"] == [{"name": ACHIEVEMENT["name"]}]
    assert replaced["createdAt"] == body["createdAt"]
    # An unchanged template publishes nothing.
    assert event_types(container, TEMPLATE) == ["template.published", "template.published"]
    assert http.get(templates_url("nothing-here"), headers=auth).status_code == 404


def test_the_achievements_image_is_the_default_logo_when_wallets_can_show_it(wallet: Wallet) -> None:
    image = (
        "data:image/png;base64,"
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    with_image = published(wallet.http, wallet.auth, achievement={**ACHIEVEMENT, "image": image}, display=[])
    assert with_image["display"] == [{"name": ACHIEVEMENT["name"], "logo": {"uri": image, "alt_text": "Python 101"}}]
    svg = "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="
    with_svg = published(wallet.http, wallet.auth, achievement={**ACHIEVEMENT, "image": svg}, display=[])
    assert with_svg["display"] == [{"name": ACHIEVEMENT["name"]}]


def test_invalid_templates_are_422_naming_the_field(wallet: Wallet) -> None:
    http, auth = wallet.http, wallet.auth
    no_name = {key: value for key, value in ACHIEVEMENT.items() if key != "name"}
    svg = "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="
    cases: list[tuple[str, dict[str, Any]]] = [
        ("/achievement/name", template_body(achievement=no_name)),
        ("/achievement", {"display": DISPLAY}),
        ("/display/0/background_color", template_body(display=[{"name": "x", "background_color": "blue"}])),
        ("/display/0/text_color", template_body(display=[{"name": "x", "text_color": "#FFF"}])),
        ("/display/0/logo/uri", template_body(display=[{"name": "x", "logo": {"uri": "http://acme.example/a.png"}}])),
        ("/display/0/logo/uri", template_body(display=[{"name": "x", "logo": {"uri": svg}}])),
        ("/display/0/locale", template_body(display=[{"name": "x", "locale": "english please"}])),
        ("/display/1/locale", template_body(display=[{"name": "x", "locale": "en"}, {"name": "y", "locale": "EN"}])),
        ("/display/0/name", template_body(display=[{"locale": "en"}])),
        ("/display/0/colour", template_body(display=[{"name": "x", "colour": "#000000"}])),
        ("/formats/0", template_body(formats=["mso_mdoc"])),
        ("/formats/1", template_body(formats=["ldp_vc", "ldp_vc"])),
        ("/formats", template_body(formats=[])),
    ]
    for pointer, body in cases:
        response = put(http, auth, body)
        assert response.status_code == 422, (pointer, response.get_data(as_text=True))
        assert response.mimetype == "application/problem+json"
        assert pointer in {error["pointer"] for error in json_of(response)["errors"]}, pointer
    bad_id = put(http, auth, template_id="Python_101")
    assert bad_id.status_code == 422
    assert [error["pointer"] for error in json_of(bad_id)["errors"]] == ["templateId"]
    not_json = http.put(templates_url(TEMPLATE), data="{", content_type="application/json", headers=auth)
    assert not_json.status_code == 400
    assert json_of(http.get(templates_url(), headers=auth))["items"] == []


def test_clients_need_the_issuer_and_the_achievement_in_scope(wallet: Wallet, container: Container) -> None:
    http, auth = wallet.http, wallet.auth
    published(http, auth)
    assert put(http, {}).status_code == 401
    assert http.get(templates_url(), headers={"Authorization": "Bearer nobody-" + "x" * 32}).status_code == 401
    elsewhere = container.access.create(CreateClient(name="elsewhere", issuers=["elsewhere"]))
    headers = {"Authorization": f"Bearer {elsewhere.token}"}
    assert http.get(templates_url(TEMPLATE), headers=headers).status_code == 404
    assert put(http, headers).status_code == 404
    assert http.delete(templates_url(TEMPLATE), headers=headers).status_code == 404
    sql_only = container.access.create(CreateClient(name="sql", achievements=["https://acme.example/achievements/sql"]))
    headers = {"Authorization": f"Bearer {sql_only.token}"}
    assert put(http, headers).status_code == 403  # the achievement is not its to award
    assert http.delete(templates_url(TEMPLATE), headers=headers).status_code == 403
    offered = http.post("/api/v1/offers", json={"issuer": "acme", "awards": [{"template": TEMPLATE}]}, headers=headers)
    assert offered.status_code == 403
    sql = {**ACHIEVEMENT, "id": "https://acme.example/achievements/sql", "name": "SQL"}
    assert put(http, headers, template_body(achievement=sql), "sql").status_code == 201
    # Nor may it take over a template of another achievement by replacing it.
    assert put(http, headers, template_body(achievement=sql)).status_code == 403
    assert http.get(templates_url(TEMPLATE), headers=headers).status_code == 200  # reading needs the issuer only


# --- metadata --------------------------------------------------------------------------------------------------


def test_the_metadata_lists_each_templates_configurations_with_its_display(wallet: Wallet) -> None:
    published(wallet.http, wallet.auth)
    published(wallet.http, wallet.auth, "data-101", formats=["ldp_vc"], display=[{"name": "Data 101"}])
    configurations = metadata_configurations(wallet.http)
    assert set(configurations) == {
        "OpenBadgeCredential_jwt_vc_json",
        "OpenBadgeCredential_ldp_vc",
        "python-101_jwt_vc_json",
        "python-101_ldp_vc",
        "data-101_ldp_vc",
    }
    for configuration_id, configuration in configurations.items():
        assert configuration["scope"] == configuration_id
        generic = configurations[f"OpenBadgeCredential_{configuration['format']}"]
        same = ("credential_definition", "cryptographic_binding_methods_supported", "proof_types_supported")
        for member in (*same, "credential_signing_alg_values_supported"):
            assert configuration[member] == generic[member], (configuration_id, member)
        assert configuration["credential_metadata"]["claims"] == generic["credential_metadata"]["claims"]
    assert configurations["python-101_jwt_vc_json"]["credential_metadata"]["display"] == DISPLAY
    assert configurations["data-101_ldp_vc"]["credential_metadata"]["display"] == [{"name": "Data 101"}]
    assert configurations["OpenBadgeCredential_jwt_vc_json"]["credential_metadata"]["display"][0]["name"] == (
        "Open Badge"
    )


# --- offers ----------------------------------------------------------------------------------------------------


def test_an_offer_from_a_template_is_redeemed_under_its_configuration(wallet: Wallet, container: Container) -> None:
    published(wallet.http, wallet.auth)
    offer = wallet.offer(awards=[{"template": TEMPLATE, "credential": LEARNER_PARTS}])
    assert offer["offer"]["credential_configuration_ids"] == ["python-101_jwt_vc_json"]
    assert offer["awards"][0]["template"] == TEMPLATE
    assert offer["awards"][0]["configuration"] == "python-101_jwt_vc_json"
    token, response = redeem(wallet, offer, "python-101_jwt_vc_json")
    assert response.status_code == 200, response.get_data(as_text=True)
    [entry] = json_of(response)["credentials"]
    credential = payload_of(entry["credential"])
    assert credential["name"] == "Python 101 certificate"
    assert credential["credentialSubject"]["achievement"]["id"] == ACHIEVEMENT["id"]
    assert credential["credentialSubject"]["achievement"]["name"] == ACHIEVEMENT["name"]
    assert credential["credentialSubject"]["narrative"] == LEARNER_PARTS["narrative"]
    assert credential["credentialSubject"]["creditsEarned"] == 5
    assert verified(wallet, entry["credential"])
    notified = wallet.http.post(
        "/issuers/acme/oid4vci/notification",
        json={"notification_id": json_of(response)["notification_id"], "event": "credential_accepted"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert notified.status_code == 204
    with container.engine.connect() as connection:
        delivered = connection.execute(
            select(outbox_events.c.envelope).where(
                outbox_events.c.subject == offer["id"], outbox_events.c.type == "org.ec-issuer.offer.delivered"
            )
        ).scalar_one()
    assert loads(delivered)["data"]["configurationId"] == "python-101_jwt_vc_json"


def test_a_template_in_ldp_vc_a_batch_and_the_generic_configuration_in_one_offer(wallet: Wallet) -> None:
    published(wallet.http, wallet.auth)
    generic = award_body()
    del generic["issuer"], generic["recipient"]
    offer = wallet.offer(
        awards=[
            {"template": TEMPLATE, "format": "ldp_vc", "credential": {"description": "With distinction"}},
            {"credential": generic},
        ]
    )
    assert offer["offer"]["credential_configuration_ids"] == ["python-101_ldp_vc", "OpenBadgeCredential_jwt_vc_json"]
    token = wallet.access_token(offer)
    nonce = wallet.nonce()
    proofs = {"jwt": [Holder("EdDSA").proof(nonce), Holder().proof(nonce)]}
    answer = wallet.credential(token, {"credential_configuration_id": "python-101_ldp_vc", "proofs": proofs})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    credentials = [entry["credential"] for entry in json_of(answer)["credentials"]]
    assert len(credentials) == 2
    for credential in credentials:
        proofs_of = credential["proof"] if isinstance(credential["proof"], list) else [credential["proof"]]
        assert {proof["type"] for proof in proofs_of} == {"DataIntegrityProof"}
        assert credential["description"] == "With distinction"  # the award's own, over the template's
        assert credential["credentialSubject"]["achievement"]["id"] == ACHIEVEMENT["id"]
        assert verified(wallet, credential)
    other = Holder().proof(wallet.nonce())
    plain = wallet.credential(
        token, {"credential_configuration_id": "OpenBadgeCredential_jwt_vc_json", "proofs": {"jwt": [other]}}
    )
    assert plain.status_code == 200, plain.get_data(as_text=True)
    proofs = {"jwt": [Holder().proof(wallet.nonce())]}
    not_offered = wallet.credential(token, {"credential_configuration_id": "python-101_jwt_vc_json", "proofs": proofs})
    assert error_of(not_offered) == "unknown_credential_configuration"


def test_offers_naming_templates_wrongly_are_422_naming_the_award(wallet: Wallet) -> None:
    published(wallet.http, wallet.auth, formats=["jwt_vc_json"])
    generic = award_body()
    del generic["issuer"], generic["recipient"]
    cases = {
        "/awards/0/template": {"template": "no-such-badge"},
        "/awards/0/configuration": {"template": TEMPLATE, "configuration": "OpenBadgeCredential_jwt_vc_json"},
        "/awards/0/format": {"template": TEMPLATE, "format": "ldp_vc"},
        "/awards/0/credential/achievement": {"template": TEMPLATE, "credential": {"achievement": ACHIEVEMENT}},
        "/awards/0/credential/creditsEarned": {"template": TEMPLATE, "credential": {"creditsEarned": "5"}},
    }
    for pointer, award in cases.items():
        response = wallet.http.post("/api/v1/offers", json={"issuer": "acme", "awards": [award]}, headers=wallet.auth)
        assert response.status_code == 422, (pointer, response.get_data(as_text=True))
        assert pointer in {error["pointer"] for error in json_of(response)["errors"]}, pointer
    without_template = {"format": "ldp_vc", "credential": generic}
    response = wallet.http.post(
        "/api/v1/offers",
        json={"issuer": "acme", "awards": [{"credential": generic}, without_template]},
        headers=wallet.auth,
    )
    assert response.status_code == 422
    assert "/awards/1/format" in {error["pointer"] for error in json_of(response)["errors"]}


def test_an_offer_keeps_the_achievement_it_was_made_with(wallet: Wallet) -> None:
    published(wallet.http, wallet.auth)
    offer = wallet.offer(awards=[{"template": TEMPLATE}])
    published(wallet.http, wallet.auth, achievement={**ACHIEVEMENT, "name": "Python 101 (2027 edition)"})
    _, response = redeem(wallet, offer, "python-101_jwt_vc_json")
    assert response.status_code == 200, response.get_data(as_text=True)
    [entry] = json_of(response)["credentials"]
    assert payload_of(entry["credential"])["credentialSubject"]["achievement"]["name"] == "Python 101"


def test_a_retired_template_takes_no_new_offers_but_its_offers_stay_redeemable(
    wallet: Wallet, container: Container, clock: SettableClock
) -> None:
    http, auth = wallet.http, wallet.auth
    published(http, auth)
    published(http, auth, "never-offered")
    offer = wallet.offer(awards=[{"template": TEMPLATE}], expires_in=3600)
    assert http.delete(templates_url(TEMPLATE), headers=auth).status_code == 204
    assert http.delete(templates_url(TEMPLATE), headers=auth).status_code == 204  # retired already: the same
    assert http.delete(templates_url("never-offered"), headers=auth).status_code == 204
    assert http.delete(templates_url("never-was"), headers=auth).status_code == 404
    assert http.get(templates_url(TEMPLATE), headers=auth).status_code == 404
    assert json_of(http.get(templates_url(), headers=auth))["items"] == []
    refused = http.post("/api/v1/offers", json={"issuer": "acme", "awards": [{"template": TEMPLATE}]}, headers=auth)
    assert refused.status_code == 422
    assert [error["pointer"] for error in json_of(refused)["errors"]] == ["/awards/0/template"]
    # Wallets look the offered configuration up in the metadata: it stays there while the offer can be redeemed.
    configurations = metadata_configurations(http)
    assert "python-101_jwt_vc_json" in configurations
    assert not any(name.startswith("never-offered_") for name in configurations)
    _, response = redeem(wallet, offer, "python-101_jwt_vc_json")
    assert response.status_code == 200, response.get_data(as_text=True)
    clock.advance(timedelta(seconds=3601))
    assert not any(name.startswith("python-101_") for name in metadata_configurations(http))
    assert event_types(container, TEMPLATE) == ["template.published", "template.retired"]
    # Publishing the id again brings the template back.
    assert put(http, auth).status_code == 200
    assert "python-101_jwt_vc_json" in metadata_configurations(http)


def test_deferred_draft13_and_authorization_code_requests_find_template_awards(wallet: Wallet) -> None:
    published(wallet.http, wallet.auth)
    offer = wallet.offer(awards=[{"template": TEMPLATE, "deferred": True}])
    token = wallet.access_token(offer)
    draft13 = {
        "format": "jwt_vc_json",
        "credential_definition": {"type": ["VerifiableCredential", "OpenBadgeCredential"]},
        "proof": {"proof_type": "jwt", "jwt": Holder().proof(wallet.nonce())},
    }
    accepted = wallet.credential(token, draft13)
    assert accepted.status_code == 202, accepted.get_data(as_text=True)
    transaction_id = json_of(accepted)["transaction_id"]
    assert wallet.http.post(f"/api/v1/offers/{offer['id']}/release", headers=wallet.auth).status_code == 200
    ready = wallet.http.post(
        "/issuers/acme/oid4vci/deferred",
        json={"transaction_id": transaction_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert ready.status_code == 200, ready.get_data(as_text=True)
    [entry] = json_of(ready)["credentials"]
    assert payload_of(entry["credential"])["credentialSubject"]["achievement"]["id"] == ACHIEVEMENT["id"]

    by_code = wallet.offer(awards=[{"template": TEMPLATE}], grants=["authorization_code"])
    code = authorized_code(wallet, by_code)  # its request's scope names the generic configuration: not read
    access = json_of(code_token(wallet, code))["access_token"]
    proofs = {"jwt": [Holder().proof(wallet.nonce())]}
    body = {"credential_configuration_id": "python-101_jwt_vc_json", "proofs": proofs}
    assert wallet.credential(access, body).status_code == 200
