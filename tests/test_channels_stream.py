"""Byte streams end to end: format first, chunking, the drop policy, StreamReceiver."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest

from device_sdk.channels import (
    STREAM_PROTOCOL,
    ChannelRegistry,
    PeerInfo,
    StreamChunk,
    StreamFormat,
    StreamReceiver,
    StreamSession,
)
from device_sdk.errors import ChannelError, ConfigError

FORMAT = {"codec": "pcm_s16le", "rate": 16000, "channels": 1}


def wire(frames: list[Any]) -> list[Any]:
    return [cbor2.loads(cbor2.dumps(f)) for f in frames]


def open_stream(registry: ChannelRegistry, name: str = "audio", n: int = 1) -> StreamSession:
    session = registry.open_session(name, STREAM_PROTOCOL, peer=PeerInfo(fp=bytes([n]) * 32, role="user"), now=0.0)
    assert isinstance(session, StreamSession)
    return session


def make(**kwargs: Any) -> ChannelRegistry:
    return ChannelRegistry(device_name="Lab", model="m", clock=lambda: 1000.0, **kwargs)


def test_format_first_then_chunks() -> None:
    registry = make()
    audio = registry.stream("audio", format=FORMAT)
    assert audio.descriptor.kind == "stream" and audio.descriptor.type == "bytes"
    assert audio.descriptor.extra["format"] == FORMAT
    session = open_stream(registry)
    audio.write(b"\x01\x02" * 10)
    audio.write(b"", t=5.0)  # nothing
    audio.write(bytearray(b"xyz"), t=2.5)
    receiver = StreamReceiver()
    results = [receiver.receive(f) for f in wire(session.next_frames())]
    assert results == [
        StreamFormat("pcm_s16le", {"rate": 16000, "channels": 1}),
        StreamChunk(1, 1000.0, b"\x01\x02" * 10),
        StreamChunk(2, 2.5, b"xyz"),
    ]
    assert receiver.format is not None and receiver.format.params["rate"] == 16000
    assert receiver.missed == 0


def test_writes_are_cut_into_chunks() -> None:
    registry = make()
    audio = registry.stream("audio", format=FORMAT, chunk_bytes=4, buffer_bytes=64)
    chunks = audio.write(bytes(range(10)))
    assert [c.data for c in chunks] == [bytes(range(4)), bytes(range(4, 8)), bytes(range(8, 10))]
    assert [c.seq for c in chunks] == [1, 2, 3] and audio.seq == 3


def test_slow_controller_loses_oldest_whole_chunks() -> None:
    registry = make()
    audio = registry.stream("audio", format=FORMAT, chunk_bytes=100, buffer_bytes=1000)
    fast, slow = open_stream(registry, n=1), open_stream(registry, n=2)
    fast_rx, slow_rx = StreamReceiver(), StreamReceiver()
    fast_data = bytearray()
    for i in range(50):
        audio.write(bytes([i]) * 100)
        for frame in wire(fast.next_frames()):
            got = fast_rx.receive(frame)
            if isinstance(got, StreamChunk):
                fast_data += got.data
    assert len(fast_data) == 5000 and fast_rx.missed == 0
    assert slow.buffered_bytes == 1000 and slow.dropped_chunks == 40
    frames = wire(slow.next_frames())
    assert "format" in frames[0]  # never dropped
    chunks = [c for f in frames if isinstance(c := slow_rx.receive(f), StreamChunk)]
    assert [c.seq for c in chunks] == list(range(41, 51))
    assert all(len(c.data) == 100 for c in chunks)
    for _ in range(15):  # 5 more than fit: the receiver sees the gap
        audio.write(b"z" * 100)
    later = [c for f in wire(slow.next_frames()) if isinstance(c := slow_rx.receive(f), StreamChunk)]
    assert [c.seq for c in later] == list(range(56, 66))
    assert slow_rx.missed == 5 and slow.buffered_bytes == 0


def test_uneven_chunks_make_room_for_the_new_one() -> None:
    registry = make()
    audio = registry.stream("audio", format=FORMAT, chunk_bytes=300, buffer_bytes=300)
    session = open_stream(registry)
    session.next_frames()
    audio.write(b"a" * 100)
    audio.write(b"b" * 100)
    audio.write(b"c" * 250)
    assert [f["d"][:1] for f in session.next_frames()] == [b"c"]
    assert session.dropped_chunks == 2


def test_pull_budget_in_bytes() -> None:
    registry = make()
    audio = registry.stream("audio", format=FORMAT, chunk_bytes=1000)
    session = open_stream(registry)
    audio.write(b"x" * 5000)
    first = session.next_frames(max_bytes=2100)
    assert "format" in first[0] and len(first) == 2
    assert len(session.next_frames(max_bytes=2100)) == 2
    assert session.buffered_bytes == 2000


def test_receiver_ignores_bad_and_early_frames() -> None:
    rx = StreamReceiver()
    assert rx.receive({"s": 1, "t": 1.0, "d": b"x"}) is None  # before the format
    assert rx.receive({"format": {"rate": 1}}) is None
    assert isinstance(rx.receive({"format": {"codec": "raw"}}), StreamFormat)
    assert rx.receive({"s": "1", "t": 1.0, "d": b"x"}) is None
    assert rx.receive({"s": 1, "t": 1.0, "d": "text"}) is None
    assert rx.receive({"s": 2, "t": 1, "d": b"x"}) == StreamChunk(2, 1.0, b"x")
    assert rx.receive({"s": 2, "t": 1.0, "d": b"x"}) is None  # repeated


def test_stream_declaration_and_removal() -> None:
    registry = make()
    with pytest.raises(ConfigError):
        registry.stream("a", format={"rate": 1})
    with pytest.raises(ConfigError):
        registry.stream("b", format=FORMAT, chunk_bytes=10, buffer_bytes=5)
    audio = registry.stream("audio", format=FORMAT)
    session = open_stream(registry)
    registry.remove("audio")
    assert session.closed
    with pytest.raises(ChannelError):
        audio.write(b"x")
