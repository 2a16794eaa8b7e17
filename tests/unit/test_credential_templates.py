"""Credential templates without a database: configuration ids, the template command, awards made from templates,
and the template service over an in-memory store."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ec_issuer.access.model import ApiClient
from ec_issuer.core.encoding import loads
from ec_issuer.core.errors import Forbidden, InvalidInput, NotFound
from ec_issuer.events import catalogue
from ec_issuer.events.model import OutboxEvent
from ec_issuer.issuers.model import Issuer
from ec_issuer.oid4vci.commands import CreateOffer, checked_awards
from ec_issuer.oid4vci.configurations import CONFIGURATIONS, FORMAT_NAMES, FORMATS, configuration_named
from ec_issuer.oid4vci.ports import TemplateStore
from ec_issuer.oid4vci.template_commands import is_display_image, parse_template
from ec_issuer.oid4vci.template_service import CredentialTemplates
from ec_issuer.oid4vci.templates import CredentialTemplate
from tests.fakes import FIXED_NOW, FixedClock, SequentialIds
from tests.support import award_body

ACHIEVEMENT: dict[str, Any] = award_body()["achievement"]
DOCS = Path(__file__).resolve().parents[2] / "docs"


class MemoryTemplateStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], CredentialTemplate] = {}
        self.events: list[OutboxEvent] = []

    def template(self, issuer_slug: str, template_id: str) -> CredentialTemplate | None:
        return self.rows.get((issuer_slug, template_id))

    def active(self, issuer_slug: str) -> list[CredentialTemplate]:
        return sorted(
            (t for (slug, _), t in self.rows.items() if slug == issuer_slug and t.retired_at is None),
            key=lambda t: t.id,
        )

    def listed(self, issuer_slug: str, now: datetime) -> list[CredentialTemplate]:
        return [t for (slug, _), t in sorted(self.rows.items()) if slug == issuer_slug and t.listed_at(now)]

    def put(self, template: CredentialTemplate, event: OutboxEvent) -> None:
        self.rows[(template.issuer_slug, template.id)] = template
        self.events.append(event)

    def retire(self, issuer_slug: str, template_id: str, now: datetime, event: OutboxEvent) -> bool:
        template = self.rows[(issuer_slug, template_id)]
        if template.retired_at is not None:
            return False
        self.rows[(issuer_slug, template_id)] = replace(template, retired_at=now)
        self.events.append(event)
        return True

    def keep_listed(self, issuer_slug: str, template_ids: set[str], until: datetime) -> None:
        for template_id in template_ids:
            template = self.rows[(issuer_slug, template_id)]
            if template.listed_until is None or template.listed_until < until:
                self.rows[(issuer_slug, template_id)] = replace(template, listed_until=until)


def _conforms() -> None:
    store: TemplateStore = MemoryTemplateStore()
    del store


ISSUER = Issuer(slug="acme", did="did:web:issuer.test:issuers:acme", name="ACME University")
OPERATOR = ApiClient(id="operator", name="operator", token_hash="x" * 64, is_admin=True)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store() -> MemoryTemplateStore:
    return MemoryTemplateStore()


@pytest.fixture
def templates(store: MemoryTemplateStore, clock: FixedClock) -> CredentialTemplates:
    return CredentialTemplates(store, clock, SequentialIds())


def publish(templates: CredentialTemplates, template_id: str = "python-101", **body: Any) -> CredentialTemplate:
    command = parse_template({"achievement": ACHIEVEMENT, **body})
    return templates.publish(OPERATOR, ISSUER, template_id, command).template


# --- configuration ids ------------------------------------------------------------------------------------


def test_configuration_ids_name_their_template_and_format_and_never_collide_with_the_generic_ones() -> None:
    assert set(FORMAT_NAMES) == set(FORMATS)
    for identifier, configuration in CONFIGURATIONS.items():
        assert configuration_named(identifier) == configuration
        assert configuration.template_id is None
    named = configuration_named("python-101_ldp_vc")
    assert named is not None
    assert (named.template_id, named.format, named.securing) == ("python-101", "ldp_vc", "data-integrity")
    for unknown in ("python_101_jwt_vc_json", "Python-101_jwt_vc_json", "python-101_mso_mdoc", "python-101", "_ldp_vc"):
        assert configuration_named(unknown) is None, unknown


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("https://acme.example/badges/python.png", True),
        ("data:image/png;base64,iVBORw0KGgo=", True),
        ("data:image/webp;base64,UklGRg==", True),
        ("http://acme.example/badges/python.png", False),
        ("https:///no-host.png", False),
        ("https://acme.example/a b.png", False),
        ("data:image/svg+xml;base64,PHN2Zz4=", False),  # oid4vc-ts refuses it, and SVG can carry script
        ("data:image/png,raw", False),
        ("data:image/png;base64," + "A" * 70_000, False),
        ("javascript:alert(1)", False),
    ],
)
def test_which_logos_wallets_can_show(uri: str, shown: bool) -> None:
    assert is_display_image(uri) is shown


# --- the template command and awards ---------------------------------------------------------------------


def test_a_template_defaults_to_both_formats_and_the_achievements_name() -> None:
    command = parse_template({"achievement": ACHIEVEMENT})
    assert command.formats == ["jwt_vc_json", "ldp_vc"]
    assert command.wallet_display() == ({"name": "Python 101"},)
    assert command.credential_defaults() == {}


def test_an_award_from_a_template_takes_the_achievement_and_defaults_and_keeps_its_own_parts(
    templates: CredentialTemplates,
) -> None:
    template = publish(templates, name="Python 101 certificate", description="Awarded by ACME")
    command = CreateOffer.model_validate(
        {
            "issuer": "acme",
            "awards": [
                {"template": "python-101", "credential": {"description": "With distinction", "creditsEarned": 5}},
                {"template": "python-101", "format": "ldp_vc"},
            ],
        }
    )
    first, second = checked_awards(command, {template.id: template})
    assert first.configuration_id == "python-101_jwt_vc_json"
    assert first.credential == {
        "name": "Python 101 certificate",
        "description": "With distinction",
        "achievement": template.achievement,
        "creditsEarned": 5,
    }
    assert second.configuration_id == "python-101_ldp_vc"
    with pytest.raises(InvalidInput) as refused:
        checked_awards(command, {})
    assert [error.pointer for error in refused.value.errors] == ["/awards/0/template", "/awards/1/template"]


# --- the service ----------------------------------------------------------------------------------------------


def test_publishing_replacing_and_retiring_record_documented_events(
    templates: CredentialTemplates, store: MemoryTemplateStore, clock: FixedClock
) -> None:
    first = publish(templates)
    assert publish(templates) == first  # unchanged: nothing written
    clock.set(FIXED_NOW + timedelta(hours=1))
    replaced = publish(templates, formats=["ldp_vc"])
    assert (replaced.created_at, replaced.updated_at) == (FIXED_NOW, FIXED_NOW + timedelta(hours=1))
    templates.retire(OPERATOR, ISSUER, "python-101")
    templates.retire(OPERATOR, ISSUER, "python-101")  # retired already
    envelopes = [loads(event.envelope) for event in store.events]
    assert [(e["type"], e["subject"]) for e in envelopes] == [
        (catalogue.TEMPLATE_PUBLISHED, "python-101"),
        (catalogue.TEMPLATE_PUBLISHED, "python-101"),
        (catalogue.TEMPLATE_RETIRED, "python-101"),
    ]
    assert [e["data"]["replaced"] for e in envelopes[:2]] == [False, True]
    assert envelopes[2]["data"]["configurationIds"] == ["python-101_ldp_vc"]
    page = (DOCS / "events.md").read_text(encoding="utf-8")
    asyncapi = (DOCS / "asyncapi.yaml").read_text(encoding="utf-8")
    for envelope in envelopes:
        assert envelope["source"] == ISSUER.did
        for field in envelope["data"]:
            assert f"`{field}`" in page, (envelope["type"], field)
            assert f"{field}:" in asyncapi, (envelope["type"], field)
    with pytest.raises(NotFound):
        templates.get(ISSUER, "python-101")
    with pytest.raises(NotFound):
        templates.retire(OPERATOR, ISSUER, "never-was")


def test_a_retired_template_stays_listed_until_its_last_offer_expires(
    templates: CredentialTemplates, clock: FixedClock
) -> None:
    publish(templates)
    publish(templates, "data-101")
    templates.note_offered("acme", {"python-101"}, FIXED_NOW + timedelta(hours=2))
    templates.note_offered("acme", {"python-101"}, FIXED_NOW + timedelta(hours=1))  # an earlier expiry changes nothing
    templates.retire(OPERATOR, ISSUER, "python-101")
    templates.retire(OPERATOR, ISSUER, "data-101")
    assert [t.id for t in templates.listed("acme")] == ["python-101"]
    assert templates.offerable("acme", ["python-101", "data-101"]) == {}
    clock.set(FIXED_NOW + timedelta(hours=2))
    assert templates.listed("acme") == []


def test_clients_manage_only_templates_of_achievements_they_may_award(templates: CredentialTemplates) -> None:
    publish(templates)
    sql_only = ApiClient(id="sql", name="sql", token_hash="y" * 64, achievement_scope=("https://acme.example/sql",))
    command = parse_template({"achievement": ACHIEVEMENT})
    with pytest.raises(Forbidden):
        templates.publish(sql_only, ISSUER, "another-id", command)
    with pytest.raises(Forbidden):
        templates.retire(sql_only, ISSUER, "python-101")
    sql = parse_template({"achievement": {**ACHIEVEMENT, "id": "https://acme.example/sql"}})
    with pytest.raises(Forbidden):
        templates.publish(sql_only, ISSUER, "python-101", sql)  # it would replace another achievement's
    assert templates.publish(sql_only, ISSUER, "sql", sql).created
    with pytest.raises(InvalidInput):
        templates.publish(OPERATOR, ISSUER, "Not_A_Slug", command)
