"""The SHA-256 a validation credential names for its file, and the SHA-256 of a file someone brings: the one
place that writes and reads its two forms (`urn:sha256:` hex and the `digestMultibase` multihash).

A credential names the digest in `credentialSubject.resource.hash` (`urn:sha256:<64 hex digits>`) and may repeat it
as `digestMultibase` (VC 2.0, "Integrity of related resources"). Both are read; when both are present they must
agree, since a verifier that trusted one and a reader who trusted the other would otherwise disagree about the file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, cast

from ec_issuer.signing.data_integrity.multibase import decode_base58btc

URN_PREFIX: Final = "urn:sha256:"
DIGEST_BYTES: Final = 32
# The multihash header of a SHA-256 digest: function code 0x12, length 0x20.
_MULTIHASH_SHA256: Final = b"\x12\x20"
_HEX_URN = re.compile(r"urn:sha256:([0-9a-fA-F]{64})")
_MAX_MULTIBASE_CHARS: Final = 128


@dataclass(frozen=True, slots=True)
class ContentHash:
    digest: bytes

    def __post_init__(self) -> None:
        if len(self.digest) != DIGEST_BYTES:
            raise ValueError("a SHA-256 digest has 32 bytes")

    @property
    def hex(self) -> str:
        return self.digest.hex()

    @property
    def urn(self) -> str:
        return URN_PREFIX + self.hex

    @property
    def digest_multibase(self) -> str:
        """VC 2.0 `digestMultibase`: multibase base64url (`u`, unpadded) of the sha2-256 multihash."""
        return "u" + base64.urlsafe_b64encode(_MULTIHASH_SHA256 + self.digest).decode("ascii").rstrip("=")

    @classmethod
    def parse(cls, text: str) -> ContentHash:
        """`urn:sha256:<hex>`, or the 64 hex digits alone (what `sha256sum` prints)."""
        match = _HEX_URN.fullmatch(text) or _HEX_URN.fullmatch(URN_PREFIX + text)
        if match is None:
            raise ValueError("expected urn:sha256: followed by 64 hexadecimal digits")
        return cls(bytes.fromhex(match.group(1)))


class UnreadableHash(ValueError):
    """The credential names a content hash this service cannot read; `field` says which member."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def expected_hash(credential: dict[str, Any]) -> ContentHash | None:
    """The file digest the credential vouches for; None when it names none (e.g. an Open Badge).
    Raises UnreadableHash when what it names is not a SHA-256 digest."""
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict):
        return None
    resource = cast(dict[str, Any], subject).get("resource")
    if not isinstance(resource, dict):
        return None
    resource = cast(dict[str, Any], resource)
    from_urn = from_multibase = None
    urn = resource.get("hash")
    if urn is not None:
        if not isinstance(urn, str):
            raise UnreadableHash("hash", "not a string")
        try:
            from_urn = ContentHash.parse(urn)
        except ValueError as exc:
            raise UnreadableHash("hash", str(exc)) from None
    multibase = resource.get("digestMultibase")
    if multibase is not None:
        if not isinstance(multibase, str):
            raise UnreadableHash("digestMultibase", "not a string")
        from_multibase = ContentHash(_sha256_from_multibase(multibase))
    if from_urn is not None and from_multibase is not None and from_urn != from_multibase:
        raise UnreadableHash("digestMultibase", "names another digest than hash")
    return from_urn or from_multibase


def _sha256_from_multibase(text: str) -> bytes:
    if len(text) > _MAX_MULTIBASE_CHARS:
        raise UnreadableHash("digestMultibase", "too long for a SHA-256 digest")
    try:
        raw = _decode_multibase(text)
    except (ValueError, binascii.Error) as exc:
        raise UnreadableHash("digestMultibase", f"not multibase: {exc}") from None
    # Both a multihash and a bare digest are in use; a bare one can only be SHA-256 by its length.
    if len(raw) == DIGEST_BYTES + 2 and raw.startswith(_MULTIHASH_SHA256):
        return raw[2:]
    if len(raw) == DIGEST_BYTES:
        return raw
    raise UnreadableHash("digestMultibase", "not a SHA-256 digest or multihash")


def _decode_multibase(text: str) -> bytes:
    prefix, body = text[:1], text[1:]
    padded = body + "=" * (-len(body) % 4)
    if prefix == "u":
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    if prefix == "m":
        return base64.b64decode(padded, validate=True)
    if prefix == "f":
        return bytes.fromhex(body)
    if prefix == "z":
        return decode_base58btc(text)
    raise ValueError(f"unsupported multibase prefix {prefix!r} (u, m, f and z are read)")


class FileDigest:
    """SHA-256 over a file arriving in pieces, so that no more than one piece is held at a time."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)

    def result(self) -> ContentHash:
        return ContentHash(self._hash.digest())


def digest_of(chunks: Iterable[bytes]) -> tuple[ContentHash, int]:
    digest = FileDigest()
    for chunk in chunks:
        digest.update(chunk)
    return digest.result(), digest.size
