"""Ports of the lifecycle capability: slot allocation, status list storage and the history log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ec_issuer.status.lists import StatusEntry, StatusListKind, StatusListRecord, StatusSlot
from ec_issuer.status.model import LifecycleEvent


class StatusSlotAllocator(Protocol):
    def allocate(self, issuer_slug: str, kind: StatusListKind) -> StatusSlot:
        """A fresh slot in the issuer's current list of that kind, opening a new list when it is full.

        Safe across threads and processes; a slot is never handed out twice. Slots allocated for a
        credential that is then not stored stay unused.
        """
        ...


class StatusListRepository(Protocol):
    def set_value(self, entry: StatusEntry, value: int) -> None:
        """What the entry's list publishes for it from now on (entries never set publish 0)."""
        ...

    def touch(self, list_ids: Iterable[str]) -> None:
        """Count a change of published values in each list (in a stable order, so as not to deadlock)."""
        ...

    def get(self, list_id: str) -> StatusListRecord | None: ...

    def reported(self, list_id: str) -> list[tuple[int, int]]:
        """(index, value) of every entry with a non-zero value."""
        ...

    def save_publication(self, list_id: str, revision: int, jwt: str, document: str | None, at: datetime) -> None:
        """Keep the signed form of a revision, unless a newer one is kept already."""
        ...


class HistoryRepository(Protocol):
    def append(self, event: LifecycleEvent) -> None: ...

    def for_credential(self, credential_id: str) -> list[LifecycleEvent]:
        """Oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class FetchedList:
    body: str
    media_type: str


class StatusListUnavailable(Exception):
    """The list could not be retrieved (network, HTTP status, size, address policy): status is unknown."""


class StatusListSource(Protocol):
    def fetch(self, url: str, accept: str) -> FetchedList:
        """The list published at url; raises StatusListUnavailable when it cannot be had."""
        ...
