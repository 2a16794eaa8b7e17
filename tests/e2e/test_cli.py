"""The `ec-issuer` command line, in production mode on a SQLite file, and `serve --dev` as a real process."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ec_issuer.bootstrap import build
from ec_issuer.cli.main import cli
from ec_issuer.config import load_settings
from ec_issuer.core.encoding import b64url_decode, b64url_encode, dumps, loads
from ec_issuer.custody.eseal import write_development_eseal
from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.migrate import head_revision
from tests.elm_support import micro_credential_body
from tests.support import TEST_SECRET, award_body


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "EC_ISSUER_DATA_DIR": str(tmp_path),
        "KEYSTORE_SECRET": TEST_SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "EC_ISSUER_ENV": "production",
        "ISSUER_BASE_URL": "https://issuer.test",
    }


_INHERITABLE = (
    "KEYSTORE_PATH",
    "ADMIN_BOOTSTRAP_TOKEN",
    "DB_AUTO_UPGRADE",
    "AUTHZ_POLICY_URL",
    "AUTHZ_POLICY_TOKEN",
    "SERVER_HOST",
    "SERVER_PORT",
    "LOG_LEVEL",
)


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self._runner = CliRunner()

    def run(self, *args: str) -> Result:
        # Settings this process may have inherited are removed, so that only `env` configures the command.
        environment: dict[str, str | None] = dict.fromkeys(_INHERITABLE)
        environment.update(self.env)
        return self._runner.invoke(cli, list(args), env=environment, catch_exceptions=False)

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    def json(self, *args: str) -> Any:
        return loads(self.ok(*args))


@pytest.fixture
def run(env: dict[str, str]) -> Cli:
    return Cli(env)


@pytest.fixture
def ready(run: Cli) -> Cli:
    """A migrated database with issuer 'acme' holding an ES256 and an EdDSA key."""
    run.ok("db", "upgrade")
    run.ok("issuers", "create", "--slug", "acme", "--name", "ACME University", "--url", "https://acme.example")
    run.ok("keys", "generate", "--issuer", "acme")
    run.ok("keys", "generate", "--issuer", "acme", "--algorithm", "EdDSA")
    return run


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    path = tmp_path / "request.json"
    path.write_bytes(dumps(award_body()))
    return path


def _head(env: dict[str, str]) -> str:
    engine = make_engine(env["DATABASE_URL"])
    try:
        head = head_revision(engine)
    finally:
        engine.dispose()
    assert head is not None
    return head


# ------------------------------------------------------------------------------------------ db


def test_db_upgrade_and_current(run: Cli) -> None:
    head = _head(run.env)
    assert run.ok("db", "current").strip() == f"applied: None  latest: {head}"
    assert run.ok("db", "upgrade").strip() == f"database at revision {head}"
    assert run.ok("db", "current").strip() == f"applied: {head}  latest: {head}"
    assert run.ok("db", "upgrade").strip() == f"database at revision {head}"  # idempotent


def test_production_mode_needs_a_keystore_secret(run: Cli) -> None:
    run.env.pop("KEYSTORE_SECRET")
    result = run.run("issuers", "list")
    assert result.exit_code != 0
    assert "KEYSTORE_SECRET is required" in result.stderr


# ------------------------------------------------------------------------------------------ issuers, keys


def test_issuers_create_and_list(run: Cli) -> None:
    run.ok("db", "upgrade")
    created = run.json(
        "issuers", "create", "--slug", "acme", "--name", "ACME University", "--email", "badges@acme.example"
    )
    root = run.json("issuers", "create", "--slug", "home", "--name", "Home", "--root")

    assert created["id"] == "acme"
    assert created["did"] == "did:web:issuer.test:issuers:acme"
    assert created["didDocument"] == "https://issuer.test/issuers/acme/did.json"
    assert created["email"] == "badges@acme.example"
    assert root["did"] == "did:web:issuer.test"
    assert root["root"] is True
    assert [i["id"] for i in run.json("issuers", "list")] == ["acme", "home"]


def test_issuers_create_reports_the_invalid_field(run: Cli) -> None:
    run.ok("db", "upgrade")
    result = run.run("issuers", "create", "--slug", "Not A Slug", "--name", "x")
    assert result.exit_code != 0
    assert "/slug" in result.stderr

    run.ok("issuers", "create", "--slug", "acme", "--name", "ACME")
    again = run.run("issuers", "create", "--slug", "acme", "--name", "ACME")
    assert again.exit_code != 0
    assert "/slug: already taken" in again.stderr


def test_keys_generate_and_list_show_no_private_material(ready: Cli) -> None:
    output = ready.ok("keys", "generate", "--issuer", "acme", "--algorithm", "ES256")
    key = loads(output)
    assert key["algorithm"] == "ES256"
    assert key["state"] == "pending"  # acme has an active ES256 key: the new one waits, published
    assert key["kid"].startswith("did:web:issuer.test:issuers:acme#")
    assert set(key["publicJwk"]) == {"kty", "crv", "x", "y"}
    assert '"d"' not in output

    listing = ready.ok("keys", "list", "--issuer", "acme")
    keys = loads(listing)
    assert [k["algorithm"] for k in keys] == ["ES256", "EdDSA", "ES256"]
    assert all("d" not in k["publicJwk"] for k in keys)
    assert '"d"' not in listing
    assert keys[1]["publicJwk"]["kty"] == "OKP"


def test_keys_for_an_unknown_issuer(ready: Cli) -> None:
    result = ready.run("keys", "generate", "--issuer", "nobody")
    assert result.exit_code != 0
    assert "no issuer 'nobody'" in result.stderr


def test_credential_templates_put_list_and_retire(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "template.json"
    path.write_bytes(dumps({"achievement": award_body()["achievement"], "formats": ["jwt_vc_json"]}))
    put = ready.json("templates", "put", "--issuer", "acme", "python-101", str(path))
    assert put["configurationIds"] == ["python-101_jwt_vc_json"]
    assert put["display"] == [{"name": "Python 101"}]
    assert [template["id"] for template in ready.json("templates", "list", "--issuer", "acme")] == ["python-101"]
    assert ready.ok("templates", "retire", "--issuer", "acme", "python-101").strip() == (
        "retired credential template 'python-101'"
    )
    assert ready.json("templates", "list", "--issuer", "acme") == []
    refused = ready.run("templates", "put", "--issuer", "acme", "Python_101", str(path))
    assert refused.exit_code != 0
    assert "templateId" in refused.stderr


# ------------------------------------------------------------------------------------------ clients


def test_clients_create_prints_a_token_that_authenticates(ready: Cli) -> None:
    created = ready.json("clients", "create", "--name", "registrar", "--issuer", "acme")

    token = created["token"]
    assert token.startswith("eci_")
    assert created["issuers"] == ["acme"]
    assert created["achievements"] is None
    assert created["admin"] is False

    container = build(load_settings(ready.env))
    try:
        client = container.access.authenticate(token)
        assert client.id == created["id"]
        assert client.issuer_scope == ("acme",)
        # The token was shown once: it is not stored, only its hash.
        assert all(token not in repr(c) for c in container.access.all())
    finally:
        container.engine.dispose()


# ------------------------------------------------------------------------------------------ credentials


def test_credentials_issue_show_and_verify(ready: Cli, request_file: Path) -> None:
    issued = ready.json("credentials", "issue", str(request_file))
    credential_id = issued["id"]
    assert credential_id.startswith("urn:uuid:")
    assert issued["status"] == "active"
    assert issued["credential"]["issuer"]["id"] == "did:web:issuer.test:issuers:acme"
    assert issued["credential"]["credentialSubject"]["achievement"]["name"] == "Python 101"

    shown = ready.json("credentials", "show", credential_id)
    assert shown == issued
    bare_uuid = credential_id.removeprefix("urn:uuid:")
    assert ready.json("credentials", "show", bare_uuid) == issued
    assert ready.ok("credentials", "show", credential_id, "--jws").strip() == issued["jws"]

    verified = ready.json("credentials", "verify", credential_id)
    assert verified["verified"] is True, verified["errors"]
    assert verified["credentialId"] == credential_id
    assert {c["check"]: c["result"] for c in verified["checks"]}["signature"] == "passed"


def test_credentials_issue_replays_with_an_idempotency_key(ready: Cli, request_file: Path) -> None:
    first = ready.json("credentials", "issue", str(request_file), "--idempotency-key", "batch-7")
    second = ready.json("credentials", "issue", str(request_file), "--idempotency-key", "batch-7")
    third = ready.json("credentials", "issue", str(request_file))

    assert second == first
    assert third["id"] != first["id"]

    other = request_file.with_name("other.json")
    other.write_bytes(dumps(award_body(recipient={"email": "someone@example.org"})))
    conflict = ready.run("credentials", "issue", str(other), "--idempotency-key", "batch-7")
    assert conflict.exit_code != 0
    assert "Idempotency-Key" in conflict.stderr


def test_credentials_verify_a_file_with_a_jws(ready: Cli, request_file: Path, tmp_path: Path) -> None:
    jws = ready.json("credentials", "issue", str(request_file))["jws"]
    good = tmp_path / "good.jwt"
    good.write_text(jws + "\n")
    assert ready.json("credentials", "verify", str(good))["verified"] is True


def test_credentials_verify_a_tampered_jws_fails(ready: Cli, request_file: Path, tmp_path: Path) -> None:
    jws = ready.json("credentials", "issue", str(request_file))["jws"]
    header, payload, signature = jws.split(".")
    document = loads(b64url_decode(payload))
    document["name"] = "Python 901"
    tampered = tmp_path / "tampered.jwt"
    tampered.write_text(".".join([header, b64url_encode(dumps(document)), signature]))

    result = ready.run("credentials", "verify", str(tampered))

    assert result.exit_code == 1
    verdict = loads(result.stdout)
    assert verdict["verified"] is False
    assert {c["check"]: c["result"] for c in verdict["checks"]}["signature"] == "failed"


def test_an_invalid_request_file_names_the_field(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "invalid.json"
    path.write_bytes(dumps(award_body(recipient={"email": "not-an-address"})))

    result = ready.run("credentials", "issue", str(path))

    assert result.exit_code != 0
    assert "/recipient/email" in result.stderr
    assert "not a valid e-mail address" in result.stderr


def test_a_request_file_that_is_not_json(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"issuer": ')
    result = ready.run("credentials", "issue", str(path))
    assert result.exit_code != 0
    assert "is not valid JSON" in result.stderr


def test_credentials_show_an_unknown_id(ready: Cli) -> None:
    result = ready.run("credentials", "show", "urn:uuid:00000000-0000-4000-8000-000000000000")
    assert result.exit_code != 0
    assert "no credential" in result.stderr


# ------------------------------------------------------------------------------------------ serve --dev

READY_TIMEOUT_SECONDS = 30


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`ec-issuer serve --dev` in its own process group; yields its base URL and its stdout file."""
    executable = shutil.which("ec-issuer", path=str(Path(sys.executable).parent))
    assert executable is not None, "the ec-issuer console script is not installed in this environment"
    port = _free_port()
    configured = {"KEYSTORE_SECRET", "DATABASE_URL", "EC_ISSUER_ENV", "ADMIN_BOOTSTRAP_TOKEN", "ISSUER_BASE_URL"}
    env = {k: v for k, v in os.environ.items() if k not in configured and not k.startswith(("SERVER_", "KEYSTORE_"))}
    env.update({"EC_ISSUER_DATA_DIR": str(tmp_path / "data"), "SERVER_PORT": str(port), "SERVER_WORKERS": "1"})
    stdout_path = tmp_path / "serve.out"
    with stdout_path.open("wb") as stdout, (tmp_path / "serve.err").open("wb") as stderr:
        process = subprocess.Popen(
            [executable, "serve", "--dev"],
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve exited with {process.returncode}: {(tmp_path / 'serve.err').read_text()}")
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"/ready did not answer 200 within {READY_TIMEOUT_SECONDS} s")
            time.sleep(0.2)
        yield base, stdout_path
    finally:
        _stop_process_group(process)


