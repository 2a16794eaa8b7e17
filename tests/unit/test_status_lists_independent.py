"""Our status list encoders, cross-checked by independent decoders in Node (see tests/e2e/node_status_decoder.py).

First the decoders earn trust on lists not made by our code: the W3C spec's empty 16 KB ``encodedList``, a
bitstring gzipped here by the standard library, and the IETF draft's two ``lst`` examples. Then lists built
with ``ec_issuer.status.bitstring`` and ``ec_issuer.status.token_status_list`` must decode, in the other
implementation, to exactly the entries we set: every asked index is compared (the set ones, their neighbours
and their mirror images inside the byte, where a reversed bit order would put them), and the count of set
bits / non-zero values over the whole list must equal ours, so no stray entry can hide anywhere else.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import zlib

import pytest

from ec_issuer.status.bitstring import MIN_ENTRIES, BitstringStatusList
from ec_issuer.status.token_status_list import TokenStatus, TokenStatusList, encode_lst, set_value
from tests.e2e.node_status_decoder import node_decode_bitstring, node_decode_token_jwt, node_decode_token_list

pytestmark = pytest.mark.node

# The W3C spec's encodedList for an all-zero list of 131,072 entries (16 KB).
SPEC_EMPTY_16KB = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
# The IETF draft's "Status List" examples (draft-ietf-oauth-status-list, unchanged from -02 through -19).
ONE_BIT_LST = "eNrbuRgAAhcBXQ"
ONE_BIT_STATUSES = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
TWO_BIT_LST = "eNo76fITAAPfAgc"
TWO_BIT_STATUSES = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]

BYTE_EDGE_INDICES = (0, 1, 7, 8)
SEED = 20_250_515


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def probes(chosen: set[int], entries: int, *, per_byte: int) -> list[int]:
    """The chosen indices, their neighbours and their mirror images inside their byte (``per_byte`` entries
    to a byte), i.e. where an off-by-one or a reversed bit order would move them; all within the list."""
    mirror = per_byte - 1
    asked = set(chosen)
    for index in chosen:
        asked.update((index - 1, index + 1, index ^ mirror))
    return sorted(index for index in asked if 0 <= index < entries)


def random_indices(entries: int, count: int, *, salt: int) -> set[int]:
    return set(random.Random(SEED + salt).sample(range(entries), count))  # noqa: S311 (test data, not secrets)


# ------------------------------------------------------------------ the decoders, on lists not made by us


def test_the_bitstring_decoder_reads_the_spec_empty_list() -> None:
    answer = node_decode_bitstring(SPEC_EMPTY_16KB, [0, 1, MIN_ENTRIES - 1])
    assert answer["length"] == MIN_ENTRIES
    assert answer["bits"] == {0: False, 1: False, MIN_ENTRIES - 1: False}
    assert answer["setCount"] == 0


def test_the_bitstring_decoder_puts_index_0_in_the_most_significant_bit() -> None:
    raw = bytearray(MIN_ENTRIES // 8)
    raw[0] = 0b1000_0001  # indices 0 and 7
    raw[1] = 0b0100_0000  # index 9
    raw[-1] = 0b0000_0001  # the last index
    encoded = "u" + b64url(gzip.compress(bytes(raw), mtime=0))
    last = MIN_ENTRIES - 1
    answer = node_decode_bitstring(encoded, [0, 1, 6, 7, 8, 9, 14, last - 7, last])
    assert answer["length"] == MIN_ENTRIES
    assert {index for index, bit in answer["bits"].items() if bit} == {0, 7, 9, last}
    assert answer["setCount"] == 4


@pytest.mark.parametrize(
    ("lst", "bits", "statuses"), [(ONE_BIT_LST, 1, ONE_BIT_STATUSES), (TWO_BIT_LST, 2, TWO_BIT_STATUSES)]
)
def test_the_token_decoder_reads_the_draft_examples(lst: str, bits: int, statuses: list[int]) -> None:
    answer = node_decode_token_list(lst, bits, list(range(len(statuses))))
    assert answer["length"] == len(statuses)
    assert answer["bitsPerStatus"] == bits
    assert answer["values"] == dict(enumerate(statuses))
    assert answer["nonZeroCount"] == sum(1 for value in statuses if value)


def test_the_token_decoder_puts_index_0_in_the_least_significant_bits() -> None:
    lst = b64url(zlib.compress(bytes([0b00_01_10_11, 0b1000_0000]), 9))
    answer = node_decode_token_list(lst, 2, list(range(8)))
    assert answer["values"] == {0: 3, 1: 2, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0, 7: 2}
    assert answer["nonZeroCount"] == 4


# ---------------------------------------------------------------------- our W3C Bitstring Status List


@pytest.mark.parametrize("entries", [MIN_ENTRIES, 1_048_576])
def test_our_bitstring_decodes_independently_to_exactly_the_bits_we_set(entries: int) -> None:
    chosen = {*BYTE_EDGE_INDICES, 15, 16, entries // 2, entries - 8, entries - 1}
    chosen |= random_indices(entries, 40, salt=entries)
    cleared = random_indices(entries, 5, salt=entries + 1) - chosen  # set, then cleared again
    status_list = BitstringStatusList(entries)
    for index in sorted(chosen | cleared):
        status_list.set(index)
    for index in cleared:
        status_list.set(index, False)

    asked = probes(chosen | cleared, entries, per_byte=8)
    answer = node_decode_bitstring(status_list.encode(), asked)

    assert answer["length"] == entries
    assert answer["bits"] == {index: index in chosen for index in asked}
    assert answer["setCount"] == len(chosen)  # with every chosen bit seen set: no other bit is


def test_an_empty_list_of_ours_decodes_independently_to_no_set_bits() -> None:
    answer = node_decode_bitstring(BitstringStatusList().encode(), [0, MIN_ENTRIES - 1])
    assert answer == {"length": MIN_ENTRIES, "bits": {0: False, MIN_ENTRIES - 1: False}, "setCount": 0}


def test_a_full_list_of_ours_decodes_independently_to_all_set_bits() -> None:
    full = BitstringStatusList.from_bytes(b"\xff" * (MIN_ENTRIES // 8))
    answer = node_decode_bitstring(full.encode(), [0, 7, MIN_ENTRIES - 1])
    assert answer == {"length": MIN_ENTRIES, "bits": {0: True, 7: True, MIN_ENTRIES - 1: True}, "setCount": MIN_ENTRIES}


# ------------------------------------------------------------------------- our IETF Token Status List


def _chosen_token_values(entries: int, bits: int) -> dict[int, int]:
    """Non-zero values at the byte edges, the last entry and random places, cycling through 1..2**bits-1 (for
    2 bits: INVALID, SUSPENDED and the application-specific 3)."""
    indices = sorted({*BYTE_EDGE_INDICES, 3, 4, entries // 2, entries - 1} | random_indices(entries, 40, salt=bits))
    top = (1 << bits) - 1
    return {index: 1 + position % top for position, index in enumerate(indices)}


def test_our_two_bit_token_list_decodes_independently_to_exactly_the_values_we_set() -> None:
    entries = 131_072
    chosen = {
        0: TokenStatus.INVALID,
        1: TokenStatus.SUSPENDED,
        2: TokenStatus.VALID,  # set to SUSPENDED, then back to VALID
        3: TokenStatus.SUSPENDED,
        4: TokenStatus.INVALID,
        7: TokenStatus.SUSPENDED,
        8: TokenStatus.INVALID,
        entries - 1: TokenStatus.SUSPENDED,
    }
    rng = random.Random(SEED)  # noqa: S311 (test data, not secrets)
    for index in random_indices(entries, 40, salt=2) - set(chosen):
        chosen[index] = rng.choice([TokenStatus.VALID, TokenStatus.INVALID, TokenStatus.SUSPENDED])
    status_list = TokenStatusList(entries, bits=2)
    status_list.set(2, TokenStatus.SUSPENDED)
    for index, value in chosen.items():
        status_list.set(index, value)
    claim = status_list.to_claim()
    assert claim["bits"] == 2

    asked = probes(set(chosen), entries, per_byte=4)
    answer = node_decode_token_list(claim["lst"], 2, asked)

    assert answer["length"] == entries
    assert answer["values"] == {index: int(chosen.get(index, TokenStatus.VALID)) for index in asked}
    assert answer["nonZeroCount"] == sum(1 for value in chosen.values() if value)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_packed_values_of_every_width_decode_independently(bits: int) -> None:
    entries = 65_536
    chosen = _chosen_token_values(entries, bits)
    data = bytearray(entries * bits // 8)
    for index, value in chosen.items():
        set_value(data, index, value, bits=bits)

    asked = probes(set(chosen), entries, per_byte=8 // bits)
    answer = node_decode_token_list(encode_lst(data), bits, asked)

    assert answer["length"] == entries
    assert answer["bitsPerStatus"] == bits
    assert answer["values"] == {index: chosen.get(index, 0) for index in asked}
    assert answer["nonZeroCount"] == len(chosen)


def test_a_list_whose_last_byte_is_padded_decodes_with_zero_padding() -> None:
    status_list = TokenStatusList(10, bits=2)  # 20 bits: three bytes, the last two entries are padding
    for index in range(10):
        status_list.set(index, 1 + index % 2)
    answer = node_decode_token_list(status_list.to_claim()["lst"], 2, list(range(12)))
    assert answer["length"] == 12
    assert answer["values"] == {**{index: 1 + index % 2 for index in range(10)}, 10: 0, 11: 0}
    assert answer["nonZeroCount"] == 10


def test_a_status_list_token_is_read_independently() -> None:
    entries = 4_096
    status_list = TokenStatusList(entries, bits=2)
    chosen = {0: TokenStatus.INVALID, 5: TokenStatus.SUSPENDED, entries - 1: TokenStatus.INVALID}
    for index, value in chosen.items():
        status_list.set(index, value)
    header = {"alg": "ES256", "typ": "statuslist+jwt", "kid": "status-key"}
    payload = {
        "sub": "https://issuer.test/statuslists/1",
        "iat": 1_747_267_200,
        "exp": 1_747_353_600,
        "ttl": 43_200,
        "status_list": status_list.to_claim(),
    }
    segments = (json.dumps(part, separators=(",", ":")).encode() for part in (header, payload))
    # Decoding only: the signature is a placeholder, which the decoder must not look at.
    jwt = ".".join([*(b64url(segment) for segment in segments), b64url(b"\x00" * 64)])

    asked = probes(set(chosen), entries, per_byte=4)
    answer = node_decode_token_jwt(jwt, asked)

    assert answer["length"] == entries
    assert answer["bitsPerStatus"] == 2
    assert answer["values"] == {index: int(chosen.get(index, TokenStatus.VALID)) for index in asked}
    assert answer["nonZeroCount"] == len(chosen)
    assert answer["claims"] == {"sub": payload["sub"], "iat": payload["iat"], "ttl": payload["ttl"]}
    assert answer["header"] == {"alg": "ES256", "typ": "statuslist+jwt"}
