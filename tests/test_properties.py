"""Property tests (hypothesis) of what decodes bytes from the network: the message decoder, the tag-free
CBOR codec, and every channel frame parser and session. Whatever the input, only the errors the profile
names come out, nothing hangs, and what decodes encodes back to itself. Bounded (derandomized, a hundred
examples or fewer each) so that ``make test`` stays fast; ``make fuzz`` runs the same targets for long."""

from __future__ import annotations

import contextlib
import math
import os
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_sdk.channels import (
    ActuatorClient,
    AdminClient,
    FrameError,
    ReadingFilter,
    StreamReceiver,
    dumps_frame,
    loads_frame,
    parse_answer,
    parse_catalog,
    parse_chunk,
    parse_format,
    parse_input_datagram,
    parse_peers,
    parse_reading,
    parse_state,
    parse_subscription,
)
from device_sdk.errors import RemoteProtocolError
from device_sdk.wire import CborScanner, DataFrame, Message, MessageDecoder, dumps_item, encode_message, loads_item
from device_sdk.wire.cbor import MAX_NESTING, flat_item_end

from ._every_channel import EveryChannel
from ._strategies import frames, messages, values

pytestmark = pytest.mark.timeout(60)

SCALE = int(os.environ.get("DEVICE_SDK_FUZZ_EXAMPLES", "0"))
"""``make fuzz`` without atheris sets this: every property then runs this many examples, at random."""
FAST = settings(
    max_examples=SCALE or 120,
    deadline=None,
    derandomize=not SCALE,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def budget(n: int) -> int:
    """``n`` examples in ``make test``; the fuzz budget under ``make fuzz``."""
    return SCALE or n


cuts = st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=8)


def feed_in_pieces(data: bytes, sizes: list[int], *, max_message_size: int = 4096) -> list[Message]:
    """Feed ``data`` cut in pieces of the given sizes (cycled), then end the stream."""
    dec = MessageDecoder(max_message_size=max_message_size)
    out: list[Message] = []
    pos = i = 0
    while pos < len(data):
        step = sizes[i % len(sizes)]
        out += dec.feed(data[pos : pos + step])
        pos += step
        i += 1
    dec.end_of_stream()
    return out


def check_decoder(data: bytes, sizes: list[int]) -> None:
    try:
        decoded = feed_in_pieces(data, sizes)
    except RemoteProtocolError as exc:
        assert exc.code in (400, 404, 413) and exc.reason
        return
    for msg in decoded:
        assert MessageDecoder().feed(encode_message(msg)) == [msg]


# -- the message decoder ---------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=300), cuts)
def test_decoder_on_any_bytes_raises_only_profile_errors(data: bytes, sizes: list[int]) -> None:
    check_decoder(data, sizes)


@FAST
@given(st.sampled_from([10, 11, 12, 13, 24, 120, 1001, 1003, 1004, 1005, 1101, 1102]), values, cuts)
def test_decoder_on_known_keys_and_any_item(key: int, value: Any, sizes: list[int]) -> None:
    from device_sdk.wire import encode_varint

    check_decoder(encode_varint(key) + cbor2.dumps(value), sizes)


@FAST
@given(st.lists(messages, min_size=1, max_size=4), cuts)
def test_valid_messages_round_trip_however_they_are_cut(msgs: list[Message], sizes: list[int]) -> None:
    data = b"".join(encode_message(m) for m in msgs)
    assert feed_in_pieces(data, sizes, max_message_size=1 << 20) == msgs


@FAST
@given(st.lists(messages, min_size=1, max_size=3), st.data())
def test_mutated_messages_raise_only_profile_errors(msgs: list[Message], data: st.DataObject) -> None:
    raw = bytearray(b"".join(encode_message(m) for m in msgs))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.sampled_from([raw[pos] ^ 0x01, raw[pos] ^ 0x80, 0xC4, 0xD8, 0x1F, 0xFF, 0x5F, 0]))
    check_decoder(bytes(raw), data.draw(cuts))


# -- tag-free CBOR ---------------------------------------------------------------------------------


@FAST
@given(values, st.binary(max_size=3))
def test_scanner_agrees_with_cbor2_on_tag_free_items(value: Any, tail: bytes) -> None:
    item = cbor2.dumps(value)
    assert CborScanner().scan(item + tail) == len(item)


