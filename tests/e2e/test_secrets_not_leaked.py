"""No secret leaves the service: not in a log line, not on stdout/stderr, not in any HTTP answer.

The secrets are the private keys (searched for in every encoding a careless line could use: JWK `d`, base64,
hex, decimal, PEM/DER), the keystore secret and the keys derived from it, and the API tokens. They are taken
from the keystore itself, decrypted here independently of the service's custody code, and checked against the
published public keys so that the search is for the real material. The detector is itself tested: it must
find a secret planted in a log record and on stdout.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask.testing import FlaskClient

import ec_issuer.cli.common as cli_common
import ec_issuer.cli.main as cli_main
from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container, build, derive_secret
from ec_issuer.config import Settings
from ec_issuer.core.encoding import b64url_decode, b64url_encode, loads, loads_object
from ec_issuer.keys.jwk import public_jwk
from ec_issuer.keys.model import Algorithm, SigningKey
from tests.support import TEST_SECRET, SettableClock, award_body, make_settings

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
MIN_NEEDLE = 16  # shorter strings could turn up by chance
WRONG_SECRET = "a-wrong-keystore-secret-" + "9" * 16
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


# ---------------------------------------------------------------------------------------------------------------
# The secrets, in every form worth searching for


def encodings(label: str, raw: bytes) -> dict[str, str]:
    """The textual forms a byte string could leak in."""
    return {
        f"{label} base64url": b64url_encode(raw),
        f"{label} base64": base64.b64encode(raw).decode(),
        f"{label} hex": raw.hex(),
        f"{label} HEX": raw.hex().upper(),
    }


def private_key_forms(label: str, private: PrivateKey) -> dict[str, str]:
    forms: dict[str, str] = {}
    if isinstance(private, ec.EllipticCurvePrivateKey):
        d = private.private_numbers().private_value
        forms |= encodings(f"{label} d", d.to_bytes(32, "big"))  # base64url of this is the JWK `d`
        forms[f"{label} d decimal"] = str(d)
        sec1 = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        forms |= pem_lines(f"{label} SEC1 PEM", sec1)
    else:
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        forms |= encodings(f"{label} seed", raw)  # base64url of this is the JWK `d`
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forms |= encodings(f"{label} PKCS8 DER", der)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forms |= pem_lines(f"{label} PKCS8 PEM", pem)
    return forms


def pem_lines(label: str, pem: bytes) -> dict[str, str]:
    body = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
    forms = {f"{label} body": "".join(body)}
    forms |= {f"{label} line {number}": line for number, line in enumerate(body, 1)}
    return forms


def keystore_aes_key(keystore: Path, secret: str) -> bytes:
    """The key the local keystore encrypts with (custody/local.py: scrypt over the secret and the salt)."""
    salt = b64url_decode(str(loads_object((keystore / "keystore.json").read_bytes())["salt"]))
    return hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


def decrypt_private_key(keystore: Path, key: SigningKey, secret: str) -> PrivateKey:
    """Open one key file of the local keystore, independently of the service's custody code."""
    record = loads_object((keystore / f"{key.key_ref}.key.json").read_bytes())
    der = AESGCM(keystore_aes_key(keystore, secret)).decrypt(
        b64url_decode(str(record["nonce"])), b64url_decode(str(record["ciphertext"])), key.key_ref.encode()
    )
    private = serialization.load_der_private_key(der, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
    # This is the key the service publishes and signs with, not just some key.
    assert public_jwk(private.public_key()) == key.public_jwk, key.kid
    return private


@dataclass
class Secrets:
    everywhere: dict[str, str] = field(default_factory=dict[str, str])  # may appear nowhere
    in_logs: dict[str, str] = field(default_factory=dict[str, str])  # may appear in no log and no stdout/stderr

    def add(self, forms: dict[str, str], *, logs_only: bool = False) -> None:
        target = self.in_logs if logs_only else self.everywhere
        target.update({label: value for label, value in forms.items() if len(value) >= MIN_NEEDLE})


def found(haystack: str, needles: dict[str, str]) -> list[str]:
    """The labels of the needles that occur in the haystack."""
    return sorted(label for label, needle in needles.items() if needle in haystack)


# ---------------------------------------------------------------------------------------------------------------
# Capturing every output channel


@pytest.fixture
def all_loggers_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG on the root logger and on every logger that exists (some set their own level)."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every record of every phase, formatted with its traceback, plus its raw arguments and extras."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    parts: list[str] = [caplog.text]
    for phase in ("setup", "call"):
        for record in caplog.get_records(phase):
            parts.append(formatter.format(record))
            parts.append(repr(record.args))
            parts.append(repr(vars(record)))
    return "\n".join(parts)


@dataclass
class Recorder:
    """Sends requests through a test client and keeps every answer's status line, headers and body."""

    http: FlaskClient
    answers: list[str] = field(default_factory=list[str])

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.open(path, method=method, **kwargs)
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        self.answers.append(f"{method} {path} -> {response.status}\n{headers}\n\n{response.get_data(as_text=True)}")
        return response

    def text(self) -> str:
        return "\n\n".join(self.answers)


def app_for(container: Container) -> FlaskClient:
    app = create_app(container)
    app.testing = False  # errors go through the real handlers, as in production
    return app.test_client()


@pytest.fixture
def run_cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """Runs `ec-issuer` commands on the test's database and keystore; returns what they printed."""
    built: list[Container] = []

    def recording_build(settings: Settings, **kwargs: Any) -> Container:
        container = build(settings, **kwargs)
        built.append(container)  # the test disposes of the engines too (twice is harmless)
        return container

    monkeypatch.setattr(cli_common, "build", recording_build)
    env: dict[str, str | None] = {
        "EC_ISSUER_ENV": "production",
        "EC_ISSUER_DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "KEYSTORE_PATH": str(tmp_path / "keys"),
        "KEYSTORE_SECRET": TEST_SECRET,
        "ISSUER_BASE_URL": "https://issuer.test",
        "LOG_LEVEL": "DEBUG",
        "ADMIN_BOOTSTRAP_TOKEN": None,
        "AUTHZ_POLICY_URL": None,
    }

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli_main.cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output + result.stderr

    yield run
    for container in built:
        container.engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_issuers_and_keys(call: Recorder, container: Container, admin: str, run_cli: Callable[..., str]) -> str:
    """Issuers 'acme' and 'root', with keys made every way there is: service, admin API and command line."""
    acme_body = {"slug": "acme", "name": "ACME"}
    assert call("POST", "/api/v1/issuers", json=acme_body, headers=bearer(admin)).status_code == 201
    root = {"slug": "root", "name": "Root", "root": True}
    assert call("POST", "/api/v1/issuers", json=root, headers=bearer(admin)).status_code == 201
    acme = container.issuers.get("acme")
    assert acme is not None
    container.keys.generate(acme, Algorithm.ES256)
    for slug, algorithm in (("acme", "EdDSA"), ("root", "ES256")):
        generated = call("POST", f"/api/v1/issuers/{slug}/keys", json={"algorithm": algorithm}, headers=bearer(admin))
        assert generated.status_code == 201
    output = run_cli("keys", "generate", "--issuer", "acme", "--algorithm", "EdDSA")
    return output + run_cli("keys", "list", "--issuer", "acme")


def issue_read_and_verify(call: Recorder, admin: str, client: str) -> None:
    """Credentials signed with ES256 and EdDSA, by the admin and by a scoped client, read back and verified."""
    issued: list[dict[str, Any]] = []
    for algorithm, issuer, token in (("ES256", "acme", admin), ("EdDSA", "acme", client), ("ES256", "root", admin)):
        body = award_body(issuer, algorithm=algorithm)
        response = call("POST", "/api/v1/credentials", json=body, headers=bearer(token))
        assert response.status_code == 201, response.get_data(as_text=True)
        issued.append(loads(response.get_data()))
    for credential in issued:
        path = f"/api/v1/credentials/{credential['id']}"
        assert call("GET", path, headers=bearer(admin)).status_code == 200
        assert call("GET", path, headers={**bearer(admin), "Accept": "application/vc+jwt"}).status_code == 200
        verified = call("POST", "/api/v1/credentials/verify", json={"jws": credential["jws"]}, headers=bearer(admin))
        assert loads(verified.get_data())["verified"] is True
    assert call("GET", "/api/v1/credentials", headers=bearer(client)).status_code == 200


def fetch_public_keys(call: Recorder, admin: str) -> list[dict[str, Any]]:
    """Every JWK the service shows: JWK Sets, DID documents and the admin key listings."""
    published: list[dict[str, Any]] = []
    for path in ("/.well-known/jwks.json", "/issuers/acme/jwks.json", "/issuers/root/jwks.json"):
        published += loads(call("GET", path).get_data())["keys"]
    for path in ("/issuers/acme/did.json", "/.well-known/did.json"):
        document = loads(call("GET", path).get_data())
        published += [method["publicKeyJwk"] for method in document["verificationMethod"]]
    for slug in ("acme", "root"):
        listed = loads(call("GET", f"/api/v1/issuers/{slug}/keys", headers=bearer(admin)).get_data())["items"]
        published += [key["publicJwk"] for key in listed]
    return published


def fail_requests(call: Recorder, admin: str, database_url: str, data_dir: Path) -> Recorder:
    """Requests that fail: unauthenticated, invalid, a server error, and a keystore opened with a wrong secret."""
    assert call("GET", "/api/v1/issuers", headers=bearer("wrong-token-0123456789abcdef")).status_code == 401
    assert call("POST", "/api/v1/credentials", json={"issuer": "acme"}, headers=bearer(admin)).status_code == 422
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    too_deep = {"issuer": "acme", "credential": {"credentialSubject": {"id": "did:example:a", "x": deep}}}
    # A 500 today (see test_bad_input.py), logged with its traceback; any refusal serves here.
    answer = call("POST", "/api/v1/credentials", data=json.dumps(too_deep), headers=bearer(admin))
    assert answer.status_code >= 400
    locked_out = build(make_settings(database_url, data_dir, keystore_secret=WRONG_SECRET), clock=SettableClock())
    locked = Recorder(app_for(locked_out))
    refused = locked("POST", "/api/v1/credentials", json=award_body(), headers=bearer(admin))
    assert refused.status_code == 503, refused.get_data(as_text=True)
    locked_out.engine.dispose()
    return locked


def secrets_of(container: Container, admin: str, client: str) -> Secrets:
    """Everything secret, read from the keystore the service wrote and from the test's own configuration."""
    keystore = container.settings.keystore_path
    keys = container.keys.for_issuer("acme") + container.keys.for_issuer("root")
    assert sorted(key.algorithm.value for key in keys) == ["ES256", "ES256", "EdDSA", "EdDSA"]
    secrets = Secrets()
    for key in keys:
        secrets.add(private_key_forms(key.kid, decrypt_private_key(keystore, key, TEST_SECRET)))
    secrets.add({"keystore secret": TEST_SECRET, "wrong keystore secret": WRONG_SECRET, "admin token": admin})
    secrets.add(encodings("keystore AES key", keystore_aes_key(keystore, TEST_SECRET)))
    secrets.add(encodings("recipient HMAC key", derive_secret(TEST_SECRET, "recipient-references")))
    secrets.add({"client token": client}, logs_only=True)  # its creation answer shows it, once, by design
    assert len(secrets.everywhere) > 50
    assert all(len(value) >= MIN_NEEDLE for value in (secrets.everywhere | secrets.in_logs).values())
    return secrets


# ---------------------------------------------------------------------------------------------------------------
# The tests


def test_the_detector_finds_a_planted_secret(
    all_loggers_at_debug: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The search must be able to fail: a private key logged at DEBUG or printed is found."""
    private = ec.generate_private_key(ec.SECP256R1())
    secrets = Secrets()
    secrets.add(private_key_forms("planted", private))
    assert len(secrets.everywhere) > 10
    d = b64url_encode(private.private_numbers().private_value.to_bytes(32, "big"))
    assert secrets.everywhere["planted d base64url"] == d
    assert found(f"xx{d}yy", secrets.everywhere) == ["planted d base64url"]
    assert found("nothing to see", secrets.everywhere) == []
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

    logging.getLogger("ec_issuer.custody.local").debug("loaded key %s", {"kty": "EC", "d": d})
    print(pem.decode())  # noqa: T201 - the leak under test

    in_logs = found(log_text(all_loggers_at_debug), secrets.everywhere)
    captured = capfd.readouterr()
    printed = found(captured.out + captured.err, secrets.everywhere)
    assert "planted d base64url" in in_logs
    assert "planted PKCS8 PEM line 1" not in in_logs
    assert "planted PKCS8 PEM line 1" in printed


def test_no_secret_in_logs_output_or_answers(
    database_url: str,
    tmp_path: Path,
    all_loggers_at_debug: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    run_cli: Callable[..., str],
) -> None:
    caplog = all_loggers_at_debug
    admin = "secret-admin-token-" + uuid.uuid4().hex
    container = build(make_settings(database_url, tmp_path, log_level="DEBUG"), clock=SettableClock())
    container.access.ensure_bootstrap_client(admin)
    call = Recorder(app_for(container))
    for name in list(logging.root.manager.loggerDict):  # loggers that building the app created
        caplog.set_level(logging.DEBUG, logger=name)

    cli_output = make_issuers_and_keys(call, container, admin, run_cli)
    created = call("POST", "/api/v1/clients", json={"name": "issuing", "issuers": ["acme"]}, headers=bearer(admin))
    assert created.status_code == 201
    client: str = loads(created.get_data())["token"]
    issue_read_and_verify(call, admin, client)
    published = fetch_public_keys(call, admin)
    locked = fail_requests(call, admin, database_url, tmp_path)
    secrets = secrets_of(container, admin, client)
    container.engine.dispose()

    # The published keys are public ones, and they are the keys whose private parts are searched for.
    assert len(published) >= 12
    for jwk in published:
        assert not PRIVATE_JWK_MEMBERS & set(jwk), jwk
    keys = container.keys.for_issuer("acme") + container.keys.for_issuer("root")
    assert {key.public_jwk["x"] for key in keys} <= {jwk["x"] for jwk in published}

    captured = capfd.readouterr()
    logs = log_text(caplog)
    # The capture really covers the service at DEBUG: SQLAlchemy's statement log is there, and on SQLite the
    # log of the statements prepared past it (storage/prepared.py), which INSERTs the credentials.
    assert any(record.name.startswith("sqlalchemy.engine") for record in caplog.get_records("call"))
    assert "INSERT INTO issued_credentials" in logs
    assert found(logs, secrets.everywhere | secrets.in_logs) == []
    assert found(captured.out + captured.err + cli_output, secrets.everywhere | secrets.in_logs) == []
    assert found(call.text() + locked.text(), secrets.everywhere) == []


def test_imported_and_rotated_keys_leak_nowhere_and_rest_encrypted(
    database_url: str, tmp_path: Path, all_loggers_at_debug: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """Keys handed to the service (PEM and JWK imports), rotated, retired and revoked: their private parts
    appear in no answer and no log line, and the keystore files on disk hold them only encrypted."""
    caplog = all_loggers_at_debug
    admin = "secret-admin-token-" + uuid.uuid4().hex
    container = build(make_settings(database_url, tmp_path, log_level="DEBUG"), clock=SettableClock())
    container.access.ensure_bootstrap_client(admin)
    call = Recorder(app_for(container))
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    assert (
        call("POST", "/api/v1/issuers", json={"slug": "acme", "name": "ACME"}, headers=bearer(admin)).status_code == 201
    )

    p256 = ec.generate_private_key(ec.SECP256R1())
    pem = p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ed = ed25519.Ed25519PrivateKey.generate()
    seed = ed.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    ed_jwk = {**public_jwk(ed.public_key()), "d": b64url_encode(seed)}
    keys_path = "/api/v1/issuers/acme/keys"
    imported = [
        call("POST", keys_path, json={"algorithm": "ES256", "material": pem.decode()}, headers=bearer(admin)),
        call("POST", keys_path, json={"algorithm": "EdDSA", "material": json.dumps(ed_jwk)}, headers=bearer(admin)),
    ]
    assert [r.status_code for r in imported] == [201, 201]
    assert loads(imported[0].get_data())["publicJwk"] == public_jwk(p256.public_key())
    broken_pem = pem.decode().replace("-----END PRIVATE KEY-----", "-----END")  # unreadable, body intact
    refused = call("POST", keys_path, json={"algorithm": "ES256", "material": broken_pem}, headers=bearer(admin))
    assert refused.status_code == 422
    mismatched = call("POST", keys_path, json={"algorithm": "EdDSA", "material": pem.decode()}, headers=bearer(admin))
    assert mismatched.status_code == 422

    rotated = call("POST", f"{keys_path}/rotate", json={"algorithm": "ES256"}, headers=bearer(admin))
    assert rotated.status_code == 201
    p256_fragment = loads(imported[0].get_data())["fragment"]
    revoked = call("POST", f"{keys_path}/{p256_fragment}/revoke", json={"reason": "test"}, headers=bearer(admin))
    assert revoked.status_code == 200
    issued = call("POST", "/api/v1/credentials", json=award_body(algorithm="EdDSA"), headers=bearer(admin))
    assert issued.status_code == 201
    listed = call("GET", keys_path, headers=bearer(admin))
    assert len(loads(listed.get_data())["items"]) == 3

    secrets = Secrets()
    secrets.add(private_key_forms("imported P-256", p256))
    secrets.add(private_key_forms("imported Ed25519", ed))
    keystore = container.settings.keystore_path
    stored = container.keys.for_issuer("acme")
    for key in stored:
        secrets.add(private_key_forms(key.kid, decrypt_private_key(keystore, key, TEST_SECRET)))
    container.engine.dispose()
    assert len(secrets.everywhere) > 30

    captured = capfd.readouterr()
    assert found(log_text(caplog), secrets.everywhere) == []
    assert found(captured.out + captured.err, secrets.everywhere) == []
    assert found(call.text(), secrets.everywhere) == []
    # At rest: every keystore file, as text and as bytes, holds no private key in any form.
    files = sorted(keystore.iterdir())
    assert len([f for f in files if f.name.endswith(".key.json")]) == 3
    on_disk = b"".join(path.read_bytes() for path in files)
    assert found(on_disk.decode(errors="replace"), secrets.everywhere) == []
    raw_forms = [seed, p256.private_numbers().private_value.to_bytes(32, "big")]
    raw_forms += [
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        for key in (p256, ed)
    ]
    assert not [raw for raw in raw_forms if raw in on_disk]
