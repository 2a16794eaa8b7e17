"""Authenticating callers and registering API clients."""

from __future__ import annotations

from dataclasses import dataclass

from ec_issuer.access.commands import CreateClient
from ec_issuer.access.model import MIN_TOKEN_LENGTH, ApiClient, hash_token, new_token, token_matches
from ec_issuer.core.errors import FieldError, Forbidden, InvalidInput, Unauthenticated
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.core.unit_of_work import UnitOfWorkFactory

BOOTSTRAP_CLIENT_ID = "bootstrap-admin"
# The command line acts as this client. It has no usable token: only shell access to the service acts as it.
OPERATOR_CLIENT_ID = "cli-operator"


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client: ApiClient
    token: str  # shown once, never stored


class AccessService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    def authenticate(self, token: str | None) -> ApiClient:
        if not token:
            raise Unauthenticated("a bearer token is required")
        token_hash = hash_token(token)
        with self._uow() as uow:
            client = uow.clients.get_by_token_hash(token_hash)
        # The lookup is by a hash of a high-entropy secret; the final comparison is constant-time.
        if client is None or not token_matches(token, client.token_hash) or client.disabled:
            raise Unauthenticated("the bearer token is not valid")
        return client

    def create(self, command: CreateClient) -> RegisteredClient:
        token = new_token()
        client = ApiClient(
            id=self._ids.new_id(),
            name=command.name,
            token_hash=hash_token(token),
            issuer_scope=tuple(command.issuers) if command.issuers is not None else None,
            achievement_scope=tuple(command.achievements) if command.achievements is not None else None,
            is_admin=command.admin,
            created_at=self._clock.now(),
        )
        with self._uow() as uow:
            uow.clients.add(client)
            uow.commit()
        return RegisteredClient(client, token)

    def ensure_bootstrap_client(self, token: str) -> ApiClient:
        """Create (or re-key) the all-scopes admin client that automation logs in with."""
        if len(token) < MIN_TOKEN_LENGTH:
            raise InvalidInput(
                "ADMIN_BOOTSTRAP_TOKEN is too short",
                [FieldError("ADMIN_BOOTSTRAP_TOKEN", f"use at least {MIN_TOKEN_LENGTH} random characters")],
            )
        token_hash = hash_token(token)
        with self._uow() as uow:
            existing = uow.clients.get(BOOTSTRAP_CLIENT_ID)
            if existing is None:
                existing = ApiClient(
                    id=BOOTSTRAP_CLIENT_ID,
                    name="bootstrap admin (ADMIN_BOOTSTRAP_TOKEN)",
                    token_hash=token_hash,
                    is_admin=True,
                    created_at=self._clock.now(),
                )
                uow.clients.add(existing)
            elif existing.token_hash != token_hash:
                uow.clients.replace_token(BOOTSTRAP_CLIENT_ID, token_hash)
            uow.commit()
            return existing

    def operator_client(self) -> ApiClient:
        with self._uow() as uow:
            existing = uow.clients.get(OPERATOR_CLIENT_ID)
            if existing is not None:
                return existing
            operator = ApiClient(
                id=OPERATOR_CLIENT_ID,
                name="command-line operator",
                token_hash=hash_token(new_token()),  # a token nobody ever sees
                is_admin=True,
                created_at=self._clock.now(),
            )
            uow.clients.add(operator)
            uow.commit()
            return operator

    def all(self) -> list[ApiClient]:
        with self._uow() as uow:
            return uow.clients.all()


def require_admin(client: ApiClient) -> None:
    if not client.is_admin:
        raise Forbidden("this action needs an admin client")
