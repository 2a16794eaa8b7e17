"""Storage port for API clients."""

from __future__ import annotations

from typing import Protocol

from ec_issuer.access.model import ApiClient


class ClientRepository(Protocol):
    def add(self, client: ApiClient) -> None: ...

    def get(self, client_id: str) -> ApiClient | None: ...

    def get_by_token_hash(self, token_hash: str) -> ApiClient | None: ...

    def replace_token(self, client_id: str, token_hash: str) -> None: ...

    def all(self) -> list[ApiClient]: ...
