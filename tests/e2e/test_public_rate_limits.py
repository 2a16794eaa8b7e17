"""The public verification routes answer 429 (problem+json, Retry-After) once an address has used its allowance;
other addresses, and the authenticated API, are not affected. Behind trusted proxies the client's address counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.config import ConfigurationError, load_settings
from ec_issuer.issuers.model import Issuer
from tests.support import SettableClock, make_settings
from tests.verification_support import issue_validation, page_path

BURST = 3
CLIENT = {"REMOTE_ADDR": "198.51.100.7"}
NEIGHBOUR = {"REMOTE_ADDR": "198.51.100.8"}
PROXY = {"REMOTE_ADDR": "10.0.0.2"}


def _container(database_url: str, tmp_path: Path, clock: SettableClock, **overrides: Any) -> Container:
    settings = make_settings(database_url, tmp_path, public_rate_per_minute=6, public_rate_burst=BURST, **overrides)
    return build(settings, clock=clock)


@pytest.fixture
def container(database_url: str, tmp_path: Path, clock: SettableClock) -> Iterator[Container]:
    built = _container(database_url, tmp_path, clock)
    yield built
    built.engine.dispose()


@pytest.fixture
def validation(http: FlaskClient, auth: dict[str, str], issuer: Issuer) -> dict[str, Any]:
    return issue_validation(http, auth, issuer)


def test_an_address_past_its_burst_gets_429_with_retry_after(http: FlaskClient, validation: dict[str, Any]) -> None:
    page = page_path(validation["id"])
    assert [http.get(page, environ_base=CLIENT).status_code for _ in range(BURST)] == [200] * BURST
    refused = http.get(page, environ_base=CLIENT)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    problem = refused.get_json()
    assert problem["type"] == "urn:ec-issuer:problem:too-many-requests" and problem["status"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 10  # 6 a minute: a token every 10 s
    # The same allowance covers the other public routes that cost CPU.
    key = page.strip("/").rsplit("/", 1)[1]
    assert http.get(f"/credentials/{key}/badge.png", environ_base=CLIENT).status_code == 429
    assert http.post("/credentials/verify", json={"credentialId": key}, environ_base=CLIENT).status_code == 429
    # Another address has an allowance of its own.
    assert http.get(page, environ_base=NEIGHBOUR).status_code == 200


def test_the_authenticated_api_is_not_limited(
    http: FlaskClient, auth: dict[str, str], validation: dict[str, Any]
) -> None:
    for _ in range(BURST + 2):
        answer = http.get(f"/api/v1/credentials/{validation['id']}", headers=auth, environ_base=CLIENT)
        assert answer.status_code == 200


def test_forwarded_addresses_count_only_behind_trusted_proxies(
    database_url: str, tmp_path: Path, clock: SettableClock
) -> None:
    path = "/credentials/00000000-0000-7000-8000-000000000000/"  # no such credential: 404 until limited
    direct = _container(database_url, tmp_path / "direct", clock)
    proxied = _container(database_url, tmp_path / "proxied", clock, trusted_proxy_hops=1)
    try:
        spoofer = create_app(direct).test_client()
        spoofed = [
            spoofer.get(path, environ_base=CLIENT, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(BURST + 1)
        ]
        assert spoofed == [404] * BURST + [429]  # without trusted proxies, the header buys no new allowance

        behind_proxy = create_app(proxied).test_client()
        first = {"X-Forwarded-For": "203.0.113.1"}
        answers = [behind_proxy.get(path, environ_base=PROXY, headers=first).status_code for _ in range(BURST + 1)]
        assert answers == [404] * BURST + [429]
        second = behind_proxy.get(path, environ_base=PROXY, headers={"X-Forwarded-For": "203.0.113.2"})
        assert second.status_code == 404  # a client of its own behind the same proxy
    finally:
        direct.engine.dispose()
        proxied.engine.dispose()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PUBLIC_RATE_PER_MINUTE", "-1"),
        ("PUBLIC_RATE_BURST", "0"),
        ("TRUSTED_PROXY_HOPS", "11"),
        ("PUBLIC_RATE_BURST", "x"),
    ],
)
def test_bad_allowance_settings_are_refused(variable: str, value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=variable if value != "x" else "not a number"):
        load_settings({"EC_ISSUER_DATA_DIR": str(tmp_path), variable: value}, mode="development")
