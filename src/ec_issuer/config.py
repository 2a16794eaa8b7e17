"""Settings, read once from the environment. Every variable is documented in README.md."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DEFAULT_CACHE_TTL_SECONDS = 5.0
DEFAULT_STATUS_LIST_SIZE = 131_072  # the Bitstring Status List minimum (16 KB): group privacy
MAX_STATUS_LIST_SIZE = 16 * 1024 * 1024
DEFAULT_STATUS_LIST_TTL_SECONDS = 300
DEFAULT_EXPIRY_SWEEP_SECONDS = 60.0
DEVELOPMENT = "development"
PRODUCTION = "production"


class ConfigurationError(Exception):
    """The environment does not describe a service that can start."""


@dataclass(frozen=True, slots=True)
class Pkcs11Settings:
    module: str  # path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
    token_label: str
    pin: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class VaultSettings:
    url: str
    token: str = field(repr=False)
    transit_mount: str = "transit"
    namespace: str | None = None
    timeout_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class KmsSettings:
    region: str
    endpoint_url: str | None = None  # another KMS-compatible endpoint; credentials come from the AWS chain
    timeout_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    mode: str
    server_host: str
    server_port: int
    server_workers: int
    server_threads: int
    database_url: str
    issuer_base_url: str
    data_dir: Path
    keystore_path: Path
    keystore_secret: str
    admin_bootstrap_token: str | None
    auto_upgrade: bool
    max_request_bytes: int
    authz_policy_url: str | None
    authz_policy_token: str | None
    log_level: str
    cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS
    default_key_backend: str = "local"
    pkcs11: Pkcs11Settings | None = None
    vault: VaultSettings | None = None
    kms: KmsSettings | None = None
    status_list_size: int = DEFAULT_STATUS_LIST_SIZE
    status_list_ttl_seconds: int = DEFAULT_STATUS_LIST_TTL_SECONDS
    expiry_sweep_seconds: float = DEFAULT_EXPIRY_SWEEP_SECONDS  # 0 turns the in-service sweep off
    status_fetch: bool = True  # verifying fetches other issuers' status lists over https
    status_fetch_allow_private: bool = False  # also from private addresses and other ports (development)
    event_broker: str = "none"  # none, nats or rabbitmq: where `ec-issuer relay` publishes the outbox
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = "EC_ISSUER_EVENTS"
    nats_subject_prefix: str = "ec-issuer"
    rabbitmq_exchange: str = "ec-issuer.events"
    relay_in_service: bool = False  # each worker also runs a relay (needs EVENT_BROKER)
    # OID4VCI 1.0 §9.2 sends notification_id with deferred credentials; oid4vc-ts 0.4.x (Credo, Paradym)
    # rejects exactly that (openwallet-foundation-labs/oid4vc-ts#245). Off: left out for such wallets.
    oid4vci_deferred_notification_id: bool = True
    oid4vci_token_c_nonce: bool = False  # draft-13 wallets: a c_nonce in the token response too
    rabbitmq_url: str = field(default="amqp://guest:guest@127.0.0.1:5672/", repr=False)

    @property
    def is_development(self) -> bool:
        return self.mode == DEVELOPMENT

    @property
    def public_url(self) -> str:
        return self.issuer_base_url


def _default_threads(database_url: str) -> int:
    # SQLite lets one writer in at a time and makes the others sleep in growing steps (up to 100 ms):
    # more threads per worker only add waiting. Measured with bench/issue_jose.py, 2 workers: SQLite
    # 1 thread 1,762 issued/s p99 24 ms against 4 threads 1,512/s p99 94 ms. PostgreSQL overlaps the
    # round trips of several threads.
    return 4 if database_url.startswith("postgresql") else 1


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_settings(environ: Mapping[str, str] | None = None, *, mode: str | None = None) -> Settings:
    env = os.environ if environ is None else environ
    mode = mode or env.get("EC_ISSUER_ENV", PRODUCTION)
    if mode not in (DEVELOPMENT, PRODUCTION):
        raise ConfigurationError(f"EC_ISSUER_ENV must be '{DEVELOPMENT}' or '{PRODUCTION}', not {mode!r}")
    dev = mode == DEVELOPMENT
    host = env.get("SERVER_HOST", "127.0.0.1")
    try:
        port = int(env.get("SERVER_PORT", "8000"))
        workers = int(env.get("SERVER_WORKERS", "2"))
        database_url = env.get("DATABASE_URL", "")
        threads = int(env.get("SERVER_THREADS", str(_default_threads(database_url))))
        max_request_bytes = int(env.get("MAX_REQUEST_BYTES", str(256 * 1024)))
        cache_ttl_seconds = float(env.get("CACHE_TTL_SECONDS", str(DEFAULT_CACHE_TTL_SECONDS)))
        status_list_size = int(env.get("STATUS_LIST_SIZE", str(DEFAULT_STATUS_LIST_SIZE)))
        status_list_ttl = int(env.get("STATUS_LIST_TTL_SECONDS", str(DEFAULT_STATUS_LIST_TTL_SECONDS)))
        expiry_sweep_seconds = float(env.get("EXPIRY_SWEEP_SECONDS", str(DEFAULT_EXPIRY_SWEEP_SECONDS)))
    except ValueError as exc:
        raise ConfigurationError(f"a numeric setting is not a number: {exc}") from None
    if not DEFAULT_STATUS_LIST_SIZE <= status_list_size <= MAX_STATUS_LIST_SIZE or status_list_size % 8:
        raise ConfigurationError(
            f"STATUS_LIST_SIZE must be a multiple of 8 from {DEFAULT_STATUS_LIST_SIZE} to {MAX_STATUS_LIST_SIZE}"
        )
    if not 1 <= status_list_ttl <= 86_400:
        raise ConfigurationError("STATUS_LIST_TTL_SECONDS must be between 1 and 86400")
    if expiry_sweep_seconds < 0:
        raise ConfigurationError("EXPIRY_SWEEP_SECONDS must not be negative")
    event_broker = env.get("EVENT_BROKER", "none")
    if event_broker not in ("none", "nats", "rabbitmq"):
        raise ConfigurationError(f"EVENT_BROKER must be none, nats or rabbitmq, not {event_broker!r}")
    if not 0 <= cache_ttl_seconds <= 300:
        raise ConfigurationError("CACHE_TTL_SECONDS must be between 0 and 300")
    data_dir = Path(env.get("EC_ISSUER_DATA_DIR", ".ec-issuer")).resolve()
    database_url = database_url or f"sqlite:///{data_dir / 'ec-issuer.db'}"
    display_host = "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host  # noqa: S104 - a comparison
    base_url = env.get("ISSUER_BASE_URL", f"http://{display_host}:{port}").rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ConfigurationError("ISSUER_BASE_URL must be an origin such as https://badges.example.edu")
    if not dev and parts.scheme != "https":
        log.warning("ISSUER_BASE_URL is not https: did:web resolvers will refuse these identifiers")
    keystore_path = Path(env.get("KEYSTORE_PATH", str(data_dir / "keys"))).resolve()
    secret = env.get("KEYSTORE_SECRET") or (_development_secret(data_dir) if dev else "")
    if not secret:
        raise ConfigurationError("KEYSTORE_SECRET is required outside development mode")
    return Settings(
        mode=mode,
        server_host=host,
        server_port=port,
        server_workers=workers,
        server_threads=threads,
        database_url=database_url,
        issuer_base_url=base_url,
        data_dir=data_dir,
        keystore_path=keystore_path,
        keystore_secret=secret,
        admin_bootstrap_token=env.get("ADMIN_BOOTSTRAP_TOKEN") or None,
        auto_upgrade=_flag(env.get("DB_AUTO_UPGRADE"), default=dev),
        max_request_bytes=max_request_bytes,
        authz_policy_url=env.get("AUTHZ_POLICY_URL") or None,
        authz_policy_token=env.get("AUTHZ_POLICY_TOKEN") or None,
        log_level=env.get("LOG_LEVEL", "INFO"),
        cache_ttl_seconds=cache_ttl_seconds,
        default_key_backend=env.get("KEY_BACKEND_DEFAULT", "local"),
        pkcs11=_pkcs11_settings(env),
        vault=_vault_settings(env),
        kms=_kms_settings(env),
        status_list_size=status_list_size,
        status_list_ttl_seconds=status_list_ttl,
        expiry_sweep_seconds=expiry_sweep_seconds,
        status_fetch=_flag(env.get("STATUS_FETCH"), default=True),
        status_fetch_allow_private=_flag(env.get("STATUS_FETCH_ALLOW_PRIVATE"), default=False),
        event_broker=event_broker,
        nats_url=env.get("NATS_URL", "nats://127.0.0.1:4222"),
        nats_stream=env.get("NATS_STREAM", "EC_ISSUER_EVENTS"),
        nats_subject_prefix=env.get("NATS_SUBJECT_PREFIX", "ec-issuer"),
        rabbitmq_exchange=env.get("RABBITMQ_EXCHANGE", "ec-issuer.events"),
        relay_in_service=_flag(env.get("RELAY_IN_SERVICE"), default=False),
        oid4vci_deferred_notification_id=_flag(env.get("OID4VCI_DEFERRED_NOTIFICATION_ID"), default=True),
        oid4vci_token_c_nonce=_flag(env.get("OID4VCI_TOKEN_C_NONCE"), default=False),
        rabbitmq_url=_secret(env, "RABBITMQ_URL") or "amqp://guest:guest@127.0.0.1:5672/",
    )


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """A secret from NAME, or from the file NAME_FILE names (for container secrets)."""
    value = env.get(name)
    if value:
        return value
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigurationError(f"{name}_FILE cannot be read: {exc.strerror}") from None
    return None


def _pkcs11_settings(env: Mapping[str, str]) -> Pkcs11Settings | None:
    module = env.get("PKCS11_MODULE")
    if not module:
        return None
    label, pin = env.get("PKCS11_TOKEN_LABEL"), _secret(env, "PKCS11_PIN")
    if not label or not pin:
        raise ConfigurationError("PKCS11_MODULE needs PKCS11_TOKEN_LABEL and PKCS11_PIN (or PKCS11_PIN_FILE)")
    return Pkcs11Settings(module=module, token_label=label, pin=pin)


def _vault_settings(env: Mapping[str, str]) -> VaultSettings | None:
    url = env.get("VAULT_ADDR")
    if not url:
        return None
    token = _secret(env, "VAULT_TOKEN")
    if not token:
        raise ConfigurationError("VAULT_ADDR needs VAULT_TOKEN (or VAULT_TOKEN_FILE)")
    return VaultSettings(
        url=url.rstrip("/"),
        token=token,
        transit_mount=env.get("VAULT_TRANSIT_MOUNT", "transit").strip("/"),
        namespace=env.get("VAULT_NAMESPACE") or None,
    )


def _kms_settings(env: Mapping[str, str]) -> KmsSettings | None:
    region = env.get("KMS_REGION")
    if not region:
        return None
    return KmsSettings(region=region, endpoint_url=env.get("KMS_ENDPOINT_URL") or None)


def _development_secret(data_dir: Path) -> str:
    """A generated secret kept beside the development database. Never used in production mode."""
    path = data_dir / "DEVELOPMENT-ONLY-keystore-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
        log.warning("generated a DEVELOPMENT keystore secret in %s: never use it in production", path)
    return path.read_text().strip()


def development_admin_token(data_dir: Path) -> str:
    """The development admin token, generated once and kept (readable only by this user) for reuse."""
    path = data_dir / "DEVELOPMENT-ONLY-admin-token"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("eci_dev_" + secrets.token_urlsafe(32))
    return path.read_text().strip()
