"""Production implementations of the clock and id ports."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        # Credentials carry second precision; sub-second noise would only make JWS payloads longer.
        return datetime.now(UTC).replace(microsecond=0)


class TimeOrderedIds:
    """UUIDv7 (RFC 9562, section 5.7): the Unix time in milliseconds, then 74 random bits.

    Ids made later sort later, so the indexes keyed on them (credentials, outbox events, attestations) grow at
    their right edge: a random UUIDv4 dirtied a random leaf of each such index per insert, which every commit
    wrote to the WAL and every checkpoint copied again. 74 random bits per millisecond still make an id
    unguessable; ids are names, never secrets (whatever grants access is a separate token), and the moment
    they reveal is the issuance time the credential states anyway.
    """

    def new_id(self) -> str:
        return str(uuid7(time.time_ns() // 1_000_000, os.urandom(10)))


def uuid7(unix_ms: int, entropy: bytes) -> uuid.UUID:
    """The UUIDv7 of a millisecond timestamp and 10 random bytes (of which 74 bits are used)."""
    if not 0 <= unix_ms < 1 << 48 or len(entropy) != 10:
        raise ValueError("a UUIDv7 takes a 48-bit millisecond timestamp and 10 bytes of entropy")
    random_bits = int.from_bytes(entropy, "big")
    rand_a = random_bits >> 68  # 12 bits
    rand_b = random_bits & ((1 << 62) - 1)  # 62 bits
    return uuid.UUID(int=unix_ms << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)
