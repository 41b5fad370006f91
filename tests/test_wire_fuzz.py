"""Seeded random input for the decoder: only RemoteProtocolError comes out, and it never hangs.

Also a differential check of :class:`CborScanner` against cbor2 on random well-formed items.
"""

from __future__ import annotations

import random
import time
from typing import Any

import cbor2
import pytest

from device_sdk.errors import RemoteProtocolError
from device_sdk.wire import MESSAGE_TYPES, CborScanner, Message, MessageDecoder, encode_message, encode_varint

from .test_wire_codec import SAMPLES

pytestmark = pytest.mark.timeout(30)

KEYS = sorted(MESSAGE_TYPES)
BUDGET_S = 10.0


def run(data: bytes, rng: random.Random) -> list[Message]:
    """Feed ``data`` in random pieces and end the stream; let only RemoteProtocolError escape."""
    dec = MessageDecoder(max_message_size=rng.choice((100, 4096)))
    out: list[Message] = []
    pos = 0
    while pos < len(data):
        step = rng.choice((1, 2, 3, 7, 64, len(data)))
        out += dec.feed(data[pos : pos + step])
        pos += step
    dec.end_of_stream()
    return out


def random_item(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(12 if depth < 4 else 8)
    if kind == 0:
        return rng.randrange(-(2**64), 2**64)
    if kind == 1:
        return rng.random() * 10 ** rng.randrange(-5, 30)
    if kind == 2:
        return rng.choice((None, True, False, cbor2.undefined))
    if kind == 3:
        return rng.randbytes(rng.randrange(0, 300))
    if kind == 4:
        return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(0, 40)))
    if kind == 5:
        return rng.randrange(0, 24)
    if kind == 6:
        return cbor2.CBORSimpleValue(rng.choice((0, 19, 32, 255)))
    if kind == 7:
        return cbor2.CBORTag(rng.randrange(1000, 2**40), rng.randrange(100))
    if kind <= 9:
        return [random_item(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    return {rng.randrange(-3, 10): random_item(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(4)
        if op == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[rng.randrange(len(b))] = rng.choice((0x1C, 0x1F, 0x5F, 0x9F, 0xBF, 0xF8, 0xFF, rng.randrange(256)))
        elif op == 2:
            i = rng.randrange(len(b) + 1)
            b[i:i] = rng.randbytes(rng.randrange(1, 6))
        elif b:
            del b[rng.randrange(len(b)) :]
    return bytes(b)


def test_garbage_never_raises_anything_else() -> None:
    rng = random.Random(20240610)
    start = time.monotonic()
    codes: dict[int, int] = {}
    decoded = 0
    for i in range(20_000):
        strategy = i % 4
        if strategy == 0:  # pure noise
            data = rng.randbytes(rng.randrange(0, 200))
        elif strategy == 1:  # a known type key, then noise
            data = encode_varint(rng.choice(KEYS)) + rng.randbytes(rng.randrange(0, 200))
        elif strategy == 2:  # a known type key, then a random well-formed item
            data = encode_varint(rng.choice(KEYS)) + cbor2.dumps(random_item(rng))
        else:  # valid messages, mutated
            msgs = rng.sample(SAMPLES, rng.randrange(1, 4))
            data = mutate(b"".join(encode_message(m) for m in msgs), rng)
        try:
            for msg in run(data, random.Random(i)):
                # whatever decodes is a valid message: it encodes and decodes to itself
                assert MessageDecoder().feed(encode_message(msg)) == [msg]
                decoded += 1
        except RemoteProtocolError as exc:
            assert exc.code in (400, 404, 413)
            assert exc.reason
            codes[exc.code] = codes.get(exc.code, 0) + 1
        assert time.monotonic() - start < BUDGET_S, f"too slow at input {i}"
    # the generator reaches every outcome, so the loop checks something
    assert codes.get(400, 0) > 1000 and codes.get(404, 0) > 1000 and codes.get(413, 0) > 100
    assert decoded > 300


def test_huge_declared_lengths_do_not_allocate_or_hang() -> None:
    heads = ["5b ffffffffffffffff", "9b ffffffffffffffff", "bb 7fffffffffffffff", "7b 7fffffffffffffff"]
    for head in heads:
        data = encode_varint(24) + bytes.fromhex(head.replace(" ", "")) + b"\x00" * 100
        dec = MessageDecoder()
        assert dec.feed(data) == []
        with pytest.raises(RemoteProtocolError) as info:
            dec.end_of_stream()
        assert info.value.code == 400


def test_scanner_finds_the_end_of_random_items() -> None:
    """Differential: the scanner's end of item equals cbor2's encoding length, for any cut (tags
    allowed here: this compares the scanner's structure rules with cbor2's; the profile's refusal
    of tags is tested in test_wire_no_tags.py)."""
    rng = random.Random(8949)
    for _ in range(500):
        item = cbor2.dumps(random_item(rng))
        tail = rng.randbytes(rng.randrange(0, 4))
        assert CborScanner(allow_tags=True).scan(item + tail) == len(item)
        # resumable: the same scanner given ever longer prefixes
        scanner = CborScanner(allow_tags=True)
        cuts = sorted(rng.sample(range(len(item)), min(5, len(item))))
        for cut in cuts:
            assert scanner.scan(item[:cut]) is None
        assert scanner.scan(item + tail) == len(item)
