"""QUIC variable-length integers (RFC 9000 section 16): the type keys of the wire profile."""

from __future__ import annotations

import random

import pytest

from device_sdk.wire.varint import MAX_VARINT, decode_varint, encode_varint, varint_length

# (value, its shortest encoding): both ends of every length, and the samples of RFC 9000 appendix A.1.
VECTORS = [
    (0, "00"),
    (1, "01"),
    (37, "25"),
    (63, "3f"),
    (64, "4040"),
    (15293, "7bbd"),
    (16383, "7fff"),
    (16384, "80004000"),
    (494878333, "9d7f3e7d"),
    ((1 << 30) - 1, "bfffffff"),
    (1 << 30, "c000000040000000"),
    (151288809941952652, "c2197c5eff14e88c"),
    ((1 << 62) - 1, "ffffffffffffffff"),
]


@pytest.mark.parametrize(("value", "hex_"), VECTORS)
def test_encode_is_shortest_form(value: int, hex_: str) -> None:
    assert encode_varint(value).hex() == hex_


@pytest.mark.parametrize(("value", "hex_"), VECTORS)
def test_decode_and_length(value: int, hex_: str) -> None:
    data = bytes.fromhex(hex_)
    assert decode_varint(data) == (value, len(data))
    assert varint_length(data[0]) == len(data)
    # at an offset, in a longer buffer, and from every buffer type the codec passes
    buf = b"\xaa\xbb" + data + b"\xcc"
    for view in (buf, bytearray(buf), memoryview(buf)):
        assert decode_varint(view, 2) == (value, 2 + len(data))


def test_max_value() -> None:
    assert MAX_VARINT == 2**62 - 1
    assert decode_varint(encode_varint(MAX_VARINT)) == (MAX_VARINT, 8)


def test_length_from_the_two_high_bits() -> None:
    assert [varint_length(first) for first in range(256)] == [1] * 64 + [2] * 64 + [4] * 64 + [8] * 64


def test_non_minimal_encodings_decode() -> None:
    """RFC 9000 section 16: a value need not use the fewest bytes (appendix A.1: 0x4025 is 37)."""
    assert decode_varint(bytes.fromhex("4025")) == (37, 2)
    assert decode_varint(bytes.fromhex("8000000a")) == (10, 4)
    assert decode_varint(bytes.fromhex("c0000000000003e9")) == (1001, 8)


def test_round_trip_random_values() -> None:
    rng = random.Random(9000)
    for bits in range(63):
        for _ in range(20):
            value = rng.getrandbits(bits) if bits else 0
            data = encode_varint(value)
            expected = 1 if value < 64 else 2 if value < 2**14 else 4 if value < 2**30 else 8
            assert len(data) == expected
            assert decode_varint(data) == (value, expected)


@pytest.mark.parametrize("value", [-1, -(2**62), 2**62, 2**64, 2**100])
def test_encode_out_of_range(value: int) -> None:
    with pytest.raises(ValueError):
        encode_varint(value)


@pytest.mark.parametrize(("value", "hex_"), VECTORS)
def test_truncated(value: int, hex_: str) -> None:
    data = bytes.fromhex(hex_)
    for cut in range(len(data)):
        with pytest.raises(ValueError, match="truncated"):
            decode_varint(data[:cut])
        with pytest.raises(ValueError, match="truncated"):
            decode_varint(b"\x00" + data[:cut], 1)


def test_offset_past_the_end() -> None:
    with pytest.raises(ValueError):
        decode_varint(b"\x01", 1)
    with pytest.raises(ValueError):
        decode_varint(b"\x01", 5)
