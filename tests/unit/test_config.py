"""Settings from the environment: defaults that depend on the database, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from ec_issuer.config import ConfigurationError, load_settings

SECRET = {"KEYSTORE_SECRET": "k" * 32}


@pytest.mark.parametrize(
    ("environment", "threads"),
    [
        ({}, 1),
        ({"DATABASE_URL": "sqlite:////tmp/x.db"}, 1),
        ({"DATABASE_URL": "postgresql+psycopg://u@h/db"}, 4),
        ({"DATABASE_URL": "postgresql+psycopg://u@h/db", "SERVER_THREADS": "8"}, 8),
        ({"SERVER_THREADS": "3"}, 3),
    ],
)
def test_worker_threads_default_to_what_the_database_can_use(
    environment: dict[str, str], threads: int, tmp_path: Path
) -> None:
    settings = load_settings({**SECRET, "EC_ISSUER_DATA_DIR": str(tmp_path), **environment})
    assert settings.server_threads == threads


def test_the_default_database_is_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings({**SECRET, "EC_ISSUER_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'ec-issuer.db'}"


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"CACHE_TTL_SECONDS": "-1"}, "CACHE_TTL_SECONDS"),
        ({"CACHE_TTL_SECONDS": "soon"}, "not a number"),
        ({"SERVER_PORT": "eighty"}, "not a number"),
        ({"KEYSTORE_SECRET": ""}, "KEYSTORE_SECRET"),
        ({"ISSUER_BASE_URL": "https://example.edu/badges"}, "origin"),
    ],
)
def test_unusable_settings_are_refused(environment: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings({**SECRET, "EC_ISSUER_DATA_DIR": str(tmp_path), **environment})


def test_the_eseal_is_generated_in_development_and_absent_in_production_unless_configured(tmp_path: Path) -> None:
    production = load_settings({**SECRET, "EC_ISSUER_DATA_DIR": str(tmp_path), "ISSUER_BASE_URL": "https://i.test"})
    assert production.elm_seal is None
    development = load_settings({"EC_ISSUER_ENV": "development", "EC_ISSUER_DATA_DIR": str(tmp_path)})
    assert development.elm_seal is not None and development.elm_seal.development
    assert development.elm_seal.pkcs12_path is not None
    assert development.elm_seal.pkcs12_path.parent.name == "DEVELOPMENT-ONLY-eseal"
    configured = load_settings(
        {
            **SECRET,
            "EC_ISSUER_DATA_DIR": str(tmp_path),
            "ISSUER_BASE_URL": "https://i.test",
            "ELM_SEAL_PKCS12": "/etc/seal.p12",
            "ELM_SEAL_PASSWORD": "pw",
            "ELM_TRUST_ANCHORS": "/etc/anchors.pem",
        }
    )
    assert configured.elm_seal is not None and not configured.elm_seal.development
    assert configured.elm_seal.password == "pw"
    assert "pw" not in repr(configured.elm_seal)


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"ELM_SEAL_ALGORITHM": "HS256"}, "ELM_SEAL_ALGORITHM"),
        ({"ELM_SEAL_PKCS12": "/a.p12", "ELM_SEAL_KEY_BACKEND": "pkcs11"}, "not both"),
        ({"ELM_SEAL_KEY_BACKEND": "pkcs11"}, "ELM_SEAL_KEY_REF"),
        (
            {
                "ELM_SEAL_KEY_BACKEND": "kms",
                "ELM_SEAL_KEY_REF": "alias/seal",
                "ELM_SEAL_CERTIFICATE_CHAIN": "/c.pem",
                "ELM_SEAL_ALGORITHM": "RS256",
            },
            "ES256",
        ),
    ],
)
def test_unusable_eseal_settings_are_refused(environment: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings({**SECRET, "EC_ISSUER_DATA_DIR": str(tmp_path), **environment})
