"""Liveness and readiness over HTTP: /health answers while the process runs, /ready only when it can work."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.issuers.model import Issuer
from tests.conftest import json_of
from tests.services import POSTGRES_ADMIN_URL, unavailable
from tests.support import make_settings


def test_health_answers_200(http: FlaskClient) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert json_of(response) == {"status": "ok"}


def test_ready_answers_200_on_a_migrated_database_with_a_keystore(http: FlaskClient, issuer: Issuer) -> None:
    response = http.get("/ready")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = json_of(response)
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "keys:local": "ok"}


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[FlaskClient]:
    """The app built for a PostgreSQL server that is not there (a loopback port nobody listens on)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends
    yield from _client_for(f"postgresql+psycopg://ec_issuer@127.0.0.1:{port}/ec_issuer", tmp_path)


@pytest.fixture
def missing_database(tmp_path: Path) -> Iterator[FlaskClient]:
    """The app built for a database that does not exist on a running PostgreSQL server."""
    admin = create_engine(POSTGRES_ADMIN_URL)
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        unavailable("PostgreSQL", f"cannot connect to {POSTGRES_ADMIN_URL}: {exc.orig}")
    finally:
        admin.dispose()
    name = f"ec_issuer_missing_{uuid.uuid4().hex[:10]}"
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield from _client_for(url, tmp_path)


@pytest.fixture
def unmigrated(tmp_path: Path) -> Iterator[FlaskClient]:
    """The app built for an empty SQLite file: reachable, but without the schema."""
    yield from _client_for(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)


def _client_for(database_url: str, tmp_path: Path) -> Iterator[FlaskClient]:
    settings = make_settings(database_url, tmp_path)
    settings.keystore_path.mkdir(mode=0o700)  # the keystore is fine: only the database is at fault
    container: Container = build(settings)
    app = create_app(container)
    app.testing = False
    try:
        yield app.test_client()
    finally:
        container.engine.dispose()


@pytest.mark.parametrize("client", ["offline", "missing_database"])
def test_ready_answers_503_when_the_database_is_unreachable(request: pytest.FixtureRequest, client: str) -> None:
    http: FlaskClient = request.getfixturevalue(client)

    response = http.get("/ready")

    assert response.status_code == 503
    body = json_of(response)
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unreachable")
    assert body["checks"]["keys:local"] == "ok"
    # The process itself is alive.
    assert http.get("/health").status_code == 200


def test_ready_answers_503_before_the_schema_is_migrated(unmigrated: FlaskClient) -> None:
    response = unmigrated.get("/ready")
    assert response.status_code == 503
    assert json_of(response)["checks"]["database"].startswith("schema at None")


def test_ready_answers_200_before_the_first_key_is_generated(http: FlaskClient) -> None:
    response = http.get("/ready")
    assert response.status_code == 200, response.get_data(as_text=True)


def test_ready_answers_503_when_the_keystore_cannot_be_created(database_url: str, tmp_path: Path) -> None:
    blocker = tmp_path / "occupied"
    blocker.write_text("a file where the keystore directory should go")
    container = build(make_settings(database_url, tmp_path, keystore_path=blocker / "keys"))
    try:
        response = create_app(container).test_client().get("/ready")
    finally:
        container.engine.dispose()
    assert response.status_code == 503
    assert "cannot be created" in json_of(response)["checks"]["keys:local"]
