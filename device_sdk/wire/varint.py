"""QUIC variable-length integers (RFC 9000 section 16), the type keys of the wire profile."""

from __future__ import annotations

from ..errors import InvalidArgument

MAX_VARINT = (1 << 62) - 1


def encode_varint(value: int) -> bytes:
    """Encode ``value`` (0 .. 2^62-1) in the shortest QUIC variable-length form."""
    if value < 0x40:
        if value < 0:
            raise InvalidArgument("varint must not be negative")
        return bytes((value,))
    if value < 0x4000:
        return (value | 0x4000).to_bytes(2, "big")
    if value < 0x4000_0000:
        return (value | 0x8000_0000).to_bytes(4, "big")
    if value <= MAX_VARINT:
        return (value | 0xC000_0000_0000_0000).to_bytes(8, "big")
    raise InvalidArgument(f"varint too large: {value}")


def varint_length(first_byte: int) -> int:
    """Length in bytes of the varint that starts with ``first_byte``."""
    return 1 << (first_byte >> 6)


def decode_varint(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int]:
    """Decode the varint at ``offset``; return ``(value, offset after it)``.

    Raises :class:`ValueError` when ``data`` ends inside the varint.
    """
    if offset >= len(data):
        raise InvalidArgument("truncated varint")
    first = data[offset]
    length = 1 << (first >> 6)
    end = offset + length
    if end > len(data):
        raise InvalidArgument("truncated varint")
    value = first & 0x3F
    for i in range(offset + 1, end):
        value = (value << 8) | data[i]
    return value, end
