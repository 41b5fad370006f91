"""Sensor channels end to end: device-side sessions against the controller-side ReadingFilter."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest

from device_sdk.channels import (
    SENSOR_PROTOCOL,
    ChannelRegistry,
    ChannelSession,
    PeerInfo,
    ReadingFilter,
    RegistryEvent,
    SensorSession,
    SessionReady,
    ValueRejected,
    subscription_frame,
)
from device_sdk.channels.session import approx_size
from device_sdk.errors import ChannelError


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def peer(n: int = 1, role: str = "user") -> PeerInfo:
    return PeerInfo(fp=bytes([n]) * 32, role="admin" if role == "admin" else "user", name=f"c{n}")


def wire(frames: list[Any]) -> list[Any]:
    """Pass frames through CBOR as the transport does."""
    return [cbor2.loads(cbor2.dumps(f)) for f in frames]


def open_sensor(registry: ChannelRegistry, name: str, n: int = 1) -> SensorSession:
    session = registry.open_session(name, SENSOR_PROTOCOL, peer=peer(n), now=0.0)
    assert isinstance(session, SensorSession)
    return session


def make() -> tuple[ChannelRegistry, Clock]:
    clock = Clock()
    return ChannelRegistry(device_name="Lab", model="m1", clock=clock), clock


def test_current_value_on_open_then_readings() -> None:
    registry, clock = make()
    temp = registry.sensor("temperature", unit="C", min=-40, max=85, rate_hz=10)
    assert temp.value is None and temp.seq == 0
    first = temp.publish(21.5)
    assert (first.seq, first.t, first.value) == (1, clock.now, 21.5)
    session = open_sensor(registry, "temperature")
    assert wire(session.next_frames()) == [{"s": 1, "t": clock.now, "v": 21.5}]
    clock.now += 1
    temp.publish(22)  # an int becomes a float for a float sensor
    temp.publish(23.0, t=5.0)
    frames = wire(session.next_frames())
    assert frames == [{"s": 2, "t": clock.now, "v": 22.0}, {"s": 3, "t": 5.0, "v": 23.0}]
    assert isinstance(frames[0]["t"], float) and isinstance(frames[1]["v"], float)
    assert not session.has_pending
    assert temp.value == 23.0


def test_no_reading_before_the_first_publish() -> None:
    registry, _ = make()
    registry.sensor("humidity")
    session = open_sensor(registry, "humidity")
    assert not session.has_pending and session.next_frames() == []


def test_slow_controller_gets_newest_with_gaps_and_never_slows_others() -> None:
    registry, clock = make()
    temp = registry.sensor("temperature")
    fast = [open_sensor(registry, "temperature", n) for n in range(20)]
    slow = open_sensor(registry, "temperature", 99)
    filters = [ReadingFilter() for _ in fast]
    received: list[list[int]] = [[] for _ in fast]
    for i in range(200):
        clock.now += 0.01
        temp.publish(float(i))
        for session, flt, got in zip(fast, filters, received, strict=True):
            for frame in wire(session.next_frames()):
                reading = flt.accept(frame)
                assert reading is not None
                got.append(reading.seq)
    for got, flt in zip(received, filters, strict=True):
        assert got == list(range(1, 201))
        assert flt.missed == 0
    slow_filter = ReadingFilter()
    slow_frames = wire(slow.next_frames())
    seqs = [r.seq for f in slow_frames if (r := slow_filter.accept(f)) is not None]
    assert seqs == list(range(137, 201))  # the 64 newest
    assert slow.dropped == 136
    assert slow_frames[-1]["v"] == 199.0


def test_rate_limit_uses_reading_times() -> None:
    registry, _ = make()
    temp = registry.sensor("temperature")
    temp.publish(0.0, t=100.0)
    session = open_sensor(registry, "temperature")
    session.receive_frame(wire([subscription_frame(min_interval_ms=100)])[0], now=0.0)
    assert session.subscription.min_interval_ms == 100
    for i in range(1, 11):
        temp.publish(float(i), t=100.0 + i * 0.05)
    times = [f["t"] for f in wire(session.next_frames())]
    assert times == pytest.approx([100.0, 100.1, 100.2, 100.3, 100.4, 100.5])
    temp.publish(99.0, t=50.0)  # the clock went back: accepted, the interval restarts
    assert [f["v"] for f in session.next_frames()] == [99.0]


def test_dead_band_and_subscription_reset() -> None:
    registry, _ = make()
    temp = registry.sensor("temperature")
    session = open_sensor(registry, "temperature")
    session.receive_frame({"change": 0.5}, now=0.0)
    for value in (20.0, 20.2, 20.4, 20.6, 20.7, 21.2, 20.6):
        temp.publish(value)
    assert [f["v"] for f in session.next_frames()] == [20.0, 20.6, 21.2, 20.6]
    session.receive_frame({}, now=0.0)  # back to every reading
    temp.publish(20.6)
    temp.publish(20.61)
    assert [f["v"] for f in session.next_frames()] == [20.6, 20.61]


def test_dead_band_for_text_means_on_change() -> None:
    registry, _ = make()
    door = registry.sensor("door", type="enum", values=["open", "closed"])
    session = open_sensor(registry, "door")
    session.receive_frame({"change": 1}, now=0.0)
    for value in ("open", "open", "closed", "closed", "open"):
        door.publish(value)
    assert [f["v"] for f in session.next_frames()] == ["open", "closed", "open"]


@pytest.mark.parametrize(
    "frame",
    [
        {"min_interval_ms": -1},
        {"min_interval_ms": 1.5},
        {"min_interval_ms": True},
        {"change": -0.1},
        {"change": "much"},
        {"change": float("nan")},
        [1, 2],
        "subscribe",
        None,
    ],
)
def test_bad_subscription_frames_are_ignored(frame: object) -> None:
    registry, _ = make()
    temp = registry.sensor("temperature")
    session = open_sensor(registry, "temperature")
    session.receive_frame({"min_interval_ms": 1000}, now=0.0)
    session.receive_frame(frame, now=0.0)
    assert session.subscription.min_interval_ms == 1000
    temp.publish(1.0, t=1.0)
    temp.publish(2.0, t=1.5)
    assert [f["v"] for f in session.next_frames()] == [1.0]


def test_each_controller_has_its_own_subscription() -> None:
    registry, _ = make()
    temp = registry.sensor("temperature")
    limited, every = open_sensor(registry, "temperature", 1), open_sensor(registry, "temperature", 2)
    limited.receive_frame({"min_interval_ms": 1000}, now=0.0)
    for i in range(5):
        temp.publish(float(i), t=10.0 + i * 0.1)
    assert len(limited.next_frames()) == 1
    assert len(every.next_frames()) == 5


def test_session_ready_is_edge_triggered() -> None:
    registry, _ = make()
    events: list[RegistryEvent] = []
    temp = registry.sensor("temperature")
    registry.add_listener(events.append)
    session = open_sensor(registry, "temperature")
    for i in range(10):
        temp.publish(float(i))
    ready = [e for e in events if isinstance(e, SessionReady)]
    assert len(ready) == 1 and ready[0].session is session
    session.next_frames(max_frames=3)
    temp.publish(11.0)
    assert len([e for e in events if isinstance(e, SessionReady)]) == 2
    assert session.has_pending


def test_pull_budgets() -> None:
    registry, _ = make()
    temp = registry.sensor("temperature")
    session = open_sensor(registry, "temperature")
    for i in range(10):
        temp.publish(float(i))
    assert len(session.next_frames(max_frames=4)) == 4
    assert len(session.next_frames(max_bytes=1)) == 1  # at least one
    size = approx_size({"s": 1, "t": 1.0, "v": 1.0})
    assert len(session.next_frames(max_bytes=2 * size + 1)) == 2
    assert len(session.next_frames()) == 3


def test_close_detaches_and_remove_terminates() -> None:
    registry, _ = make()
    temp = registry.sensor("temperature")
    a, b = open_sensor(registry, "temperature", 1), open_sensor(registry, "temperature", 2)
    assert temp.session_count == 2
    a.close()
    a.close()
    assert a.closed and temp.session_count == 1
    temp.publish(1.0)
    assert a.next_frames() == [] and not a.has_pending
    events: list[RegistryEvent] = []
    registry.add_listener(events.append)
    b.next_frames()
    registry.remove("temperature")
    assert b.closed and b.close_reason == "channel removed"
    assert any(isinstance(e, SessionReady) and e.session is b for e in events)
    assert "temperature" not in registry
    with pytest.raises(ChannelError):
        temp.publish(2.0)


def test_publish_checks_the_type_but_not_the_range() -> None:
    registry, _ = make()
    temp = registry.sensor("temperature", min=-40, max=85)
    with pytest.raises(ValueRejected) as info:
        temp.publish("warm")
    assert info.value.code == "bad-type"
    with pytest.raises(ValueRejected):
        temp.publish(True)
    assert temp.publish(120.0).value == 120.0  # a sensor reports what it measures


def test_listener_errors_do_not_break_publishing(caplog: pytest.LogCaptureFixture) -> None:
    registry, _ = make()
    temp = registry.sensor("temperature")

    def broken(event: RegistryEvent) -> None:
        raise RuntimeError("listener bug")

    registry.add_listener(broken)
    session: ChannelSession = open_sensor(registry, "temperature")
    temp.publish(1.0)
    assert session.has_pending
    assert "listener failed" in caplog.text
