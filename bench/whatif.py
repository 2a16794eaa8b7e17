"""Candidate optimizations of the issuing path, as monkeypatches for measurement only. src/ is not changed.

Each option is a function of the service container returning `unittest.mock` patchers; nothing is applied
until a caller starts them. `profile_issue.py --what-if` applies them in process around batches of
requests; `issue_jose.py --what-if NAMES` serves `whatif:create`, which applies them in every server
worker, so their effect on throughput and latency can be measured over HTTP before anyone writes them for
real. The caches here have no expiry and no invalidation: fine for a benchmark, not for production, where
a short TTL (or a version bump on key/issuer/client changes) would be needed.

Options, by name:
  insert-params     INSERT the credential with a parameter dict on a prebuilt statement, not .values(**17)
  prebuilt-selects  prebuilt SELECTs with bindparam for issuer, keys and client (no cache)
  cache-issuer-key  remember the issuer and its active key per process
  cache-auth        remember the authenticated client per token hash per process
  skip-id-check     no duplicate-id SELECT before the INSERT (generated urn:uuid ids cannot collide; the
                    primary key would still catch a caller-supplied duplicate). Issuing path only: it makes
                    SqlCredentials.get answer None, so GET /api/v1/credentials/<id> breaks under it
  no-pre-ping       no pool_pre_ping round trip on every connection checkout (PostgreSQL)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from unittest import mock

from apiflask import APIFlask
from sqlalchemy import bindparam, select

from ec_issuer.access.model import ApiClient, hash_token
from ec_issuer.access.service import AccessService
from ec_issuer.api.context import EXTENSION_KEY
from ec_issuer.bootstrap import Container
from ec_issuer.credentials import issuing as issuing_module
from ec_issuer.credentials.model import IssuedCredential
from ec_issuer.storage import repositories
from ec_issuer.storage.tables import api_clients, issued_credentials, issuers, signing_keys

ENVIRONMENT_VARIABLE = "BENCH_WHAT_IF"

_INSERT_CREDENTIAL = issued_credentials.insert()
_SELECT_ISSUER = select(issuers).where(issuers.c.slug == bindparam("slug"))
_SELECT_KEYS = (
    select(signing_keys).where(signing_keys.c.issuer_slug == bindparam("slug")).order_by(signing_keys.c.created_at)
)
_SELECT_CLIENT = select(api_clients).where(api_clients.c.token_hash == bindparam("token_hash"))
_ORIGINAL_ADD = repositories.SqlCredentials.add


def _add_with_parameters(self: Any, credential: IssuedCredential) -> None:
    if credential.idempotency_key is not None:
        _ORIGINAL_ADD(self, credential)
        return
    self._db.execute(
        _INSERT_CREDENTIAL,
        {
            "id": credential.id,
            "issuer_slug": credential.issuer_slug,
            "family": credential.family,
            "format": credential.format,
            "format_version": credential.format_version,
            "payload": credential.payload,
            "signed": credential.signed,
            "kid": credential.kid,
            "status": credential.status.value,
            "issued_at": credential.issued_at,
            "valid_from": credential.valid_from,
            "valid_until": credential.valid_until,
            "client_id": credential.client_id,
            "subject_ref": credential.subject_ref,
            "achievement_id": credential.achievement_id,
            "idempotency_key": None,
            "request_hash": credential.request_hash,
        },
    )


def insert_params(_container: Container) -> list[Any]:
    return [mock.patch.object(repositories.SqlCredentials, "add", _add_with_parameters)]


def prebuilt_selects(_container: Container) -> list[Any]:
    def issuer_get(self: Any, slug: str) -> Any:
        row = self._db.execute(_SELECT_ISSUER, {"slug": slug}).first()
        return repositories._issuer(row) if row else None  # pyright: ignore[reportPrivateUsage]

    def keys_for_issuer(self: Any, slug: str) -> Any:
        rows = self._db.execute(_SELECT_KEYS, {"slug": slug})
        return [repositories._key(row) for row in rows]  # pyright: ignore[reportPrivateUsage]

    def client_by_token_hash(self: Any, token_hash: str) -> Any:
        row = self._db.execute(_SELECT_CLIENT, {"token_hash": token_hash}).first()
        return repositories._client(row) if row else None  # pyright: ignore[reportPrivateUsage]

    return [
        mock.patch.object(repositories.SqlIssuers, "get", issuer_get),
        mock.patch.object(repositories.SqlKeys, "for_issuer", keys_for_issuer),
        mock.patch.object(repositories.SqlClients, "get_by_token_hash", client_by_token_hash),
    ]


def cache_issuer_key(_container: Container) -> list[Any]:
    issuers_seen: dict[str, Any] = {}
    keys_seen: dict[tuple[str, Any], Any] = {}
    find, pick = issuing_module.require_issuer_for, issuing_module.active_signing_key

    def require_issuer_for(uow: Any, client: ApiClient, reference: str, pointer: str) -> Any:
        if reference not in issuers_seen:
            issuers_seen[reference] = find(uow, client, reference, pointer)
        return issuers_seen[reference]

    def active_signing_key(uow: Any, issuer: Any, algorithm: Any, pointer: str) -> Any:
        if (issuer.slug, algorithm) not in keys_seen:
            keys_seen[issuer.slug, algorithm] = pick(uow, issuer, algorithm, pointer)
        return keys_seen[issuer.slug, algorithm]

    return [
        mock.patch.object(issuing_module, "require_issuer_for", require_issuer_for),
        mock.patch.object(issuing_module, "active_signing_key", active_signing_key),
    ]


def cache_auth(_container: Container) -> list[Any]:
    seen: dict[str, ApiClient] = {}
    original = AccessService.authenticate

    def authenticate(self: AccessService, token: str | None) -> ApiClient:
        key = hash_token(token or "")
        if key not in seen:
            seen[key] = original(self, token)
        return seen[key]

    return [mock.patch.object(AccessService, "authenticate", authenticate)]


def skip_id_check(_container: Container) -> list[Any]:
    return [mock.patch.object(repositories.SqlCredentials, "get", lambda _self, _credential_id: None)]


def no_pre_ping(container: Container) -> list[Any]:
    return [mock.patch.object(container.engine.pool, "_pre_ping", False)]


OPTIONS: dict[str, tuple[str, Callable[[Container], list[Any]]]] = {
    "insert-params": ("INSERT with a parameter dict, not .values(**17)", insert_params),
    "prebuilt-selects": ("prebuilt SELECTs with bindparam (issuer, keys, client)", prebuilt_selects),
    "cache-issuer-key": ("cache issuer + active key per process", cache_issuer_key),
    "cache-auth": ("cache authenticated client per process", cache_auth),
    "skip-id-check": ("skip the duplicate-id SELECT (generated ids)", skip_id_check),
    "no-pre-ping": ("no pool_pre_ping (PostgreSQL: a round trip per checkout)", no_pre_ping),
}


def parse_names(text: str) -> list[str]:
    names = list(OPTIONS) if text.strip() == "all" else [n.strip() for n in text.split(",") if n.strip()]
    unknown = set(names) - set(OPTIONS)
    if unknown or not names:
        raise ValueError(f"unknown what-if options {sorted(unknown)}; choose from {', '.join(OPTIONS)} or all")
    return names


def create() -> APIFlask:
    """WSGI factory for granian: the production app with the options named in BENCH_WHAT_IF applied."""
    from ec_issuer.api.wsgi import create as create_production_app

    app = create_production_app()
    container: Container = app.extensions[EXTENSION_KEY]
    for name in parse_names(os.environ.get(ENVIRONMENT_VARIABLE, "all")):
        for patcher in OPTIONS[name][1](container):
            patcher.start()  # for the life of this worker process
    return app
