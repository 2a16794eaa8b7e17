"""A key backend that goes away mid-run: 503 problems, no partial rows, and issuing recovers when it is back.

OpenBao runs in production mode with file storage, so that a killed server comes back with its keys
(sealed, as after any real restart, until the unseal key is submitted).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.storage.tables import issued_credentials, signing_keys
from tests.backends.openbao import DurableOpenBao
from tests.conftest import json_of
from tests.support import award_body, make_settings

TOKEN = "outage-test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def service(
    openbao_durable: DurableOpenBao, database_url: str, tmp_path: Path
) -> Iterator[tuple[Container, FlaskClient]]:
    container = build(make_settings(database_url, tmp_path, vault=openbao_durable.settings, cache_ttl_seconds=0))
    issuer = container.issuers.create(CreateIssuer(slug="acme", name="ACME University"))
    container.keys.generate(issuer, Algorithm.ES256, "vault")
    container.access.ensure_bootstrap_client(TOKEN)
    try:
        yield container, create_app(container).test_client()
    finally:
        container.engine.dispose()


def rows(container: Container) -> tuple[int, int]:
    with container.engine.connect() as connection:
        credentials = connection.execute(select(func.count()).select_from(issued_credentials)).scalar_one()
        keys = connection.execute(select(func.count()).select_from(signing_keys)).scalar_one()
    return credentials, keys


def issue(http: FlaskClient, key: str) -> tuple[int, dict[str, object]]:
    response = http.post("/api/v1/credentials", json=award_body(), headers={**AUTH, "Idempotency-Key": key})
    return response.status_code, json_of(response)


def test_killing_openbao_gives_503s_and_issuing_recovers(
    service: tuple[Container, FlaskClient], openbao_durable: DurableOpenBao
) -> None:
    container, http = service
    assert issue(http, "before")[0] == 201
    assert rows(container) == (1, 1)

    openbao_durable.kill()
    for attempt in ("down-1", "down-2"):
        status, problem = issue(http, attempt)
        assert status == 503, problem
        assert problem["status"] == 503
        assert "vault" in str(problem["detail"]).lower() or "transit" in str(problem["detail"]).lower(), problem
    rotate = http.post("/api/v1/issuers/acme/keys/rotate", json={"backend": "vault"}, headers=AUTH)
    assert rotate.status_code == 503
    assert rows(container) == (1, 1)  # nothing half-stored: no credential, no key without its backend
    ready = http.get("/ready")
    assert ready.status_code == 503
    assert json_of(ready)["checks"]["keys:vault"] != "ok"

    openbao_durable.restart(unseal=False)  # back, but sealed: still unusable
    assert issue(http, "sealed")[0] == 503
    openbao_durable.unseal()

    assert issue(http, "after")[0] == 201
    assert issue(http, "down-1")[0] == 201  # a retry of a refused request simply succeeds now
    assert rows(container) == (3, 1)
    assert http.get("/ready").status_code == 200


def test_during_an_outage_verification_answers_from_what_it_can_check(
    service: tuple[Container, FlaskClient], openbao_durable: DurableOpenBao
) -> None:
    """A revocation while the key backend is away is stored (200), but its status lists cannot be signed again.
    Their URLs answer 503 (an outdated list would hide the revocation). The verification page and API still
    answer: the revoked credential is Revoked (its stored status), and a neighbour on the same list is Unknown
    (its list is unavailable), not a 503. Once the backend is back, the neighbour is Valid again."""
    _, http = service
    revoked, neighbour = (json_of(http.post("/api/v1/credentials", json=award_body(), headers=AUTH)) for _ in "ab")
    openbao_durable.kill()

    assert http.post(f"/api/v1/credentials/{revoked['id']}/revoke", json={}, headers=AUTH).status_code == 200
    assert http.get("/issuers/acme/status/revocation/1").status_code == 503

    def page(credential: dict[str, object]) -> dict[str, object]:
        answer = http.get(f"/credentials/{credential['id']}/", headers={"Accept": "application/json"})
        assert answer.status_code == 200, answer.data
        return json_of(answer)

    assert page(revoked)["verdict"] == "revoked"
    assert page(neighbour)["verdict"] == "unknown"
    checked = http.post("/api/v1/credentials/verify", json={"jws": neighbour["jws"]}, headers=AUTH)
    assert checked.status_code == 200
    verification = json_of(checked)
    assert verification["verified"] is False
    assert any("list unavailable" in error for error in verification["errors"]), verification["errors"]

    openbao_durable.restart()
    assert page(neighbour)["verdict"] == "valid"
    assert page(revoked)["verdict"] == "revoked"
