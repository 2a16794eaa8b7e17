"""IETF Token Status List: the draft's examples, LSB-first packing, hostile ``lst`` values."""

from __future__ import annotations

import base64
import gzip
import zlib
from typing import Any

import pytest

from ec_issuer.status.token_status_list import (
    TokenStatus,
    TokenStatusList,
    decode_lst,
    encode_lst,
    get_value,
    pack,
    set_value,
    unpack,
)

# The draft's "Status List" examples (unchanged from -02 through -19).
ONE_BIT_STATUSES = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
ONE_BIT_BYTES = bytes([0xB9, 0xA3])
ONE_BIT_LST = "eNrbuRgAAhcBXQ"
TWO_BIT_STATUSES = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
TWO_BIT_BYTES = bytes([0xC9, 0x44, 0xF9])
TWO_BIT_LST = "eNo76fITAAPfAgc"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ------------------------------------------------------------------------------------------ draft vectors


def test_the_one_bit_example_decodes_and_encodes_identically() -> None:
    assert decode_lst(ONE_BIT_LST) == ONE_BIT_BYTES
    assert unpack(ONE_BIT_BYTES, bits=1) == ONE_BIT_STATUSES
    assert pack(ONE_BIT_STATUSES, bits=1) == ONE_BIT_BYTES
    assert encode_lst(ONE_BIT_BYTES) == ONE_BIT_LST
    status_list = TokenStatusList(16, bits=1)
    for index, value in enumerate(ONE_BIT_STATUSES):
        status_list.set(index, value)
    assert status_list.to_claim() == {"bits": 1, "lst": ONE_BIT_LST}


def test_the_two_bit_example_decodes_and_encodes_identically() -> None:
    assert decode_lst(TWO_BIT_LST) == TWO_BIT_BYTES
    assert unpack(TWO_BIT_BYTES, bits=2) == TWO_BIT_STATUSES
    assert pack(TWO_BIT_STATUSES, bits=2) == TWO_BIT_BYTES
    assert encode_lst(TWO_BIT_BYTES) == TWO_BIT_LST
    decoded = TokenStatusList.from_claim({"bits": 2, "lst": TWO_BIT_LST})
    assert [decoded.get(i) for i in range(12)] == TWO_BIT_STATUSES


# ------------------------------------------------------------------------------------------ packing


def test_index_0_is_in_the_least_significant_bits_of_byte_0() -> None:
    data = bytearray(1)
    set_value(data, 0, TokenStatus.INVALID)
    assert data == b"\x01"
    set_value(data, 1, TokenStatus.SUSPENDED)
    assert data == b"\x09"  # 0b00_00_10_01
    set_value(data, 3, 3)
    assert data == b"\xc9"
    set_value(data, 1, TokenStatus.VALID)  # clearing leaves the neighbours alone
    assert data == b"\xc1"
    assert [get_value(data, i) for i in range(4)] == [1, 0, 0, 3]


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_round_trip_at_every_width(bits: int) -> None:
    size = 100_003
    status_list = TokenStatusList(size, bits=bits)
    expected = {0: 1, 1: (1 << bits) - 1, 4_242: 1, size - 1: (1 << bits) - 1}
    for index, value in expected.items():
        status_list.set(index, value)
    decoded = TokenStatusList.from_claim(status_list.to_claim())
    assert decoded.bits == bits
    assert len(decoded) >= size
    assert {i: decoded.get(i) for i in expected} == expected
    assert decoded.get(2) == TokenStatus.VALID
    assert zlib.decompress(base64.urlsafe_b64decode(status_list.to_claim()["lst"] + "==")) == decoded.to_bytes()


def test_values_too_wide_for_the_list_and_unknown_widths_are_refused() -> None:
    status_list = TokenStatusList(8)
    with pytest.raises(ValueError, match="does not fit"):
        status_list.set(0, 4)
    with pytest.raises(ValueError, match="bits must be"):
        TokenStatusList(8, bits=3)
    with pytest.raises(IndexError):
        status_list.get(8)
    with pytest.raises(IndexError):
        status_list.set(-1, 1)


@pytest.mark.parametrize(
    "claim",
    [{}, {"bits": 2}, {"lst": ONE_BIT_LST}, {"bits": "2", "lst": ONE_BIT_LST}, {"bits": True, "lst": ONE_BIT_LST}],
)
def test_malformed_claims_are_refused(claim: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="bits"):
        TokenStatusList.from_claim(claim)


# ------------------------------------------------------------------------------------------ hostile input


def raw_deflate(data: bytes) -> bytes:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflater.compress(data) + deflater.flush()


@pytest.mark.parametrize("lst", ["", "eNrb+RgA", "eNrb/RgA", "eNrb uRgA", "eNrbu=", "e"])
def test_bad_base64url_is_refused(lst: str) -> None:
    with pytest.raises(ValueError, match=r"base64url|empty"):
        decode_lst(lst)


@pytest.mark.parametrize(
    "compressed",
    [
        gzip.compress(ONE_BIT_BYTES),  # GZIP, not ZLIB
        raw_deflate(ONE_BIT_BYTES),  # raw DEFLATE
        ONE_BIT_BYTES,  # not compressed
    ],
)
def test_anything_but_zlib_is_refused(compressed: bytes) -> None:
    with pytest.raises(ValueError, match=r"compressed stream|truncated"):
        decode_lst(b64(compressed))


def test_truncated_and_trailing_data_are_refused() -> None:
    whole = zlib.compress(bytes(1_000), 9)
    with pytest.raises(ValueError, match=r"truncated|compressed stream"):
        decode_lst(b64(whole[:-2]))
    with pytest.raises(ValueError, match="after the compressed stream"):
        decode_lst(b64(whole + b"\x00"))


def test_a_zip_bomb_is_refused() -> None:
    assert len(decode_lst(b64(zlib.compress(bytes(4_096))), max_bytes=4_096)) == 4_096
    with pytest.raises(ValueError, match="exceeds 4096 bytes"):
        decode_lst(b64(zlib.compress(bytes(4_097))), max_bytes=4_096)
    bomb = zlib.compress(bytes(64 * 1024 * 1024), 9)
    with pytest.raises(ValueError, match="exceeds"):
        decode_lst(b64(bomb))


def test_a_token_list_built_in_one_pass_equals_one_built_entry_by_entry() -> None:
    values = [(0, 1), (1, 2), (3, 3), (1000, 1), (131_071, 2)]
    one_by_one = TokenStatusList(131_072)
    for index, value in values:
        one_by_one.set(index, value)
    assert TokenStatusList.with_values(131_072, values).to_bytes() == one_by_one.to_bytes()
    with pytest.raises(IndexError):
        TokenStatusList.with_values(8, [(8, 1)])
    with pytest.raises(ValueError, match="does not fit"):
        TokenStatusList.with_values(8, [(0, 4)])
