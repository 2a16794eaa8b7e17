"""Allowances for callers of the public routes that cost CPU to answer: the verification page, the file check,
the certificate and badge, and the account-free verify API.

Each client address has a token bucket: PUBLIC_RATE_BURST requests at once, refilled at PUBLIC_RATE_PER_MINUTE.
By default each worker process keeps its own (`TokenBuckets`): that guards a worker against one client keeping it
busy, but with several workers a client may get up to that many allowances. With PUBLIC_RATE_STORE the buckets
live in Redis (api/shared_allowances.py), one per address for every worker and instance. Behind a reverse proxy
every request comes from the proxy's address, so TRUSTED_PROXY_HOPS tells the service how many proxies'
X-Forwarded-For entries to trust (werkzeug's ProxyFix) and the buckets count clients, not the proxy.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from flask import current_app, request

from ec_issuer.core.errors import RateLimited

EXTENSION_KEY = "ec_issuer.public_rate_limits"
MAX_TRACKED_CLIENTS = 10_000  # the least recently seen client is forgotten first (its bucket starts full again)


class Allowances(Protocol):
    def take(self, client: str) -> float | None:
        """Spend one request of the client's allowance: None when it had one, else the seconds until it has."""
        ...


class TokenBuckets:
    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_TRACKED_CLIENTS,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a bucket needs a positive rate and a burst of at least one request")
        self._per_second = per_minute / 60
        self._burst = float(burst)
        self._monotonic = monotonic
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client: (tokens, as of)
        self._lock = threading.Lock()

    def take(self, client: str) -> float | None:
        """Spend one request of the client's allowance: None when it had one, else the seconds until it has."""
        now = self._monotonic()
        with self._lock:
            tokens, as_of = self._buckets.pop(client, (self._burst, now))
            tokens = min(self._burst, tokens + (now - as_of) * self._per_second)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        return None if allowed else (1 - tokens) / self._per_second


def spend_public_allowance() -> None:
    """Raise RateLimited (429, Retry-After) when the calling address has no request left for now."""
    buckets: Allowances | None = current_app.extensions.get(EXTENSION_KEY)
    if buckets is None:
        return
    wait = buckets.take(request.remote_addr or "unknown")
    if wait is not None:
        raise RateLimited(
            "too many requests from this address to the public verification routes; retry later",
            retry_after_seconds=max(1, math.ceil(wait)),
        )
