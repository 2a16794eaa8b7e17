"""Storage port for issuers."""

from __future__ import annotations

from typing import Protocol

from ec_issuer.issuers.model import Issuer


class IssuerRepository(Protocol):
    def add(self, issuer: Issuer) -> None: ...

    def get(self, slug: str) -> Issuer | None: ...

    def get_by_did(self, did: str) -> Issuer | None: ...

    def get_root(self) -> Issuer | None: ...

    def all(self) -> list[Issuer]: ...
