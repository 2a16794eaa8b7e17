"""The one place where JSON, base64url and timestamps are encoded and decoded."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any, cast

import orjson

JsonObject = dict[str, Any]


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON. Key order is kept: the bytes we sign are the bytes we store."""
    return orjson.dumps(value)


def dumps_canonical(value: object) -> bytes:
    """Sorted-key JSON, for hashing a value (idempotency fingerprints, thumbprints)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def loads(data: bytes | str) -> Any:
    """Parse JSON strictly: invalid UTF-8 and lone surrogates are rejected (orjson.JSONDecodeError)."""
    return orjson.loads(data)


def loads_object(data: bytes | str) -> JsonObject:
    value = loads(data)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return cast(JsonObject, value)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url, refusing any character outside the alphabet."""
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:  # pragma: no cover - the regex already excludes these
        raise ValueError("not base64url") from exc


def format_datetime(moment: datetime) -> str:
    """XSD dateTime in UTC with a literal Z, as VC 2.0 and the OB3 schema expect."""
    try:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    except OverflowError:
        raise ValueError("timestamp is out of range") from None


def parse_datetime(text: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries an explicit offset; naive timestamps are refused."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("timestamp needs a timezone offset or Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 has no UTC equivalent
        raise ValueError("timestamp is out of range") from None


def timestamp_or_none(value: object) -> datetime | None:
    """A JSON member read as an RFC 3339 timestamp, or None when it is absent or not one."""
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None
