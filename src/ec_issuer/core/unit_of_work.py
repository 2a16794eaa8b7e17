"""The unit-of-work port: one database transaction, with every repository bound to it."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from ec_issuer.access.ports import ClientRepository
from ec_issuer.attestations.ports import AttestationRepository
from ec_issuer.credentials.ports import CredentialRepository
from ec_issuer.events.ports import OutboxRepository
from ec_issuer.issuers.ports import IssuerRepository
from ec_issuer.keys.ports import KeyRepository
from ec_issuer.oid4vci.ports import WalletRequestRepository
from ec_issuer.status.ports import HistoryRepository, StatusListRepository


class UnitOfWork(Protocol):
    @property
    def issuers(self) -> IssuerRepository: ...

    @property
    def keys(self) -> KeyRepository: ...

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def credentials(self) -> CredentialRepository: ...

    @property
    def status_lists(self) -> StatusListRepository: ...

    @property
    def history(self) -> HistoryRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def wallet_requests(self) -> WalletRequestRepository: ...

    @property
    def attestations(self) -> AttestationRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
