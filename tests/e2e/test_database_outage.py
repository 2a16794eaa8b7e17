"""A lost or unreachable database is a 503 the caller may retry, never a 500, and the service recovers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import build
from ec_issuer.core.errors import Unavailable
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.tables import metadata
from ec_issuer.storage.unit_of_work import SqlUnitOfWork
from tests.conftest import json_of
from tests.integration.test_storage import make_issuer
from tests.services import terminate_connections_to
from tests.support import award_body, make_settings, unreachable_postgres_url


def test_connections_killed_by_the_server_are_replaced(postgres_url: str, tmp_path: Path) -> None:
    container = build(make_settings(postgres_url, tmp_path))
    try:
        for table in reversed(metadata.sorted_tables):
            with container.engine.begin() as connection:
                connection.execute(delete(table))
        issuer = container.issuers.create(CreateIssuer(slug="acme", name="ACME", url="https://acme.example"))
        container.keys.generate(issuer, Algorithm.ES256)
        token = "outage-admin-token-" + "0" * 24
        container.access.ensure_bootstrap_client(token)
        http = create_app(container).test_client()
        auth = {"Authorization": f"Bearer {token}"}
        assert http.post("/api/v1/credentials", json=award_body(), headers=auth).status_code == 201

        assert terminate_connections_to(postgres_url) >= 1  # the pooled connection the request used

        statuses = [http.post("/api/v1/credentials", json=award_body(), headers=auth).status_code for _ in range(3)]
    finally:
        container.engine.dispose()
    assert statuses == [201, 201, 201]


def test_an_unreachable_database_is_a_503_problem_with_retry_after(tmp_path: Path) -> None:
    container = build(make_settings(unreachable_postgres_url(), tmp_path))
    try:
        http = create_app(container).test_client()
        response = http.get("/api/v1/issuers", headers={"Authorization": "Bearer " + "x" * 40})
    finally:
        container.engine.dispose()

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    assert "database" in json_of(response)["detail"]


def test_a_connection_lost_inside_a_transaction_is_a_503_and_keeps_nothing(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        with pytest.raises(Unavailable), SqlUnitOfWork(engine) as uow:
            uow.issuers.add(make_issuer("lost-midway"))
            assert terminate_connections_to(postgres_url) >= 1
            uow.issuers.get_root()  # the transaction's second statement meets the dead connection: no retry
            uow.commit()
        with SqlUnitOfWork(engine) as uow:
            assert uow.issuers.get("lost-midway") is None
    finally:
        engine.dispose()


def test_the_public_page_tells_a_browser_it_cannot_check_now(tmp_path: Path) -> None:
    container = build(make_settings(unreachable_postgres_url(), tmp_path))
    try:
        http = create_app(container).test_client()
        page = "/credentials/00000000-0000-7000-8000-000000000000/"
        browser = http.get(page, headers={"Accept": "text/html"})
        program = http.get(page, headers={"Accept": "application/json"})
    finally:
        container.engine.dispose()

    assert (browser.status_code, browser.mimetype, browser.headers["Retry-After"]) == (503, "text/html", "1")
    text = browser.get_data(as_text=True)
    assert 'data-verdict="unavailable"' in text and "Try again in a moment" in text
    assert (program.status_code, program.mimetype) == (503, "application/problem+json")
