"""The external authorization server's settings (OID4VCI_AUTHORIZATION_SERVER, OID4VCI_AS_*): read when set,
refused at start when they cannot work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ec_issuer.bootstrap import external_authorization_server
from ec_issuer.config import ConfigurationError, load_settings
from tests.support import SettableClock

SECRET = "introspection-client-secret"
AS = {
    "KEYSTORE_SECRET": "k" * 32,
    "OID4VCI_AUTHORIZATION_SERVER": "https://login.example.edu/realms/badges",
    "OID4VCI_AS_JWKS_URL": "https://login.example.edu/realms/badges/protocol/openid-connect/certs",
    "OID4VCI_AS_INTROSPECTION_ENDPOINT": "https://login.example.edu/realms/badges/protocol/openid-connect/token/introspect",
    "OID4VCI_AS_CLIENT_ID": "ec-issuer",
    "OID4VCI_AS_CLIENT_SECRET": SECRET,
}


def test_without_it_the_built_in_server_is_the_only_one(tmp_path: Path) -> None:
    settings = load_settings({"KEYSTORE_SECRET": "k" * 32, "EC_ISSUER_DATA_DIR": str(tmp_path)})
    assert settings.oid4vci_authorization_server is None
    assert external_authorization_server(settings, SettableClock()) is None


def test_the_settings_are_read_exactly_and_the_secret_kept_out_of_reprs(tmp_path: Path) -> None:
    settings = load_settings({**AS, "EC_ISSUER_DATA_DIR": str(tmp_path), "OID4VCI_AS_TIMEOUT_SECONDS": "2"})
    server = settings.oid4vci_authorization_server
    assert server is not None
    assert server.issuer == AS["OID4VCI_AUTHORIZATION_SERVER"]  # byte for byte: it is compared with `iss`
    assert server.jwks_url == AS["OID4VCI_AS_JWKS_URL"]
    assert server.introspection_endpoint == AS["OID4VCI_AS_INTROSPECTION_ENDPOINT"]
    assert (server.client_id, server.client_secret, server.timeout_seconds) == ("ec-issuer", SECRET, 2.0)
    assert server.introspection_cache_seconds == 30.0
    assert SECRET not in repr(settings)
    built = external_authorization_server(settings, SettableClock())
    assert built is not None and built.issuer == server.issuer


def test_a_trailing_slash_in_the_issuer_is_kept(tmp_path: Path) -> None:
    environment = {**AS, "OID4VCI_AUTHORIZATION_SERVER": "https://as.example.edu/", "EC_ISSUER_DATA_DIR": str(tmp_path)}
    server = load_settings(environment).oid4vci_authorization_server
    assert server is not None and server.issuer == "https://as.example.edu/"


def test_keys_may_come_from_a_file_and_introspection_is_optional(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(
        json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})
    )
    environment = {
        "KEYSTORE_SECRET": "k" * 32,
        "EC_ISSUER_DATA_DIR": str(tmp_path),
        "OID4VCI_AUTHORIZATION_SERVER": "https://as.example.edu",
        "OID4VCI_AS_JWKS_FILE": str(jwks),
    }
    settings = load_settings(environment)
    server = settings.oid4vci_authorization_server
    assert server is not None and server.jwks_file == jwks.resolve() and server.introspection_endpoint is None
    assert external_authorization_server(settings, SettableClock()) is not None


def test_development_allows_http(tmp_path: Path) -> None:
    environment = {
        **AS,
        "EC_ISSUER_DATA_DIR": str(tmp_path),
        "OID4VCI_AUTHORIZATION_SERVER": "http://localhost:8080/realms/dev",
        "OID4VCI_AS_JWKS_URL": "http://localhost:8080/realms/dev/protocol/openid-connect/certs",
        "OID4VCI_AS_INTROSPECTION_ENDPOINT": "http://localhost:8080/realms/dev/protocol/openid-connect/token/introspect",
    }
    assert load_settings(environment, mode="development").oid4vci_authorization_server is not None


def _without(*names: str) -> dict[str, str]:
    return {name: value for name, value in AS.items() if name not in names}


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({**AS, "OID4VCI_AUTHORIZATION_SERVER": "http://login.example.edu"}, "must be an https URL"),
        ({**AS, "OID4VCI_AUTHORIZATION_SERVER": "login.example.edu"}, "must be an https URL"),
        ({**AS, "OID4VCI_AUTHORIZATION_SERVER": "https://as.example.edu/?realm=x"}, "no query"),
        ({**AS, "OID4VCI_AS_JWKS_URL": "http://login.example.edu/certs"}, "OID4VCI_AS_JWKS_URL must be"),
        ({**AS, "OID4VCI_AS_JWKS_FILE": "/nonexistent/jwks.json"}, "not both"),
        ({**_without("OID4VCI_AS_JWKS_URL"), "OID4VCI_AS_JWKS_FILE": "/nonexistent/jwks.json"}, "cannot be read"),
        (_without("OID4VCI_AS_CLIENT_SECRET"), "needs OID4VCI_AS_CLIENT_ID and OID4VCI_AS_CLIENT_SECRET"),
        (_without("OID4VCI_AS_INTROSPECTION_ENDPOINT"), "are for OID4VCI_AS_INTROSPECTION_ENDPOINT"),
        (
            _without(
                "OID4VCI_AS_JWKS_URL",
                "OID4VCI_AS_INTROSPECTION_ENDPOINT",
                "OID4VCI_AS_CLIENT_ID",
                "OID4VCI_AS_CLIENT_SECRET",
            ),
            "needs a way to check its access tokens",
        ),
        (_without("OID4VCI_AUTHORIZATION_SERVER"), "set OID4VCI_AUTHORIZATION_SERVER too"),
        ({**AS, "OID4VCI_AS_TIMEOUT_SECONDS": "0"}, "OID4VCI_AS_TIMEOUT_SECONDS must be"),
        ({**AS, "OID4VCI_AS_INTROSPECTION_CACHE_SECONDS": "3600"}, "between 0 and 300"),
        ({**AS, "OID4VCI_AS_INTROSPECTION_CACHE_SECONDS": "soon"}, "must be numbers"),
    ],
)
def test_unusable_settings_stop_the_start(tmp_path: Path, environment: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings({**environment, "EC_ISSUER_DATA_DIR": str(tmp_path)})


def test_a_jwks_file_that_is_no_key_set_stops_the_start(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": []}))
    environment = {**_without("OID4VCI_AS_JWKS_URL"), "OID4VCI_AS_JWKS_FILE": str(jwks)}
    with pytest.raises(ConfigurationError, match="non-empty keys array"):
        load_settings({**environment, "EC_ISSUER_DATA_DIR": str(tmp_path)})
