"""Issue 13 items 4 and 6, device side, sans-I/O: numbers from the network are bounded, nothing one
controller sends raises into another's delivery, and closed sessions leave the registry at once."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from device_sdk.channels import (
    ACTUATOR_PROTOCOL,
    SENSOR_PROTOCOL,
    ActuatorSession,
    ChannelRegistry,
    ChannelSession,
    FrameError,
    PeerInfo,
    SensorSession,
    Subscription,
    ValueRejected,
    ValueSpec,
    check_value,
    dumps_frame,
    parse_subscription,
    run_call_sync,
)
from device_sdk.errors import ConfigError
from device_sdk.wire import WIRE_INT_MAX, WIRE_INT_MIN

HUGE = 2**1024


def peer(n: int) -> PeerInfo:
    return PeerInfo(fp=bytes([n]) * 32, role="admin", name=f"c{n}")


def make() -> ChannelRegistry:
    return ChannelRegistry(device_name="Lab", model="m", clock=lambda: 1_700_000_000.0)


def open_as(registry: ChannelRegistry, label: str, protocol: str, n: int) -> ChannelSession:
    session = registry.open_session(label, protocol, peer=peer(n), now=0.0)
    assert isinstance(session, ChannelSession)
    return session


def sent(session: ChannelSession) -> list[Any]:
    frames = session.next_frames()
    for frame in frames:
        dumps_frame(frame)  # everything the device sends encodes without a tag
    return frames


# -- subscriptions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        {"min_interval_ms": HUGE},
        {"min_interval_ms": WIRE_INT_MAX + 1},
        {"change": HUGE},
        {"change": -HUGE},
        {"change": float("nan")},
        {"change": -1},
        {"min_interval_ms": -1},
        {"min_interval_ms": 1.5},
    ],
)
def test_subscription_numbers_beyond_64_bits_are_refused(frame: dict[str, Any]) -> None:
    with pytest.raises(FrameError):
        parse_subscription(frame)


def test_subscription_numbers_at_the_limits_are_accepted() -> None:
    sub = parse_subscription({"min_interval_ms": WIRE_INT_MAX, "change": WIRE_INT_MAX})
    assert sub == Subscription(WIRE_INT_MAX, float(WIRE_INT_MAX))
    assert parse_subscription({"change": float("inf")}).change == float("inf")


def test_a_huge_subscription_is_ignored_and_everyone_keeps_getting_readings() -> None:
    registry = make()
    temp = registry.sensor("temp")
    sessions = [open_as(registry, "temp", SENSOR_PROTOCOL, n) for n in range(1, 4)]
    sessions[0].receive_frame({"min_interval_ms": HUGE}, now=0.0)  # refused: the subscription stays
    sessions[1].receive_frame({"change": HUGE}, now=0.0)
    temp.publish(1.0)
    temp.publish(2.0)
    for session in sessions:
        assert [f["v"] for f in sent(session)] == [1.0, 2.0]
        assert not session.closed


def test_one_session_failing_in_publish_does_not_starve_the_others() -> None:
    """Defence in depth: if a subscription still made the filter raise (here set directly, as no
    frame can any more), that session is closed and the others get every reading."""
    registry = make()
    temp = registry.sensor("temp")
    sessions = [open_as(registry, "temp", SENSOR_PROTOCOL, n) for n in range(1, 4)]
    temp.publish(1.0)
    for session in sessions:
        sent(session)
    broken = sessions[1]
    assert isinstance(broken, SensorSession)
    broken._subscription = Subscription(min_interval_ms=HUGE)  # float(HUGE) raises OverflowError
    temp.publish(2.0)
    temp.publish(3.0)
    assert broken.closed and broken.close_reason == "internal error"
    for session in (sessions[0], sessions[2]):
        assert [f["v"] for f in sent(session)] == [2.0, 3.0]
    assert broken not in registry.sessions


# -- actuator values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "bad", "code"),
    [
        ({"type": "float", "initial": 0.0}, HUGE, "out-of-range"),
        ({"type": "float", "initial": 0.0}, -HUGE, "out-of-range"),
        ({"type": "float", "initial": 0.0}, WIRE_INT_MAX + 1, "out-of-range"),
        ({"type": "int", "initial": 0}, HUGE, "out-of-range"),
        ({"type": "int", "initial": 0}, WIRE_INT_MIN - 1, "out-of-range"),
        ({"type": "map", "initial": {}}, {"x": HUGE}, "bad-type"),
        ({"type": "map", "initial": {}}, {"x": [1, {"y": -HUGE}]}, "bad-type"),
    ],
)
def test_bignum_set_is_answered_with_the_channels_error(kwargs: dict[str, Any], bad: Any, code: str) -> None:
    registry = make()
    registry.actuator("a", handler=lambda v: None, **kwargs)
    caller = open_as(registry, "a", ACTUATOR_PROTOCOL, 1)
    other = open_as(registry, "a", ACTUATOR_PROTOCOL, 2)
    sent(caller), sent(other)
    caller.receive_frame({"id": 7, "set": bad}, now=1.0)  # never raises
    for call in registry.take_calls():
        run_call_sync(call, 1.0)
    answers = sent(caller)
    assert len(answers) == 1 and answers[0]["id"] == 7
    assert (answers[0]["ok"], answers[0]["error"]) == (False, code)
    assert sent(other) == []
    assert not caller.closed


def test_the_largest_64_bit_values_are_set_and_echoed() -> None:
    registry = make()
    registry.actuator("n", type="int", initial=0, handler=lambda v: None)
    session = open_as(registry, "n", ACTUATOR_PROTOCOL, 1)
    assert isinstance(session, ActuatorSession)
    sent(session)
    for request_id, value in enumerate((WIRE_INT_MAX, WIRE_INT_MIN), start=1):
        session.receive_frame({"id": request_id, "set": value}, now=1.0)
        for call in registry.take_calls():
            run_call_sync(call, 1.0)
        assert sent(session) == [{"id": request_id, "ok": True, "v": value}]


def test_check_value_bounds() -> None:
    with pytest.raises(ValueRejected) as info:
        check_value(ValueSpec(type="float"), HUGE, check_range=False)
    assert info.value.code == "out-of-range"
    with pytest.raises(ValueRejected) as info:
        check_value(ValueSpec(type="map"), {"when": object()})
    assert info.value.code == "bad-type"
    assert check_value(ValueSpec(type="float"), WIRE_INT_MAX) == float(WIRE_INT_MAX)


def test_the_application_cannot_publish_what_would_need_a_tag() -> None:
    registry = make()
    temp = registry.sensor("big", type="int")
    conf = registry.sensor("conf", type="map")
    with pytest.raises(ValueRejected):
        temp.publish(HUGE)
    with pytest.raises(ValueRejected):
        conf.publish({"s": {1, 2}})
    assert temp.seq == 0 and conf.seq == 0


# -- closed sessions leave the registry at once ----------------------------------------------------


def test_closed_sessions_leave_the_registry_at_once() -> None:
    registry = make()
    registry.sensor("temp")
    registry.actuator("led", type="bool", initial=False, handler=lambda v: None)
    sessions = [
        open_as(registry, "temp", SENSOR_PROTOCOL, 1),
        open_as(registry, "led", ACTUATOR_PROTOCOL, 1),
        open_as(registry, "catalog", "device-sdk.catalog.v1", 2),
    ]
    assert registry.sessions == tuple(sessions)
    sessions[0].close()
    assert registry.sessions == tuple(sessions[1:])
    registry.close_peer(bytes([1]) * 32)
    assert registry.sessions == (sessions[2],)
    sessions[2].close()
    assert not registry.sessions


def test_nothing_keeps_a_closed_session_alive() -> None:
    """Without another channel open, a closed session (and what it refers to) is freed by reference
    counting alone: nothing in the registry or its channels holds it."""
    registry = make()
    temp = registry.sensor("temp")
    registry.actuator("led", type="bool", initial=False, handler=lambda v: None)
    gc.disable()
    try:
        refs = []
        for label, protocol in (("temp", SENSOR_PROTOCOL), ("led", ACTUATOR_PROTOCOL)):
            session = open_as(registry, label, protocol, 1)
            session.next_frames()
            refs.append(weakref.ref(session))
            session.close()
            del session
        temp.publish(1.0)
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()


def test_declarations_that_would_need_a_tag_are_refused() -> None:
    """The catalog and the stream format frame carry what the application declares."""
    registry = make()
    with pytest.raises(ConfigError):
        registry.sensor("big", type="int", max=2**70)
    with pytest.raises(ConfigError):
        registry.stream("odd", format={"codec": "raw", "channels": {1, 2}})
    registry.sensor("fine", type="int", min=WIRE_INT_MIN, max=WIRE_INT_MAX)
    dumps_frame(registry.catalog_frame())
