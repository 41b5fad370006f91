"""Every channel protocol end to end over real QUIC on loopback: a Device and paired Controllers.

Catalog, sensor (subscription, sequence numbers, throttling gaps), actuator (set, do, typed errors on a
channel that stays usable), byte stream (format then chunks, the bytes match), channels added and removed
at run time (catalog update, ``mv``), and bad input sent raw on a channel stream.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cbor2
import pytest

from device_sdk.channels import CATALOG_LABEL, CATALOG_PROTOCOL, SENSOR_PROTOCOL, parse_catalog
from device_sdk.controller import DeviceConnection
from device_sdk.device import Device
from device_sdk.errors import ActuatorError, ChannelError, ChannelOpenFailed, ConnectionClosed
from device_sdk.wire import AgentInfoRequest, DataChannelOpenRequest, DataFrame

from ._channels_e2e import close_all, make_device, next_within, pair, pair_many, wait_for_session

pytestmark = pytest.mark.timeout(15)


@pytest.fixture
async def device(tmp_path: Path) -> AsyncIterator[Device]:
    dev = make_device(tmp_path, name="Bench")
    dev.sensor("temperature", type="float", unit="C", min=-40, max=85, rate_hz=10, description="air")
    state: dict[str, Any] = {"blinks": 0}

    def set_dimmer(value: Any) -> Any:
        if value == 13:
            raise RuntimeError("unlucky")
        return value

    def blink() -> None:
        state["blinks"] += 1

    dev.actuator("dimmer", type="int", initial=0, min=0, max=100, handler=set_dimmer, actions={"blink": blink})
    dev.actuator("mode", type="enum", values=("eco", "boost"), initial="eco", handler=lambda v: v)
    dev.stream("audio", format={"codec": "pcm_s16le", "rate": 16000, "channels": 1}, chunk_bytes=1000)
    dev.input("gamepad", rate_hz=500)
    await dev.start()
    dev.channels["temperature"].publish(21.5)  # type: ignore[union-attr]
    yield dev
    await dev.stop()


@pytest.fixture
async def conn(device: Device, tmp_path: Path) -> AsyncIterator[DeviceConnection]:
    connection = await pair(device, tmp_path, "Laptop")
    yield connection
    await connection.close()


async def test_catalog_describes_the_device_and_every_channel(conn: DeviceConnection) -> None:
    catalog = await conn.catalog()
    assert catalog.device.name == "Bench"
    assert catalog.device.sdk is not None and catalog.device.sdk.startswith("device_sdk")
    assert [c.name for c in catalog.channels] == ["temperature", "dimmer", "mode", "audio", "gamepad"]
    temp = catalog["temperature"]
    assert (temp.kind, temp.type, temp.unit, temp.min, temp.max) == ("sensor", "float", "C", -40, 85)
    assert (temp.rate_hz, temp.description) == (10, "air")
    dimmer = catalog["dimmer"]
    assert (dimmer.kind, dimmer.type, dimmer.min, dimmer.max) == ("actuator", "int", 0, 100)
    assert dimmer.actions == ("blink",)
    assert catalog["mode"].values == ("eco", "boost")
    assert catalog["audio"].kind == "stream" and catalog["audio"].extra["format"]["codec"] == "pcm_s16le"
    assert (catalog["gamepad"].kind, catalog["gamepad"].type) == ("input", "map")


async def test_sensor_sends_the_current_value_then_every_reading_in_sequence(
    device: Device, conn: DeviceConnection
) -> None:
    temp = device.channels["temperature"]
    readings = conn.subscribe("temperature")
    first = await next_within(readings)
    assert (first.seq, first.value) == (temp.seq, 21.5)  # type: ignore[union-attr]
    for i in range(1, 21):
        published = temp.publish(20.0 + i / 4)  # type: ignore[union-attr]
        reading = await next_within(readings)
        assert (reading.seq, reading.value, reading.t) == (first.seq + i, published.value, published.t)
        assert abs(reading.t - time.time()) < 5
    await readings.aclose()


async def test_sensor_min_interval_throttles_and_the_gaps_show_in_the_sequence(
    device: Device, conn: DeviceConnection
) -> None:
    temp = device.channels["temperature"]
    base = temp.reading.t  # type: ignore[union-attr]
    readings = conn.subscribe("temperature", min_interval_ms=100)
    first = await next_within(readings)
    await conn.agent.agent_status()  # the subscription frame, sent before, has reached the device
    for i in range(1, 31):  # every 10 ms of reading time: only every tenth passes
        temp.publish(float(i), t=base + i * 0.010)  # type: ignore[union-attr]
    got = [await next_within(readings) for _ in range(3)]
    assert [r.seq - first.seq for r in got] == [10, 20, 30]
    assert [r.value for r in got] == [10.0, 20.0, 30.0]
    # a subscription changes at any time: now every reading again
    await readings.aclose()
    again = conn.subscribe("temperature", min_interval_ms=0)
    assert (await next_within(again)).value == 30.0
    await conn.agent.agent_status()
    temp.publish(31.0, t=base + 0.301)  # type: ignore[union-attr]
    assert (await next_within(again)).value == 31.0
    await again.aclose()


async def test_sensor_dead_band_skips_small_changes(device: Device, conn: DeviceConnection) -> None:
    temp = device.channels["temperature"]
    readings = conn.subscribe("temperature", change=1.0)
    assert (await next_within(readings)).value == 21.5
    await conn.agent.agent_status()
    for value in (21.6, 22.0, 22.4, 22.6, 22.7, 20.0):
        temp.publish(value)  # type: ignore[union-attr]
    assert [(await next_within(readings)).value for _ in range(2)] == [22.6, 20.0]
    await readings.aclose()


async def test_actuator_set_do_and_typed_errors_on_a_channel_that_stays_usable(
    device: Device, conn: DeviceConnection
) -> None:
    assert await conn.set("dimmer", 42) == 42
    failures = [
        (conn.set("dimmer", "bright"), "bad-type"),
        (conn.set("dimmer", 101), "out-of-range"),
        (conn.set("dimmer", -1), "out-of-range"),
        (conn.set("dimmer", 4.5), "bad-type"),
        (conn.do("dimmer", "explode"), "unknown-op"),
        (conn.set("mode", "turbo"), "out-of-range"),
        (conn.set("dimmer", 13), "failed"),  # the handler raised
    ]
    for call, code in failures:
        with pytest.raises(ActuatorError) as info:
            await call
        assert info.value.code == code, info.value
        assert info.value.message
    assert await conn.do("dimmer", "blink") == 42  # an action keeps the state
    assert await conn.set("mode", "boost") == "boost"
    assert await conn.set("dimmer", 7) == 7
    assert device.channels["dimmer"].value == 7  # type: ignore[union-attr]
    # one channel per actuator served all of it: no error closed it
    dimmer_sessions = [s for s in device.channels.sessions if s.label == "dimmer"]
    assert len(dimmer_sessions) == 1 and not dimmer_sessions[0].closed
    with pytest.raises(ChannelOpenFailed):
        await conn.set("no-such-actuator", 1)
    assert await conn.set("dimmer", 8) == 8


async def test_actuator_change_reaches_another_controller_as_a_state_frame(
    device: Device, tmp_path: Path, conn: DeviceConnection
) -> None:
    other = await pair(device, tmp_path, "Phone")
    channel = await other.open_channel("mode", "device-sdk.actuator.v1")
    assert (await asyncio.wait_for(channel.next_frame(), 5))["v"] == "eco"  # state on open
    assert await conn.set("mode", "boost") == "boost"
    frame = await asyncio.wait_for(channel.next_frame(), 5)
    assert frame["v"] == "boost" and isinstance(frame["t"], float)
    channel.close()
    await other.close()


async def test_actuator_states_shows_every_confirmed_state_whoever_changed_it(
    device: Device, tmp_path: Path, conn: DeviceConnection
) -> None:
    other = await pair(device, tmp_path, "Phone")
    mine = conn.actuator_states("dimmer")
    theirs = other.actuator_states("dimmer")
    assert (await next_within(mine)).value == 0  # the current state first
    assert (await next_within(theirs)).value == 0
    assert await conn.set("dimmer", 42) == 42  # my own set, confirmed by the device
    assert (await next_within(mine)).value == 42
    assert (await next_within(theirs)).value == 42
    with pytest.raises(ActuatorError):
        await other.set("dimmer", 101)  # refused: no state appears for it
    device.channels["dimmer"].report(9)  # type: ignore[union-attr]  # a physical switch
    assert (await next_within(mine)).value == 9
    assert (await next_within(theirs)).value == 9
    late = conn.actuator_states("dimmer")  # a second watcher on the same channel starts at the last state
    assert (await next_within(late)).value == 9
    await late.aclose()
    await other.close()
    with pytest.raises(ChannelError):
        await next_within(theirs)  # the connection is gone: the iteration ends
    await mine.aclose()


async def test_byte_stream_sends_the_format_then_chunks_whose_bytes_match(
    device: Device, conn: DeviceConnection
) -> None:
    audio = device.channels["audio"]
    chunks = conn.stream("audio")
    first = asyncio.ensure_future(chunks.__anext__())
    await wait_for_session(device, "audio")
    data = os.urandom(25_500)
    for start in range(0, len(data), 5_000):
        audio.write(data[start : start + 5_000])  # type: ignore[union-attr]
    received = [await asyncio.wait_for(first, 5)]
    while sum(len(c.data) for c in received) < len(data):
        received.append(await next_within(chunks))
    assert b"".join(c.data for c in received) == data
    assert [c.seq for c in received] == list(range(1, len(received) + 1))
    assert max(len(c.data) for c in received) == 1000
    fmt = conn.stream_format("audio")
    assert fmt is not None and fmt.codec == "pcm_s16le" and dict(fmt.params) == {"rate": 16000, "channels": 1}
    await chunks.aclose()


async def test_channel_added_at_run_time_appears_in_the_open_catalog_and_raises_mv(
    device: Device, conn: DeviceConnection
) -> None:
    catalog = await conn.open_channel(CATALOG_LABEL, CATALOG_PROTOCOL)
    assert "humidity" not in {c.name for c in parse_catalog(await catalog.next_frame()).channels}
    mv_before = device.txt_record().mv

    humidity = device.sensor("humidity", unit="%", min=0, max=100)
    update = parse_catalog(await asyncio.wait_for(catalog.next_frame(), 5))
    assert update["humidity"].unit == "%"
    assert device.txt_record().mv > mv_before
    humidity.publish(55.0)
    readings = conn.subscribe("humidity")
    assert (await next_within(readings)).value == 55.0

    mv_added = device.txt_record().mv
    device.channels.remove("humidity")
    update = parse_catalog(await asyncio.wait_for(catalog.next_frame(), 5))
    assert "humidity" not in {c.name for c in update.channels}
    assert device.txt_record().mv > mv_added
    with pytest.raises(ChannelError, match="ended"):  # the open subscription was closed by the device
        await next_within(readings)
    with pytest.raises(ChannelOpenFailed):
        await next_within(conn.subscribe("humidity"))
    catalog.close()


# -- bad input on the wire ------------------------------------------------------------------------


async def _assert_serves(device: Device, readings: AsyncIterator[Any], value: float) -> None:
    device.channels["temperature"].publish(value)  # type: ignore[union-attr]
    assert (await next_within(readings)).value == value


@pytest.mark.parametrize("payload", [b"\xff", b"\x1c", b"\x01\x02", b"\x82\x01", b""], ids=repr)
async def test_a_payload_that_is_not_one_cbor_item_resets_only_that_channel(
    device: Device, tmp_path: Path, payload: bytes
) -> None:
    bad, good = await pair_many(device, tmp_path, 2)
    watching = good.subscribe("temperature")
    await next_within(watching)
    channel = await bad.open_channel("temperature", SENSOR_PROTOCOL)
    await asyncio.wait_for(channel.next_frame(), 5)
    bad.agent.send_stream(channel.stream_id, DataFrame(payload))
    with pytest.raises(ChannelError, match=r"reset \(400\)"):
        while True:
            await asyncio.wait_for(channel.next_frame(), 5)
    assert len([s for s in device.channels.sessions if s.label == "temperature"]) == 1  # the good one's
    await _assert_serves(device, watching, 30.5)
    # the offender's connection and its other channels go on
    assert await bad.set("dimmer", 3) == 3
    await watching.aclose()
    await close_all([bad, good])


async def test_frames_of_the_wrong_shape_get_answers_or_are_ignored(device: Device, conn: DeviceConnection) -> None:
    actuator = await conn.open_channel("dimmer", "device-sdk.actuator.v1")
    await asyncio.wait_for(actuator.next_frame(), 5)  # state on open
    for frame in ({"id": 5}, {"id": 6, "set": 1, "do": "blink"}, ["junk"], {"set": 1}, 7):
        actuator.send(frame)
    answers = [await asyncio.wait_for(actuator.next_frame(), 5) for _ in range(2)]
    assert [(a["id"], a["ok"], a["error"]) for a in answers] == [(5, False, "unknown-op"), (6, False, "bad-type")]
    actuator.send({"id": 9, "set": 9})
    assert await asyncio.wait_for(actuator.next_frame(), 5) == {"id": 9, "ok": True, "v": 9}
    # a sensor ignores a bad subscription and keeps the old one
    readings = conn.subscribe("temperature")
    await next_within(readings)
    sensor = next(s for s in device.channels.sessions if s.label == "temperature")
    sensor_channel = next(c for c in conn._channels.values() if c.label == "temperature")
    sensor_channel.send({"min_interval_ms": "fast"})
    await conn.agent.agent_status()
    assert sensor.subscription.min_interval_ms is None  # type: ignore[attr-defined]
    await _assert_serves(device, readings, 12.0)
    await readings.aclose()


async def test_a_second_open_request_on_a_channel_stream_resets_it(device: Device, conn: DeviceConnection) -> None:
    channel = await conn.open_channel("temperature", SENSOR_PROTOCOL)
    conn.agent.send_stream(channel.stream_id, DataChannelOpenRequest(99, 98, "dimmer", "device-sdk.actuator.v1"))
    with pytest.raises(ChannelError, match=r"reset \(400\)"):
        while True:
            await asyncio.wait_for(channel.next_frame(), 5)
    assert await conn.set("dimmer", 5) == 5


@pytest.mark.parametrize("case", ["control-message-on-channel", "unknown-type-key", "bad-cbor-message"])
async def test_a_peer_breaking_the_framing_is_closed_and_the_device_serves_the_others(
    device: Device, tmp_path: Path, case: str
) -> None:
    bad, good = await pair_many(device, tmp_path, 2)
    watching = good.subscribe("temperature")
    await next_within(watching)
    channel = await bad.open_channel("temperature", SENSOR_PROTOCOL)
    if case == "control-message-on-channel":
        bad.agent.send_stream(channel.stream_id, AgentInfoRequest(1))
        code = 400
    elif case == "unknown-type-key":
        bad.agent.send_stream_raw(channel.stream_id, b"\x67\x0f" + cbor2.dumps({0: 1}))  # type key 9999
        code = 404
    else:
        bad.agent.send_stream_raw(channel.stream_id, b"\x18\xff\xff")  # data-frame, then not CBOR
        code = 400
    error = await asyncio.wait_for(bad.agent.wait_closed(), 5)
    assert isinstance(error, ConnectionClosed) and error.code == code, error
    await _assert_serves(device, watching, 33.0)
    assert await good.set("dimmer", 11) == 11
    await watching.aclose()
    await close_all([bad, good])
