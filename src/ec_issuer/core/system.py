"""Production implementations of the clock and id ports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        # Credentials carry second precision; sub-second noise would only make JWS payloads longer.
        return datetime.now(UTC).replace(microsecond=0)


class RandomIds:
    def new_id(self) -> str:
        return str(uuid.uuid4())
