"""The external agent's settings (SSI_AGENT_*): read when SSI_AGENT_URL is set, refused when unusable."""

from __future__ import annotations

from pathlib import Path

import pytest

from ec_issuer.config import ConfigurationError, load_settings

SECRET = "w" * 32
AGENT = {
    "KEYSTORE_SECRET": "k" * 32,
    "SSI_AGENT_URL": "http://ssi-agent:3033/",
    "SSI_AGENT_NONCE_ENDPOINT": "https://agent.example.edu/openid4vci/nonce",
    "SSI_AGENT_CREDENTIAL_ENDPOINT": "https://agent.example.edu/openid4vci/credential",
    "SSI_AGENT_WEBHOOK_SECRET": SECRET,
}


def test_without_ssi_agent_url_the_built_in_issuer_delivers(tmp_path: Path) -> None:
    settings = load_settings({"KEYSTORE_SECRET": "k" * 32, "EC_ISSUER_DATA_DIR": str(tmp_path)})
    assert settings.ssi_agent is None


def test_the_agent_settings_are_read_and_secrets_kept_out_of_reprs(tmp_path: Path) -> None:
    token_file = tmp_path / "agent-token"
    token_file.write_text("agent-token-value\n")
    settings = load_settings(
        {
            **AGENT,
            "EC_ISSUER_DATA_DIR": str(tmp_path),
            "SSI_AGENT_TOKEN_FILE": str(token_file),
            "SSI_AGENT_TIMEOUT_SECONDS": "3",
        }
    )
    agent = settings.ssi_agent
    assert agent is not None
    assert agent.url == "http://ssi-agent:3033"  # the admin API may be on an internal http network
    assert agent.nonce_endpoint == AGENT["SSI_AGENT_NONCE_ENDPOINT"]
    assert agent.credential_endpoint == AGENT["SSI_AGENT_CREDENTIAL_ENDPOINT"]
    assert (agent.token, agent.webhook_secret, agent.timeout_seconds) == ("agent-token-value", SECRET, 3.0)
    assert "agent-token-value" not in repr(settings) and SECRET not in repr(settings)


def test_development_allows_http_wallet_endpoints(tmp_path: Path) -> None:
    environment = {**AGENT, "SSI_AGENT_NONCE_ENDPOINT": "http://localhost:3033/openid4vci/nonce"}
    settings = load_settings({**environment, "EC_ISSUER_DATA_DIR": str(tmp_path)}, mode="development")
    assert settings.ssi_agent is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"SSI_AGENT_URL": "ssi-agent:3033"}, "SSI_AGENT_URL must be"),
        ({"SSI_AGENT_URL": "https://user:pw@agent.example.edu"}, "SSI_AGENT_URL must be"),
        ({"SSI_AGENT_NONCE_ENDPOINT": ""}, "needs SSI_AGENT_NONCE_ENDPOINT"),
        ({"SSI_AGENT_CREDENTIAL_ENDPOINT": "/openid4vci/credential"}, "SSI_AGENT_CREDENTIAL_ENDPOINT must be"),
        ({"SSI_AGENT_NONCE_ENDPOINT": "http://agent.example.edu/nonce"}, "SSI_AGENT_NONCE_ENDPOINT must be an https"),
        ({"SSI_AGENT_WEBHOOK_SECRET": ""}, "SSI_AGENT_WEBHOOK_SECRET"),
        ({"SSI_AGENT_WEBHOOK_SECRET": "short"}, "at least 32"),
        ({"SSI_AGENT_TIMEOUT_SECONDS": "soon"}, "not a number"),
        ({"SSI_AGENT_TIMEOUT_SECONDS": "0"}, "SSI_AGENT_TIMEOUT_SECONDS must be"),
    ],
)
def test_unusable_agent_settings_are_refused(changes: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings({**AGENT, "EC_ISSUER_DATA_DIR": str(tmp_path), **changes})
