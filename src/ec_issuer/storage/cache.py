"""Short-lived, per-process copies of rarely changing rows read on every request.

Every issuing request needs its client (by token hash), its issuer and the issuer's keys. These rows
change a few times a year, so each worker keeps what it read for a few seconds. Writes through this
process drop the affected region at once (and again after the commit, so that a reader racing the
commit cannot keep the old row); writes by other processes (another worker, the CLI) are seen after
at most the time-to-live. A time-to-live of zero turns caching off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from enum import Enum


class Region(Enum):
    ISSUERS = "issuers"
    KEYS = "keys"
    CLIENTS = "clients"
    TEMPLATES = "templates"  # the credential templates an issuer's metadata lists


class ReadCache:
    """Thread-safe map of (region, key) to a value, each entry expiring `ttl_seconds` after it was read."""

    def __init__(self, ttl_seconds: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if ttl_seconds < 0:
            raise ValueError("the cache time-to-live cannot be negative")
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._entries: dict[tuple[Region, Hashable], tuple[float, object]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def get(self, region: Region, key: Hashable) -> object | None:
        if not self.enabled:
            return None
        entry = self._entries.get((region, key))
        if entry is None:
            return None
        expires, value = entry
        if self._monotonic() >= expires:
            with self._lock:
                self._entries.pop((region, key), None)
            return None
        return value

    def put(self, region: Region, key: Hashable, value: object) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._entries[(region, key)] = (self._monotonic() + self._ttl, value)

    def invalidate(self, region: Region) -> None:
        with self._lock:
            for entry in [entry for entry in self._entries if entry[0] is region]:
                del self._entries[entry]


NO_CACHE = ReadCache(0)
