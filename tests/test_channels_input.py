"""Input channels: latest-only per controller, the datagram path and its codec, the shared filter."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest

from device_sdk.channels import (
    INPUT_PROTOCOL,
    ChannelRegistry,
    FrameError,
    Input,
    InputFilter,
    InputSession,
    PeerInfo,
    RegistryEvent,
    SessionReady,
    decode_input_datagram,
    encode_input_datagram,
    loads_frame,
    parse_input_datagram,
)


def wire(frame: Any) -> Any:
    return cbor2.loads(cbor2.dumps(frame))


def setup() -> tuple[ChannelRegistry, Input, InputSession, InputSession]:
    registry = ChannelRegistry(device_name="Lab", model="m", clock=lambda: 50.0)
    pad = registry.input("gamepad", rate_hz=500)
    sessions = []
    for n in (1, 2):
        s = registry.open_session("gamepad", INPUT_PROTOCOL, peer=PeerInfo(fp=bytes([n]) * 32, role="user"), now=0)
        assert isinstance(s, InputSession)
        sessions.append(s)
    return registry, pad, sessions[0], sessions[1]


def test_only_the_newest_state_waits() -> None:
    _, pad, a, b = setup()
    for i in range(10):
        pad.publish({"x": i, "buttons": [i % 2 == 0]}, t=float(i))
    assert a.superseded == 9
    assert [wire(f) for f in a.next_frames()] == [{"s": 10, "t": 9.0, "v": {"x": 9, "buttons": [False]}}]
    assert not a.has_pending
    assert len(b.next_frames()) == 1
    pad.publish({"x": 10})
    assert [f["s"] for f in a.next_frames()] == [11]


def test_newest_state_is_sent_on_open() -> None:
    registry = ChannelRegistry(device_name="Lab", model="m", clock=lambda: 50.0)
    pad = registry.input("gamepad")
    pad.publish({"x": 1})
    s = registry.open_session("gamepad", INPUT_PROTOCOL, peer=PeerInfo(fp=bytes(32), role="user"), now=0)
    assert isinstance(s, InputSession)
    assert s.next_frames() == [{"s": 1, "t": 50.0, "v": {"x": 1}}]


def test_datagram_path() -> None:
    registry, pad, a, b = setup()
    events: list[RegistryEvent] = []
    registry.add_listener(events.append)
    a.use_datagrams()
    pad.publish({"x": 1})
    pad.publish({"x": 2})
    assert any(isinstance(e, SessionReady) and e.session is a for e in events)
    assert not a.has_pending and a.next_frames() == [] and a.datagram_pending
    frame = a.take_latest_input()
    assert frame == {"s": 2, "t": 50.0, "v": {"x": 2}}
    assert a.take_latest_input() is None and not a.datagram_pending
    payload = encode_input_datagram(6, cbor2.dumps(frame))
    assert payload[0] == 6
    channel_id, decoded = parse_input_datagram(payload)
    assert channel_id == 6 and decoded == frame
    # b still uses its stream
    assert [f["s"] for f in b.next_frames()] == [2]
    # switching back to the stream path sends what waits
    pad.publish({"x": 3})
    a.use_datagrams(False)
    assert [f["s"] for f in a.next_frames()] == [3]


def test_filter_is_shared_between_paths() -> None:
    flt = InputFilter()
    frames = [{"s": s, "t": float(s), "v": {"x": s}} for s in (1, 2, 5, 4, 5, 7)]
    accepted = [r.seq for f in frames if (r := flt.accept(wire(f))) is not None]
    assert accepted == [1, 2, 5, 7]
    assert flt.stale == 2 and flt.missed == 3
    assert flt.accept({"s": -1, "t": 1.0, "v": 1}) is None
    assert flt.accept({"s": 8, "t": "now", "v": 1}) is None
    assert flt.accept({"s": 8, "t": 1.0}) is None
    assert flt.malformed == 3


@pytest.mark.parametrize("channel_id", [0, 1, 63, 64, 16383, 16384, 2**30, 2**62 - 1])
def test_datagram_codec_roundtrip(channel_id: int) -> None:
    body = cbor2.dumps({"s": 1, "t": 1.0, "v": True})
    data = encode_input_datagram(channel_id, body)
    assert decode_input_datagram(data) == (channel_id, body)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x40",  # truncated varint
        b"\x05",  # no frame
        b"\x05\xff\xff",  # not CBOR
        b"\x05\x01\x02",  # trailing bytes after the item
        b"\x05\x82\x01",  # truncated array
        b"\x05" + b"\x81" * 200 + b"\x01",  # too deep
    ],
)
def test_bad_datagrams(data: bytes) -> None:
    with pytest.raises(FrameError):
        parse_input_datagram(data)


def test_loads_frame_exactly_one_item() -> None:
    assert loads_frame(cbor2.dumps({"a": 1})) == {"a": 1}
    with pytest.raises(FrameError):
        loads_frame(b"")
