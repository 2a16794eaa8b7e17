"""Ports for time and identifiers, so that tests can pin both."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new globally unique identifier (a UUID string without a scheme)."""
        ...
