"""Multibase base58btc (`z` + Bitcoin base58), the encoding of Data Integrity `proofValue`s."""

from __future__ import annotations

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {char: index for index, char in enumerate(_ALPHABET)}
# Signatures are 64 bytes (~88 characters); base58 decoding is quadratic, so hostile input is cut short.
MAX_ENCODED_LENGTH = 256


def encode_base58btc(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_ALPHABET[remainder])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "z" + "1" * leading_zeros + "".join(reversed(digits))


def decode_base58btc(text: str) -> bytes:
    """Decode a `z`-prefixed multibase value; ValueError for any other encoding or character."""
    if not text.startswith("z"):
        raise ValueError("not multibase base58btc (no 'z' prefix)")
    if len(text) > MAX_ENCODED_LENGTH:
        raise ValueError("multibase value is too long")
    body = text[1:]
    number = 0
    for char in body:
        index = _INDEX.get(char)
        if index is None:
            raise ValueError(f"{char!r} is not a base58btc character")
        number = number * 58 + index
    leading_zeros = len(body) - len(body.lstrip("1"))
    return b"\0" * leading_zeros + (number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b"")
