"""Fixtures shared by all tiers. Integration and e2e tests run once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build
from ec_issuer.core.encoding import loads
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.migrate import upgrade
from ec_issuer.storage.tables import metadata
from tests.services import POSTGRES_ADMIN_URL, unavailable
from tests.support import SettableClock, make_settings

DATABASES = ["sqlite", "postgres"]

# Real key backends (SoftHSM2 tokens, OpenBao servers) and moto's KMS, as fixtures for every tier.
pytest_plugins = ["tests.backends.softhsm", "tests.backends.openbao", "tests.backends.kms", "tests.backends.brokers"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    name = f"ec_issuer_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        unavailable("PostgreSQL", f"cannot connect to {POSTGRES_ADMIN_URL}: {exc.orig}")
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "ec-issuer.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs on SQLite and on PostgreSQL, starting from empty tables."""
    url = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
    engine.dispose()
    return url


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def container(database_url: str, tmp_path: Path, clock: SettableClock) -> Iterator[Container]:
    built = build(make_settings(database_url, tmp_path), clock=clock)
    yield built
    built.engine.dispose()


@pytest.fixture
def issuer(container: Container) -> Issuer:
    """Issuer 'acme' with an ES256 and an EdDSA key."""
    created = container.issuers.create(
        CreateIssuer(slug="acme", name="ACME University", url="https://acme.example", email="badges@acme.example")
    )
    container.keys.generate(created, Algorithm.ES256)
    container.keys.generate(created, Algorithm.EDDSA)
    return created


@pytest.fixture
def admin_token(container: Container) -> str:
    token = "test-admin-token-" + uuid.uuid4().hex
    container.access.ensure_bootstrap_client(token)
    return token


@pytest.fixture
def http(container: Container) -> FlaskClient:
    app = create_app(container)
    app.testing = False  # errors go through the real handlers, as in production
    return app.test_client()


@pytest.fixture
def auth(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


def json_of(response: Any) -> Any:
    return loads(response.get_data())
