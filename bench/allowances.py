"""What a public request's allowance costs: the in-process token buckets against the Redis ones (PUBLIC_RATE_STORE).

    uv run python bench/allowances.py [--calls 20000] [--redis-url redis://127.0.0.1:6379/0]

Each store answers `--calls` takes for 1,000 rotating addresses (none runs out), in one thread; the script prints
wall time per take and the ratio, in the same run. A Redis round trip over loopback is most of the Redis figure.
"""

from __future__ import annotations

import argparse
import time
import uuid

from ec_issuer.api.rate_limits import Allowances, TokenBuckets
from ec_issuer.api.shared_allowances import SharedTokenBuckets


def per_take_us(buckets: Allowances, calls: int, salt: str) -> float:
    addresses = [f"bench-{salt}-{n}" for n in range(1000)]
    started = time.perf_counter()
    for n in range(calls):
        if buckets.take(addresses[n % len(addresses)]) is not None:
            raise SystemExit("an address ran out of allowance: raise the rate")
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    per_minute, burst = 6_000_000, 100_000
    local = per_take_us(TokenBuckets(per_minute, burst), args.calls, uuid.uuid4().hex)
    shared_buckets = SharedTokenBuckets(args.redis_url, per_minute, burst, timeout_s=1.0)
    try:
        shared_buckets.take("bench-warm-up")
        shared = per_take_us(shared_buckets, args.calls, uuid.uuid4().hex)
    finally:
        shared_buckets.close()
    print(f"in process  {local:8.2f} µs per take")
    print(f"Redis       {shared:8.2f} µs per take  ({shared / local:.0f}x)")


if __name__ == "__main__":
    main()