def _stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group; the server must exit 0 and leave no worker behind."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail("serve did not stop within 15 s of SIGTERM")
        assert process.returncode == 0, f"serve exited with {process.returncode} on SIGTERM"
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return  # the group is empty
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("processes of the server's group outlived it")
        time.sleep(0.1)


def test_serve_dev_starts_a_working_service(dev_server: tuple[str, Path]) -> None:
    base, stdout_path = dev_server
    port = base.rsplit(":", 1)[1]
    printed = stdout_path.read_text()
    assert f"http://127.0.0.1:{port}" in printed
    match = re.search(r"admin token \(DEVELOPMENT ONLY\): (\S+)", printed)
    assert match, printed
    token = match.group(1)

    issuers = httpx.get(f"{base}/api/v1/issuers", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert issuers.status_code == 200
    [dev] = issuers.json()["items"]
    assert dev["id"] == "dev"
    assert dev["root"] is True
    assert dev["did"] == f"did:web:localhost%3A{port}"
    assert httpx.get(f"{base}/api/v1/issuers", timeout=5).status_code == 401

    did = httpx.get(f"{base}/.well-known/did.json", timeout=5)
    assert did.status_code == 200
    assert did.json()["id"] == dev["did"]
    assert len(did.json()["verificationMethod"]) == 2  # one ES256 and one EdDSA development key

    spec = httpx.get(f"{base}/openapi.json", timeout=5)
    assert spec.status_code == 200
    assert spec.json()["openapi"].startswith("3.1")

    assert httpx.get(f"{base}/docs", timeout=5).status_code == 200


def test_keys_rotate_retire_revoke_and_import(ready: Cli, tmp_path: Path) -> None:
    [es256, _] = ready.json("keys", "list", "--issuer", "acme")
    rotated = ready.json("keys", "rotate", "--issuer", "acme")
    assert rotated["state"] == "active"
    states = {k["kid"]: k["state"] for k in ready.json("keys", "list", "--issuer", "acme")}
    assert states[es256["kid"]] == "retired"

    assert ready.json("keys", "activate", "--issuer", "acme", "--key", es256["fragment"])["state"] == "active"
    assert ready.json("keys", "retire", "--issuer", "acme", "--key", es256["kid"])["state"] == "retired"
    revoked = ready.json("keys", "revoke", "--issuer", "acme", "--key", es256["fragment"], "--reason", "leaked")
    assert (revoked["state"], revoked["revocationReason"]) == ("revoked", "leaked")
    again = ready.run("keys", "activate", "--issuer", "acme", "--key", es256["fragment"])
    assert again.exit_code != 0
    assert "revoked" in again.stderr

    private = ec.generate_private_key(ec.SECP256R1())
    pem_file = tmp_path / "import.pem"
    pem_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    imported = ready.ok("keys", "import", "--issuer", "acme", "--private-key-file", str(pem_file), "--activate")
    key = loads(imported)
    assert key["state"] == "active"
    assert key["publicJwk"]["x"] == b64url_encode(private.public_key().public_numbers().x.to_bytes(32, "big"))
    assert "PRIVATE KEY" not in imported
    no_source = ready.run("keys", "import", "--issuer", "acme")
    assert no_source.exit_code != 0


def test_unconfigured_backends_are_refused_by_name(ready: Cli) -> None:
    result = ready.run("keys", "generate", "--issuer", "acme", "--backend", "pkcs11")
    assert result.exit_code != 0
    assert "/backend" in result.stderr
    assert "local" in result.stderr


def test_a_did_key_issuer_from_the_command_line(run: Cli) -> None:
    run.ok("db", "upgrade")
    issuer = run.json("issuers", "create", "--slug", "tutor", "--name", "A Tutor", "--did-key", "EdDSA")
    assert issuer["did"].startswith("did:key:z6Mk")
    assert issuer["didDocument"] is None
    [key] = run.json("keys", "list", "--issuer", "tutor")
    assert key["kid"] == issuer["did"] + "#" + issuer["did"].removeprefix("did:key:")
    refused = run.run("keys", "rotate", "--issuer", "tutor", "--algorithm", "EdDSA")
    assert refused.exit_code != 0
    assert "did:key" in refused.stderr


def test_a_data_integrity_credential_from_the_command_line(ready: Cli, tmp_path: Path) -> None:
    request = tmp_path / "di.json"
    request.write_bytes(dumps(award_body(format="data-integrity")))
    issued = ready.json("credentials", "issue", str(request))
    assert (issued["format"], issued["jws"]) == ("data-integrity", None)

    assert loads(ready.ok("credentials", "verify", issued["id"]))["verified"] is True
    document = tmp_path / "credential.json"
    document.write_bytes(dumps(issued["credential"]))
    assert loads(ready.ok("credentials", "verify", str(document)))["verified"] is True
    document.write_bytes(dumps({**issued["credential"], "name": "edited"}))
    assert ready.run("credentials", "verify", str(document)).exit_code == 1
    no_jws = ready.run("credentials", "show", issued["id"], "--jws")
    assert no_jws.exit_code != 0
    assert "no JWS" in no_jws.stderr


def test_revoke_suspend_reinstate_history_and_expire_from_the_command_line(ready: Cli, request_file: Path) -> None:
    issued = ready.json("credentials", "issue", str(request_file))
    suspended = ready.json("credentials", "suspend", issued["id"], "--reason", "checking")
    assert (suspended["status"], suspended["changed"]) == ("suspended", True)
    assert ready.json("credentials", "reinstate", issued["id"])["status"] == "active"
    revoked = ready.json("credentials", "revoke", issued["id"], "--reason-code", "fraud", "--reason", "forged")
    assert (revoked["status"], revoked["previousStatus"]) == ("revoked", "active")
    assert ready.json("credentials", "revoke", issued["id"])["changed"] is False
    history = ready.json("credentials", "history", issued["id"])
    assert [e["event"] for e in history["events"]] == ["issued", "suspended", "reinstated", "revoked"]
    assert (history["events"][-1]["reasonCode"], history["events"][-1]["reason"]) == ("fraud", "forged")
    assert ready.json("credentials", "expire") == {"expired": 0}
    refused = ready.run("credentials", "revoke", issued["id"], "--reason-code", "nonsense")
    assert refused.exit_code != 0
    assert "reason code" in refused.output
    assert ready.run("credentials", "reinstate", issued["id"]).exit_code != 0  # revoked is permanent


def test_events_stats_and_a_relay_without_a_broker(ready: Cli, request_file: Path) -> None:
    ready.json("credentials", "issue", str(request_file))
    stats = ready.json("events", "stats")
    assert stats["pending"] == 3  # two key activations and the issue
    assert stats["dead"] == 0
    assert ready.json("events", "dead") == []
    assert ready.json("events", "replay") == {"replayed": 0}
    refused = ready.run("relay", "--once")
    assert refused.exit_code != 0
    assert "EVENT_BROKER" in refused.output


# ------------------------------------------------------------------------------------------ europass


def test_issue_an_edc_export_it_and_verify_the_file(ready: Cli, tmp_path: Path) -> None:
    files = write_development_eseal(tmp_path / "eseal")
    ready.env.update(
        {
            "ELM_SEAL_PKCS12": str(files.pkcs12),
            "ELM_SEAL_PASSWORD_FILE": str(files.password_file),
            "ELM_TRUST_ANCHORS": str(files.ca_certificate),
        }
    )
    award = tmp_path / "award.json"
    award.write_bytes(dumps(micro_credential_body()))
    issued = ready.json("credentials", "issue", str(award))
    edc_id = issued["europass"]["credentialId"]

    printed = ready.ok("credentials", "export", "--elm", issued["id"])
    assert json.loads(json.loads(printed)["payload"])["id"] == edc_id
    written = ready.ok("credentials", "export", "--elm", edc_id, "--output", str(tmp_path)).strip()
    assert written == str(tmp_path / "Data Science Fundamentals.jsonld")
    assert Path(written).read_text(encoding="utf-8") == printed.rstrip("\n")

    verified = ready.json("credentials", "verify", written)
    assert verified["verified"] is True, verified["errors"]
    refused = ready.run("credentials", "export", issued["id"])
    assert refused.exit_code != 0
