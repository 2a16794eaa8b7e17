"""Settings, read once from the environment. Every variable is documented in README.md."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DEFAULT_CACHE_TTL_SECONDS = 5.0
DEFAULT_STATUS_LIST_SIZE = 131_072  # the Bitstring Status List minimum (16 KB): group privacy
MAX_STATUS_LIST_SIZE = 16 * 1024 * 1024
DEFAULT_STATUS_LIST_TTL_SECONDS = 300
DEFAULT_EXPIRY_SWEEP_SECONDS = 60.0
DEFAULT_VERIFY_FILE_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_PUBLIC_RATE_PER_MINUTE = 600
DEFAULT_PUBLIC_RATE_BURST = 60
DEVELOPMENT = "development"
PRODUCTION = "production"


class ConfigurationError(Exception):
    """The environment does not describe a service that can start."""


@dataclass(frozen=True, slots=True)
class ElmSealSettings:
    """The eSeal: a PKCS#12 file, or a key in a custody backend (HSM, Vault transit, KMS) with its
    certificate chain in a PEM file."""

    pkcs12_path: Path | None
    password: str | None = field(repr=False)
    algorithm: str | None  # RS256 (default for RSA keys), PS256, or ES256 (P-256 keys)
    trust_anchors_path: Path | None  # PEM bundle of the CAs whose seals `verify` reports as trusted
    development: bool = False  # a generated test eSeal: Europass shows its seal as failed
    key_backend: str | None = None  # local, pkcs11, vault or kms: the backend holding an ES256 seal key
    key_ref: str | None = None  # the key's reference in that backend (PKCS#11 label, transit key, KMS key id)
    certificate_chain_path: Path | None = None  # PEM: the seal certificate first, then its issuers


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
class SsiAgentSettings:
    """An external OID4VCI agent (the UniCore ssi-agent) that offers are handed to instead of the built-in issuer."""

    url: str  # base URL of the agent's admin API, without a trailing slash
    nonce_endpoint: str  # the agent's wallet-facing endpoints, reported with each offer
    credential_endpoint: str
    webhook_secret: str = field(repr=False)  # what the agent presents when it pushes its events to us
    token: str | None = field(default=None, repr=False)  # sent as a bearer token to the admin API
    timeout_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class ExternalAuthorizationServerSettings:
    """An external OAuth 2.0 authorization server for the OID4VCI authorization code flow (docs/oid4vci.md)."""

    issuer: str  # its issuer identifier, exactly as in its tokens' `iss`
    jwks_url: str | None = None  # RFC 9068 JWT access tokens are checked against these keys...
    jwks_file: Path | None = None  # ...or against a key set in a file
    introspection_endpoint: str | None = None  # other tokens are introspected (RFC 7662) with this client
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    timeout_seconds: float = 5.0
    introspection_cache_seconds: float = 30.0


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
    # DPoP (RFC 9449): "optional" binds a token when the wallet sends a proof; "required" refuses Bearer.
    oid4vci_dpop: Literal["optional", "required"] = "optional"
    oid4vci_dpop_nonce: bool = True  # DPoP proofs must carry a server nonce (RFC 9449 §8)
    ssi_agent: SsiAgentSettings | None = None  # set: offers go to this external agent (docs/oid4vci.md)
    # set: the authorization code flow runs at this external authorization server (docs/oid4vci.md)
    oid4vci_authorization_server: ExternalAuthorizationServerSettings | None = None
    rabbitmq_url: str = field(default="amqp://guest:guest@127.0.0.1:5672/", repr=False)
    # The eSeal that seals European Digital Credentials; None: this deployment issues none (docs/elm.md).
    elm_seal: ElmSealSettings | None = None
    # The largest file the public verification page and API hash for a visitor (docs/verification.md).
    verify_file_max_bytes: int = DEFAULT_VERIFY_FILE_MAX_BYTES
    # Anonymous requests to the public verification page, file check, artefacts and verify API, per client
    # address and worker process: a burst, refilled at a rate per minute (0: no limit; api/rate_limits.py).
    public_rate_per_minute: int = DEFAULT_PUBLIC_RATE_PER_MINUTE
    public_rate_burst: int = DEFAULT_PUBLIC_RATE_BURST
    # Where the allowances live: None, in each worker; a redis:// URL, shared by every worker and instance.
    public_rate_store: str | None = field(default=None, repr=False)
    # Reverse proxies in front of the service whose X-Forwarded-For is trusted for the client's address.
    trusted_proxy_hops: int = 0

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


def _dpop_mode(value: str) -> Literal["optional", "required"]:
    mode = value.strip().lower()
    if mode == "required":
        return "required"
    if mode == "optional":
        return "optional"
    raise ConfigurationError(f"OID4VCI_DPOP must be 'optional' or 'required', not {value!r}")


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
        verify_file_max_bytes = int(env.get("VERIFY_FILE_MAX_BYTES", str(DEFAULT_VERIFY_FILE_MAX_BYTES)))
    except ValueError as exc:
        raise ConfigurationError(f"a numeric setting is not a number: {exc}") from None
    if not DEFAULT_STATUS_LIST_SIZE <= status_list_size <= MAX_STATUS_LIST_SIZE or status_list_size % 8:
        raise ConfigurationError(
            f"STATUS_LIST_SIZE must be a multiple of 8 from {DEFAULT_STATUS_LIST_SIZE} to {MAX_STATUS_LIST_SIZE}"
        )
    if not 1 <= status_list_ttl <= 86_400:
        raise ConfigurationError("STATUS_LIST_TTL_SECONDS must be between 1 and 86400")
    if verify_file_max_bytes < 1:
        raise ConfigurationError("VERIFY_FILE_MAX_BYTES must be at least 1")
    public_rate_per_minute, public_rate_burst, trusted_proxy_hops = _public_allowance(env)
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
        oid4vci_dpop=_dpop_mode(env.get("OID4VCI_DPOP", "optional")),
        oid4vci_dpop_nonce=_flag(env.get("OID4VCI_DPOP_NONCE"), default=True),
        ssi_agent=_ssi_agent_settings(env, production=not dev),
        oid4vci_authorization_server=_external_as_settings(env, production=not dev),
        rabbitmq_url=_secret(env, "RABBITMQ_URL") or "amqp://guest:guest@127.0.0.1:5672/",
        elm_seal=_elm_seal_settings(env, data_dir, development=dev),
        verify_file_max_bytes=verify_file_max_bytes,
        public_rate_per_minute=public_rate_per_minute,
        public_rate_burst=public_rate_burst,
        public_rate_store=_public_rate_store(env),
        trusted_proxy_hops=trusted_proxy_hops,
    )


def _public_allowance(env: Mapping[str, str]) -> tuple[int, int, int]:
    """PUBLIC_RATE_PER_MINUTE, PUBLIC_RATE_BURST and TRUSTED_PROXY_HOPS (api/rate_limits.py)."""
    try:
        per_minute = int(env.get("PUBLIC_RATE_PER_MINUTE", str(DEFAULT_PUBLIC_RATE_PER_MINUTE)))
        burst = int(env.get("PUBLIC_RATE_BURST", str(DEFAULT_PUBLIC_RATE_BURST)))
        proxy_hops = int(env.get("TRUSTED_PROXY_HOPS", "0"))
    except ValueError as exc:
        raise ConfigurationError(f"a numeric setting is not a number: {exc}") from None
    if per_minute < 0 or not 1 <= burst <= 100_000:
        raise ConfigurationError("PUBLIC_RATE_PER_MINUTE must be 0 or more, PUBLIC_RATE_BURST from 1 to 100000")
    if not 0 <= proxy_hops <= 10:
        raise ConfigurationError("TRUSTED_PROXY_HOPS must be between 0 and 10")
    return per_minute, burst, proxy_hops


def _public_rate_store(env: Mapping[str, str]) -> str | None:
    """PUBLIC_RATE_STORE (or PUBLIC_RATE_STORE_FILE): a Redis URL for allowances shared by all workers."""
    url = _secret(env, "PUBLIC_RATE_STORE")
    if url is None:
        return None
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigurationError("PUBLIC_RATE_STORE must be a redis://, rediss:// or unix:// URL")
    return url


def _elm_seal_settings(env: Mapping[str, str], data_dir: Path, *, development: bool) -> ElmSealSettings | None:
    anchors = env.get("ELM_TRUST_ANCHORS")
    anchors_path = Path(anchors) if anchors else None
    algorithm = env.get("ELM_SEAL_ALGORITHM") or None
    if algorithm not in (None, "RS256", "PS256", "ES256"):
        raise ConfigurationError("ELM_SEAL_ALGORITHM must be RS256, PS256 or ES256")
    path = env.get("ELM_SEAL_PKCS12")
    backend = env.get("ELM_SEAL_KEY_BACKEND")
    if path and backend:
        raise ConfigurationError("give ELM_SEAL_PKCS12 or ELM_SEAL_KEY_BACKEND, not both")
    if path:
        return ElmSealSettings(Path(path), _secret(env, "ELM_SEAL_PASSWORD"), algorithm, anchors_path)
    if backend:
        key_ref, chain = env.get("ELM_SEAL_KEY_REF"), env.get("ELM_SEAL_CERTIFICATE_CHAIN")
        if not key_ref or not chain:
            raise ConfigurationError("ELM_SEAL_KEY_BACKEND needs ELM_SEAL_KEY_REF and ELM_SEAL_CERTIFICATE_CHAIN")
        if algorithm not in (None, "ES256"):
            raise ConfigurationError("a seal key in a custody backend signs ES256")
        return ElmSealSettings(
            None, None, "ES256", anchors_path, key_backend=backend, key_ref=key_ref, certificate_chain_path=Path(chain)
        )
    if not development:
        return None
    # Development: a generated test eSeal beside the database, written on first use (bootstrap).
    folder = data_dir / "DEVELOPMENT-ONLY-eseal"
    return ElmSealSettings(folder / "test-eseal.p12", None, algorithm, anchors_path, development=True)


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


MIN_WEBHOOK_SECRET_LENGTH = 32


def _ssi_agent_settings(env: Mapping[str, str], *, production: bool) -> SsiAgentSettings | None:
    url = env.get("SSI_AGENT_URL")
    if not url:
        return None
    _require_url("SSI_AGENT_URL", url, https=False)
    endpoints: list[str] = []
    for name in ("SSI_AGENT_NONCE_ENDPOINT", "SSI_AGENT_CREDENTIAL_ENDPOINT"):
        value = env.get(name, "")
        if not value:
            raise ConfigurationError(f"SSI_AGENT_URL needs {name}: the agent's endpoint that wallets call")
        # Wallets call these; outside development they must be https like every metadata URL.
        _require_url(name, value, https=production)
        endpoints.append(value)
    secret = _secret(env, "SSI_AGENT_WEBHOOK_SECRET")
    if not secret or len(secret) < MIN_WEBHOOK_SECRET_LENGTH:
        raise ConfigurationError(
            f"SSI_AGENT_URL needs SSI_AGENT_WEBHOOK_SECRET (or _FILE) of at least {MIN_WEBHOOK_SECRET_LENGTH} "
            "characters: the agent's events are accepted only with it"
        )
    try:
        timeout = float(env.get("SSI_AGENT_TIMEOUT_SECONDS", "10"))
    except ValueError:
        raise ConfigurationError("SSI_AGENT_TIMEOUT_SECONDS is not a number") from None
    if not 0 < timeout <= 120:
        raise ConfigurationError("SSI_AGENT_TIMEOUT_SECONDS must be more than 0 and at most 120")
    return SsiAgentSettings(
        url=url.rstrip("/"),
        nonce_endpoint=endpoints[0],
        credential_endpoint=endpoints[1],
        webhook_secret=secret,
        token=_secret(env, "SSI_AGENT_TOKEN"),
        timeout_seconds=timeout,
    )


_EXTERNAL_AS_VARIABLES = (
    "OID4VCI_AS_JWKS_URL",
    "OID4VCI_AS_JWKS_FILE",
    "OID4VCI_AS_INTROSPECTION_ENDPOINT",
    "OID4VCI_AS_CLIENT_ID",
    "OID4VCI_AS_CLIENT_SECRET",
    "OID4VCI_AS_CLIENT_SECRET_FILE",
)


def _external_as_settings(env: Mapping[str, str], *, production: bool) -> ExternalAuthorizationServerSettings | None:
    issuer = env.get("OID4VCI_AUTHORIZATION_SERVER", "")
    if not issuer:
        stray = [name for name in _EXTERNAL_AS_VARIABLES if env.get(name)]
        if stray:
            raise ConfigurationError(f"{', '.join(stray)}: set OID4VCI_AUTHORIZATION_SERVER too, or none of them")
        return None
    # Wallets fetch its metadata and compare its issuer; outside development it must be https.
    _require_url("OID4VCI_AUTHORIZATION_SERVER", issuer, https=production)
    if urlsplit(issuer).query:
        raise ConfigurationError("OID4VCI_AUTHORIZATION_SERVER is an issuer identifier: no query (RFC 8414 §2)")
    jwks_url, jwks_file = env.get("OID4VCI_AS_JWKS_URL") or None, env.get("OID4VCI_AS_JWKS_FILE") or None
    if jwks_url and jwks_file:
        raise ConfigurationError("set OID4VCI_AS_JWKS_URL or OID4VCI_AS_JWKS_FILE, not both")
    if jwks_url:
        _require_url("OID4VCI_AS_JWKS_URL", jwks_url, https=production)
    if jwks_file:
        _require_jwks_file(Path(jwks_file))
    introspection, client_id, client_secret = _introspection_settings(env, production=production)
    if not (jwks_url or jwks_file or introspection):
        raise ConfigurationError(
            "OID4VCI_AUTHORIZATION_SERVER needs a way to check its access tokens: OID4VCI_AS_JWKS_URL or "
            "OID4VCI_AS_JWKS_FILE (RFC 9068 JWT access tokens) and/or OID4VCI_AS_INTROSPECTION_ENDPOINT (RFC 7662)"
        )
    try:
        timeout = float(env.get("OID4VCI_AS_TIMEOUT_SECONDS", "5"))
        cache_seconds = float(env.get("OID4VCI_AS_INTROSPECTION_CACHE_SECONDS", "30"))
    except ValueError:
        raise ConfigurationError("OID4VCI_AS_TIMEOUT_SECONDS and ..._CACHE_SECONDS must be numbers") from None
    if not 0 < timeout <= 60:
        raise ConfigurationError("OID4VCI_AS_TIMEOUT_SECONDS must be more than 0 and at most 60")
    if not 0 <= cache_seconds <= 300:
        raise ConfigurationError("OID4VCI_AS_INTROSPECTION_CACHE_SECONDS must be between 0 and 300")
    return ExternalAuthorizationServerSettings(
        issuer=issuer,
        jwks_url=jwks_url,
        jwks_file=Path(jwks_file).resolve() if jwks_file else None,
        introspection_endpoint=introspection,
        client_id=client_id,
        client_secret=client_secret,
        timeout_seconds=timeout,
        introspection_cache_seconds=cache_seconds,
    )


def _introspection_settings(env: Mapping[str, str], *, production: bool) -> tuple[str | None, str | None, str | None]:
    endpoint = env.get("OID4VCI_AS_INTROSPECTION_ENDPOINT") or None
    client_id, client_secret = env.get("OID4VCI_AS_CLIENT_ID") or None, _secret(env, "OID4VCI_AS_CLIENT_SECRET")
    if endpoint is None:
        if client_id or client_secret:
            raise ConfigurationError("OID4VCI_AS_CLIENT_ID and _SECRET are for OID4VCI_AS_INTROSPECTION_ENDPOINT")
        return None, None, None
    _require_url("OID4VCI_AS_INTROSPECTION_ENDPOINT", endpoint, https=production)
    if not client_id or not client_secret:
        raise ConfigurationError(
            "OID4VCI_AS_INTROSPECTION_ENDPOINT needs OID4VCI_AS_CLIENT_ID and OID4VCI_AS_CLIENT_SECRET (or _FILE): "
            "the introspection endpoint takes only authenticated clients"
        )
    return endpoint, client_id, client_secret


def _require_jwks_file(path: Path) -> None:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"OID4VCI_AS_JWKS_FILE cannot be read as JSON: {exc}") from None
    keys: object = cast(dict[str, object], document).get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ConfigurationError("OID4VCI_AS_JWKS_FILE must hold a JWK Set: an object with a non-empty keys array")


def _require_url(name: str, value: str, *, https: bool) -> None:
    parts = urlsplit(value)
    schemes = ("https",) if https else ("http", "https")
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password or parts.fragment:
        raise ConfigurationError(f"{name} must be an {' or '.join(schemes)} URL without credentials, not {value!r}")


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
