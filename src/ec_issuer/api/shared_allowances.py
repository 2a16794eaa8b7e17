"""The public routes' allowances kept in Redis, so that PUBLIC_RATE_PER_MINUTE and PUBLIC_RATE_BURST hold per
client address across every worker and every instance (PUBLIC_RATE_STORE), instead of per worker.

One script per request does the whole token bucket inside Redis, atomically: it reads Redis's own clock, so
instances whose clocks differ still agree, and it lets a bucket expire once it would be full again, so an
address is kept no longer than its allowance needs (a few seconds with the defaults).

Redis is a guard here, not a dependency of the routes: when it does not answer within STORE_TIMEOUT_S the
request is let through (logged at most once a minute), because a verification page that stays up matters
more than a limit that holds while Redis is down.
"""

from __future__ import annotations

import logging
import time

import redis

_log = logging.getLogger(__name__)

STORE_TIMEOUT_S = 0.1
KEY_PREFIX = "ec-issuer:public-allowance:"
_WARN_EVERY_S = 60.0

# KEYS[1]: the client's bucket. ARGV: refill per second, burst. Returns the seconds to wait, "0" when allowed
# (a string: Redis would truncate a Lua number to an integer).
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local per_second, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * per_second)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / per_second end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / per_second * 1000) + 1000)
return tostring(wait)
"""


class SharedTokenBuckets:
    def __init__(self, url: str, per_minute: int, burst: int, *, timeout_s: float = STORE_TIMEOUT_S) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a bucket needs a positive rate and a burst of at least one request")
        self._per_second = per_minute / 60
        self._burst = burst
        # A connection pool per process, opened on first use: each server worker builds its own app.
        self._client: redis.Redis = redis.Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._take = self._client.register_script(_TAKE)
        self._warned_at = float("-inf")

    def take(self, client: str) -> float | None:
        """Spend one request of the client's allowance: None when it had one (or Redis did not answer), else
        the seconds until it has."""
        try:
            answer = self._take(keys=[KEY_PREFIX + client], args=[self._per_second, self._burst])
        except redis.RedisError as exc:
            self._warn(exc)
            return None
        wait = float(answer)  # pyright: ignore[reportArgumentType] - the script returns a number as text
        return wait if wait > 0 else None

    def close(self) -> None:
        self._client.close()

    def _warn(self, exc: redis.RedisError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            _log.warning("PUBLIC_RATE_STORE did not answer (%s): public requests are not limited meanwhile", exc)
