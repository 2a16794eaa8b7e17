"""W3C Bitstring Status List v1.0: bit order, the spec's minimum-list example, hostile encodedLists."""

from __future__ import annotations

import base64
import gzip
import zlib

import pytest

from ec_issuer.status.bitstring import (
    MIN_ENTRIES,
    BitstringStatusList,
    decode_list,
    encode_list,
    get_bit,
    set_bit,
)
from ec_issuer.status.compression import DEFAULT_MAX_DECOMPRESSED_BYTES

# The spec's encodedList for an all-zero list of 131,072 entries (16 KB), e.g. §2.1 / the examples.
SPEC_EMPTY_16KB = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def independent_decode(encoded: str) -> bytes:
    """A decoder written from the spec text alone: strip multibase 'u', base64url (no pad), GUNZIP."""
    assert encoded[0] == "u"
    body = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def u(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ------------------------------------------------------------------------------------------ spec vector


def test_an_empty_16kb_list_encodes_to_the_spec_example_byte_for_byte() -> None:
    # gzip puts mtime (4 bytes), XFL and OS in its header; with mtime 0, level 6 (XFL 0) and OS 3 (Unix),
    # Python's gzip reproduces the spec's example exactly.
    assert BitstringStatusList().encode() == SPEC_EMPTY_16KB
    assert encode_list(bytes(MIN_ENTRIES // 8)) == SPEC_EMPTY_16KB


def test_the_spec_example_decodes_to_131072_zero_bits() -> None:
    assert decode_list(SPEC_EMPTY_16KB) == bytes(16_384)
    assert independent_decode(SPEC_EMPTY_16KB) == bytes(16_384)
    status_list = BitstringStatusList.decode(SPEC_EMPTY_16KB)
    assert len(status_list) == 131_072
    assert not any(status_list.get(i) for i in (0, 1, 7, 8, 65_535, 131_071))


# ------------------------------------------------------------------------------------------ bit order


def test_index_0_is_the_most_significant_bit_of_the_first_byte() -> None:
    status_list = BitstringStatusList()
    status_list.set(0)
    assert status_list.to_bytes()[:2] == b"\x80\x00"
    status_list.set(7)
    status_list.set(8)
    assert status_list.to_bytes()[:2] == b"\x81\x80"
    status_list.set(131_071)
    assert status_list.to_bytes()[-1] == 0x01


def test_set_get_and_clear_by_index() -> None:
    bits = bytearray(2)
    set_bit(bits, 3)
    set_bit(bits, 14)
    assert bits == bytearray([0b0001_0000, 0b0000_0010])
    assert [i for i in range(16) if get_bit(bits, i)] == [3, 14]
    set_bit(bits, 3, False)
    assert bits == bytearray([0, 0b0000_0010])


@pytest.mark.parametrize("index", [-1, 131_072])
def test_indices_outside_the_list_are_refused(index: int) -> None:
    with pytest.raises(IndexError):
        BitstringStatusList().get(index)
    with pytest.raises(IndexError):
        BitstringStatusList().set(index)


# ------------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("entries", [MIN_ENTRIES, MIN_ENTRIES + 8, 1_048_576])
def test_round_trip_through_our_decoder_and_an_independent_one(entries: int) -> None:
    status_list = BitstringStatusList(entries)
    set_indices = {0, 1, 9, 4_242, entries // 2, entries - 1}
    for index in set_indices:
        status_list.set(index)
    encoded = status_list.encode()
    assert encoded.startswith("u")
    assert independent_decode(encoded) == status_list.to_bytes()
    decoded = BitstringStatusList.decode(encoded)
    assert len(decoded) == entries
    assert {i for i in set_indices if decoded.get(i)} == set_indices
    assert not decoded.get(2)
    assert not decoded.get(entries - 2)


def test_encoding_is_deterministic() -> None:
    first, second = BitstringStatusList(), BitstringStatusList()
    first.set(77)
    second.set(77)
    assert first.encode() == second.encode()


@pytest.mark.parametrize("entries", [MIN_ENTRIES - 8, MIN_ENTRIES + 1, 8, 0])
def test_sizes_below_the_minimum_or_not_multiples_of_8_are_refused(entries: int) -> None:
    with pytest.raises(ValueError, match="entries"):
        BitstringStatusList(entries)


def test_a_decoded_list_shorter_than_the_minimum_is_refused() -> None:
    short = u(gzip.compress(bytes(1_024), mtime=0))
    assert decode_list(short) == bytes(1_024)  # the encoding is fine …
    with pytest.raises(ValueError, match="at least 131072"):
        BitstringStatusList.decode(short)  # … the list is too short (STATUS_LIST_LENGTH_ERROR)


# ------------------------------------------------------------------------------------------ hostile input


def raw_deflate(data: bytes) -> bytes:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflater.compress(data) + deflater.flush()


@pytest.mark.parametrize(
    "encoded",
    [
        SPEC_EMPTY_16KB[1:],  # no multibase prefix
        "z" + SPEC_EMPTY_16KB[1:],  # base58btc prefix
        "U" + SPEC_EMPTY_16KB[1:],  # base64url-pad prefix
        "m" + SPEC_EMPTY_16KB[1:],  # base64 prefix
        "",
        "u",
    ],
)
def test_wrong_or_missing_prefix_is_refused(encoded: str) -> None:
    with pytest.raises(ValueError, match=r"prefix|empty"):
        decode_list(encoded)


@pytest.mark.parametrize("body", ["H4sI+AAA", "H4sI/AAA", "H4sI AAA", "H4sI=", "H4sIA", "Ä"])
def test_bad_base64url_is_refused(body: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        decode_list("u" + body)


@pytest.mark.parametrize(
    "compressed",
    [
        bytes(16_384),  # not compressed at all
        zlib.compress(bytes(16_384)),  # zlib, not gzip
        raw_deflate(bytes(16)),  # raw deflate
        b"PK\x03\x04" + bytes(40),  # zip
    ],
)
def test_anything_but_gzip_is_refused(compressed: bytes) -> None:
    with pytest.raises(ValueError, match=r"compressed stream|truncated"):
        decode_list(u(compressed))


def test_truncated_gzip_is_refused() -> None:
    whole = base64.urlsafe_b64decode(SPEC_EMPTY_16KB[1:] + "=" * (-len(SPEC_EMPTY_16KB[1:]) % 4))
    for cut in (len(whole) - 1, len(whole) - 8, len(whole) // 2, 12):
        with pytest.raises(ValueError, match=r"truncated|compressed stream"):
            decode_list(u(whole[:cut]))


def test_trailing_data_after_the_gzip_member_is_refused() -> None:
    twice = gzip.compress(bytes(16_384), mtime=0) * 2
    with pytest.raises(ValueError, match="after the compressed stream"):
        decode_list(u(twice))


def test_a_list_just_above_the_bound_is_refused_and_one_at_it_accepted() -> None:
    assert len(decode_list(u(gzip.compress(bytes(4_096))), max_bytes=4_096)) == 4_096
    with pytest.raises(ValueError, match="exceeds 4096 bytes"):
        decode_list(u(gzip.compress(bytes(4_097))), max_bytes=4_096)


def test_a_zip_bomb_is_refused_without_expanding_it() -> None:
    bomb = gzip.compress(bytes(DEFAULT_MAX_DECOMPRESSED_BYTES * 4), compresslevel=9)  # 64 MiB of zeros
    assert len(bomb) < 100_000
    with pytest.raises(ValueError, match="exceeds"):
        decode_list(u(bomb))


def test_a_list_built_in_one_pass_equals_one_built_bit_by_bit() -> None:
    indices = [0, 7, 8, 4095, 131_071, 77_777]
    one_by_one = BitstringStatusList()
    for index in indices:
        one_by_one.set(index)
    assert BitstringStatusList.with_set(131_072, indices).to_bytes() == one_by_one.to_bytes()
    with pytest.raises(IndexError):
        BitstringStatusList.with_set(131_072, [131_072])