scalars = st.one_of(
    st.integers(-(2**64), 2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.binary(max_size=300),
    st.booleans(),
    st.none(),
)
flat_items = st.one_of(
    st.lists(scalars, max_size=23), st.dictionaries(st.one_of(st.integers(-1000, 1000), st.text(max_size=8)),
                                                    scalars, max_size=23),
)  # fmt: skip


def _general_end(data: bytes) -> int | None:
    """Where the general scan (no flat shortcut: the item sits inside an array) ends the item."""
    end = CborScanner(max_nesting=MAX_NESTING + 1).scan(b"\x81" + data)
    return None if end is None else end - 1


@FAST
@given(st.one_of(flat_items.map(cbor2.dumps), st.binary(max_size=40)), st.binary(max_size=3))
def test_the_flat_shortcut_ends_an_item_where_the_general_scan_does(item: bytes, tail: bytes) -> None:
    data = item + tail
    end = flat_item_end(data)
    if end is not None:  # what the shortcut accepts, the general scan accepts, with the same end
        assert _general_end(data) == end
    for cut in range(len(data)):  # a part of an item is never taken for a whole one
        assert flat_item_end(data[:cut]) == (end if end is not None and end <= cut else None)


@FAST
@given(flat_items)
def test_the_flat_shortcut_takes_every_flat_container_and_what_it_takes_decodes(value: Any) -> None:
    item = cbor2.dumps(value)
    assert flat_item_end(item) == len(item)
    decoded = MessageDecoder().feed(encode_message(DataFrame(item)))
    assert [loads_item(m.payload) for m in decoded] == [cbor2.loads(item)]  # type: ignore[union-attr]


@FAST
@given(values, st.integers(0, 2**40))
def test_a_tag_anywhere_is_refused(value: Any, tag: int) -> None:
    tagged = cbor2.dumps([value, cbor2.CBORTag(tag, value)])
    with pytest.raises(ValueError, match="tag"):
        loads_item(tagged)


def _same(a: Any, b: Any) -> bool:
    """Equal as the wire sees them (NaN equals NaN, a tuple equals its list)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return cbor2.dumps(a) == cbor2.dumps(b)


@FAST
@given(values)
def test_what_encodes_decodes_to_itself(value: Any) -> None:
    data = dumps_item(value)
    assert _same(loads_item(data), value)
    assert _same(loads_frame(data), value)


@FAST
@given(st.binary(max_size=200))
def test_frames_and_datagrams_from_any_bytes(data: bytes) -> None:
    for decode in (loads_frame, parse_input_datagram):
        with contextlib.suppress(FrameError):
            decode(data)


# -- every channel frame parser --------------------------------------------------------------------

PARSERS = [parse_reading, parse_subscription, parse_state, parse_answer, parse_format, parse_chunk, parse_catalog]


@settings(FAST, max_examples=budget(80))
@given(frames)
def test_frame_parsers_return_or_raise_frame_error(frame: Any) -> None:
    for parse in PARSERS:
        with contextlib.suppress(FrameError):
            parse(frame)
    with contextlib.suppress(FrameError):
        parse_peers(frame.get("v") if isinstance(frame, dict) else frame)


@settings(FAST, max_examples=budget(60))
@given(st.lists(frames, max_size=6))
def test_controller_side_receivers_never_raise(batch: list[Any]) -> None:
    readings, stream = ReadingFilter(), StreamReceiver()
    actuator, admin = ActuatorClient(), AdminClient()
    for i in range(3):
        actuator.set(i)
        admin.list_peers()
    for frame in batch:
        readings.accept(frame)
        stream.receive(frame)
        actuator.receive(frame)
        admin.receive(frame)


@settings(FAST, max_examples=budget(60))
@given(st.lists(frames, min_size=1, max_size=6), st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=3))
def test_device_sessions_take_any_frame_and_send_only_tag_free_frames(batch: list[Any], readings: list[float]) -> None:
    device = EveryChannel()
    for frame in batch:
        device.receive(frame)
    for value in readings:
        device.temp.publish(value)
    for session in device.sessions:
        assert not session.closed
        for out in session.next_frames():
            dumps_frame(out)  # raises if the device were about to send a tag
