"""Files visitors send to be compared with a credential: a raw body, a multipart form part, or base64 in JSON.

Files are hashed while they arrive and never kept: a raw body or a multipart part is read in pieces from the
request stream (the limit per request is raised to VERIFY_FILE_MAX_BYTES only for the routes that take files), so a
50 MB file costs one piece of memory, not 50 MB. Base64 in JSON is for small files only (INLINE_FILE_MAX_BYTES).
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Final

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from ec_issuer.core.errors import FieldError, InvalidInput, MalformedInput
from ec_issuer.public_verification.content_hash import ContentHash, FileDigest

CHUNK_BYTES: Final = 64 * 1024
# A file in a JSON body is decoded in memory, whole: keep that small. Larger files go as multipart or raw bodies.
INLINE_FILE_MAX_BYTES: Final = 1024 * 1024
MULTIPART_MEDIA_TYPE: Final = "multipart/form-data"
# Part headers and the tail the decoder keeps while looking for the next boundary; far below a chunk and a half.
_DECODER_BUFFER_BYTES: Final = 4 * CHUNK_BYTES
_MAX_PARTS: Final = 8

HashedFile = tuple[ContentHash, int]  # the digest and the size in bytes


@dataclass(slots=True)
class Form:
    """The text parts of a multipart form, and the file part hashed."""

    fields: dict[str, str] = field(default_factory=dict[str, str])
    file: HashedFile | None = None


def accept_files_up_to(limit: int) -> None:
    """Raise this request's body limit above MAX_REQUEST_BYTES (Flask 3.1: per request). Must run before the
    body is first read."""
    request.max_content_length = limit


def inline_body_limit(base_limit: int, file_limit: int) -> int:
    """The largest JSON body that may carry a base64 file: the file's base64 size plus an ordinary body."""
    inline = min(INLINE_FILE_MAX_BYTES, file_limit)
    return base_limit + (inline + 2) // 3 * 4


def hash_raw_body() -> HashedFile:
    digest = FileDigest()
    for chunk in _chunks():
        digest.update(chunk)
    if digest.size == 0:
        raise MalformedInput("the request body is empty", [FieldError("", "send the file as the request body")])
    return digest.result(), digest.size


def read_form(file_part: str, text_parts: Collection[str], max_text_bytes: int) -> Form:
    """Parse a multipart/form-data body as it streams in: text parts kept (each up to `max_text_bytes`), the file
    part hashed. A part with another name, or a name given twice, is refused."""
    boundary = request.mimetype_params.get("boundary")
    if not boundary:
        raise MalformedInput(
            "the multipart body names no boundary", [FieldError("Content-Type", "multipart/form-data; boundary=…")]
        )
    decoder = MultipartDecoder(boundary.encode("latin-1"), _DECODER_BUFFER_BYTES, max_parts=_MAX_PARTS)
    parts = _Parts(file_part, text_parts, max_text_bytes)
    try:
        for chunk in itertools.chain(_chunks(), [None]):  # None tells the decoder that the body has ended
            decoder.receive_data(chunk)
            event = decoder.next_event()
            while not isinstance(event, Epilogue | NeedData):
                if isinstance(event, Field | File):
                    parts.start(event.name)
                elif isinstance(event, Data):
                    parts.add(event.data)
                event = decoder.next_event()
    except ValueError as exc:  # the decoder's word for a body that is not multipart
        raise MalformedInput(f"the multipart body is malformed: {exc}", [FieldError("", str(exc))]) from None
    return parts.form()


class _Parts:
    def __init__(self, file_part: str, text_parts: Collection[str], max_text_bytes: int) -> None:
        self._file_part = file_part
        self._text_parts = text_parts
        self._max_text_bytes = max_text_bytes
        self._texts: dict[str, bytearray] = {}
        self._digest: FileDigest | None = None
        self._current: str | None = None

    def start(self, name: str | None) -> None:
        if not name:
            raise MalformedInput("a form part has no name", [FieldError("", "name each part (file, credentialId…)")])
        if name in self._texts or (name == self._file_part and self._digest is not None):
            raise InvalidInput(f"the form has two '{name}' parts", [FieldError(name, "send it once")])
        if name == self._file_part:
            self._digest = FileDigest()
        elif name in self._text_parts:
            self._texts[name] = bytearray()
        else:
            expected = ", ".join([self._file_part, *self._text_parts])
            raise InvalidInput(f"unexpected form part '{name}'", [FieldError(name, f"the parts read are {expected}")])
        self._current = name

    def add(self, data: bytes) -> None:
        if self._current == self._file_part and self._digest is not None:
            self._digest.update(data)
        elif self._current is not None:
            text = self._texts[self._current]
            text.extend(data)
            if len(text) > self._max_text_bytes:
                raise RequestEntityTooLarge(f"the '{self._current}' part is larger than {self._max_text_bytes} bytes")

    def form(self) -> Form:
        form = Form()
        for name, raw in self._texts.items():
            try:
                form.fields[name] = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise MalformedInput(
                    f"the '{name}' part is not UTF-8 text", [FieldError(name, "send UTF-8 text")]
                ) from None
        if self._digest is not None:
            form.file = (self._digest.result(), self._digest.size)
        return form


def hash_base64(value: object, pointer: str) -> HashedFile:
    if not isinstance(value, str):
        raise InvalidInput("the file must be a base64 string", [FieldError(pointer, "base64 (RFC 4648) text")])
    if len(value) > (INLINE_FILE_MAX_BYTES + 2) // 3 * 4:
        raise RequestEntityTooLarge(
            f"a file in a JSON body may have up to {INLINE_FILE_MAX_BYTES} bytes: send larger ones as multipart"
        )
    text = value.strip()
    try:
        data = base64.b64decode(
            text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None, validate=True
        )
    except (binascii.Error, ValueError):
        raise InvalidInput("the file is not base64", [FieldError(pointer, "base64 (RFC 4648) text")]) from None
    if not data:
        raise InvalidInput("the file is empty", [FieldError(pointer, "base64 of the file's bytes")])
    digest = FileDigest()
    digest.update(data)
    return digest.result(), digest.size


def _chunks() -> Iterator[bytes]:
    stream = request.stream  # bounded by the request's max_content_length: reading past it raises 413
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk
