"""Many controllers and a stalled one, end to end over real QUIC on loopback.

- 20 controllers, each with its own identity and state directory, all paired through the pairing window,
  subscribe to one sensor at once: every one receives every reading.
- A controller whose connection stops reading (its UDP socket is no longer read, as when its process is
  suspended: no acknowledgements reach the device) does not delay the others: their delivery and latency
  are measured with and without it. When it reads again it gets the newest readings after a gap, not the
  backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from device_sdk.channels import Reading, Sensor, SensorSession, loads_frame
from device_sdk.controller.connection import MAX_QUEUED_READINGS, DeviceConnection
from device_sdk.device import Device
from device_sdk.device.session import READING_HIGH_WATER
from device_sdk.transport import AgentConnection
from device_sdk.wire import DataFrame, MessageDecoder

from ._channels_e2e import close_all, make_device, next_within, pair_many, wait_for_session

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def device(tmp_path: Path) -> AsyncIterator[Device]:
    dev = make_device(tmp_path, name="Hub")
    dev.sensor("counter", type="int")
    await dev.start()
    dev.channels["counter"].publish(0)  # type: ignore[union-attr]
    yield dev
    await dev.stop()


def _counter(device: Device) -> Sensor:
    sensor = device.channels["counter"]
    assert isinstance(sensor, Sensor)
    return sensor


async def test_twenty_controllers_subscribed_at_once_all_receive_every_reading(device: Device, tmp_path: Path) -> None:
    conns = await pair_many(device, tmp_path, 20)
    assert len(device.trust.list()) == 20
    assert [p.role for p in await conns[0].list_peers()].count("admin") == 1
    subscriptions = [c.subscribe("counter") for c in conns]
    firsts = await asyncio.gather(*(next_within(s) for s in subscriptions))
    assert {r.value for r in firsts} == {0}
    await wait_for_session(device, "counter", count=20)
    sensor = _counter(device)

    async def collect(readings: AsyncIterator[Reading], last_seq: int) -> list[int]:
        values = []
        while True:
            reading = await next_within(readings)
            values.append(reading.value)
            if reading.seq == last_seq:
                return values

    expected = list(range(1, 101))
    last_seq = sensor.seq + len(expected)
    collectors = []
    for value in expected:
        published = sensor.publish(value)
        if value % 10 == 0:
            await asyncio.sleep(0.005)  # a 100 Hz-ish sensor in bursts of ten
        if value == 1:
            collectors = [asyncio.ensure_future(collect(s, last_seq)) for s in subscriptions]
    assert published.seq == last_seq
    results = await asyncio.wait_for(asyncio.gather(*collectors), 10)
    assert [values for values in results if values != expected] == []
    assert all(s.dropped == 0 for s in device.channels.sessions if isinstance(s, SensorSession))
    for subscription in subscriptions:
        await subscription.aclose()
    await close_all(conns)


async def test_a_reading_is_encoded_once_for_every_subscriber(
    device: Device, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each subscriber's connection is handed the same bytes object for a reading (one encoding per
    reading, not one per controller), and every controller decodes the reading from it."""
    conns = await pair_many(device, tmp_path, 3)
    subscriptions = [c.subscribe("counter") for c in conns]
    await asyncio.gather(*(next_within(s) for s in subscriptions))
    await wait_for_session(device, "counter", count=3)
    sent: list[tuple[AgentConnection, bytes]] = []
    original = AgentConnection.send_stream_raw

    def send_stream_raw(self: AgentConnection, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        if not self.is_client:  # the device's side
            sent.append((self, data))
        original(self, stream_id, data, end_stream=end_stream)

    monkeypatch.setattr(AgentConnection, "send_stream_raw", send_stream_raw)
    reading = _counter(device).publish(42)
    received = await asyncio.gather(*(next_within(s) for s in subscriptions))
    assert [(r.seq, r.value) for r in received] == [(reading.seq, 42)] * 3
    assert len({id(conn) for conn, _ in sent}) == 3 and len(sent) == 3
    first = sent[0][1]
    assert all(data is first for _, data in sent)
    decoder = MessageDecoder()
    decoder.receive(first)
    message = decoder.next_message()
    assert isinstance(message, DataFrame) and decoder.next_message() is None
    assert loads_frame(message.payload) == reading.to_frame()
    for subscription in subscriptions:
        await subscription.aclose()
    await close_all(conns)


@dataclass
class _Consumer:
    """One fast controller: the delivery latency of every reading it receives."""

    conn: DeviceConnection
    latencies: list[float] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)

    async def run(self) -> None:
        async for reading in self.conn.subscribe("counter"):
            self.latencies.append(time.time() - reading.t)
            self.seqs.append(reading.seq)

    def window(self, first_seq: int, last_seq: int) -> tuple[float, float]:
        """(fraction of readings first_seq..last_seq received, p95 latency in seconds) of a phase."""
        picked = [lat for seq, lat in zip(self.seqs, self.latencies, strict=True) if first_seq <= seq <= last_seq]
        if not picked:
            return 0.0, float("inf")
        picked.sort()
        return len(picked) / (last_seq - first_seq + 1), picked[int(len(picked) * 0.95)]


async def _publish(sensor: Sensor, rounds: int) -> tuple[int, int]:
    """Publish 4 readings every 2 ms or more (2000/s at most), ``rounds`` times; the (first, last) seq."""
    first = sensor.seq + 1
    for _ in range(rounds):
        for _ in range(4):
            sensor.publish(sensor.seq)
        await asyncio.sleep(0.002)
    return first, sensor.seq


async def test_a_controller_that_stops_reading_does_not_delay_the_others(device: Device, tmp_path: Path) -> None:
    sensor = _counter(device)
    *fast_conns, slow = await pair_many(device, tmp_path, 5)
    stalled = slow.subscribe("counter")
    await next_within(stalled)
    consumers = [_Consumer(c) for c in fast_conns]
    tasks = [asyncio.ensure_future(c.run()) for c in consumers]
    await wait_for_session(device, "counter", count=5)
    slow_session = next(s for s in device.channels.sessions if s.label == "counter")  # opened first
    assert isinstance(slow_session, SensorSession)

    # phase 1: everyone reads
    async def read_until(seq: int) -> int:
        while (reading := await stalled.__anext__()).seq < seq:
            pass
        return reading.seq

    base = await _publish(sensor, 300)  # 0.6 s or more
    last_before = await asyncio.wait_for(read_until(base[1]), 5)  # then the slow one stops reading
    assert slow_session.dropped == 0
    # phase 2: the slow controller's socket is no longer read (no acks, its QUIC flow stalls)
    transport = slow.agent._protocol._transport
    assert isinstance(transport, asyncio.ReadTransport)  # asyncio's UDP transport can pause reading
    transport.pause_reading()
    try:
        stall = await _publish(sensor, 600)  # 1.2 s or more
        await asyncio.sleep(0.1)
    finally:
        transport.resume_reading()
    stall_count = stall[1] - stall[0] + 1
    # the stall was real: the device dropped readings for the slow controller only
    assert slow_session.dropped > stall_count // 2, (slow_session.dropped, stall_count)
    others = [s for s in device.channels.sessions if s is not slow_session and isinstance(s, SensorSession)]
    assert len(others) == 4 and all(s.dropped == 0 for s in others)

    for consumer in consumers:
        base_fraction, base_p95 = consumer.window(*base)
        stall_fraction, stall_p95 = consumer.window(*stall)
        assert base_fraction == 1.0 and stall_fraction == 1.0, (base_fraction, stall_fraction)
        # a device waiting for the stalled controller would hold these readings back for up to 1.2 s
        assert stall_p95 <= 3 * base_p95 + 0.1, (base_p95, stall_p95)

    # back: the slow controller gets a bounded remainder, then the newest, with the gap in "s"
    newest = sensor.seq
    received: list[int] = []
    async with asyncio.timeout(5):
        while not received or received[-1] != newest:
            received.append((await stalled.__anext__()).seq)
    assert received[0] > last_before
    # what was waiting: the device's queue (64 readings) and at most READING_HIGH_WATER bytes in flight
    assert len(received) < 64 + READING_HIGH_WATER // 20, (len(received), stall_count)
    assert any(b - a > 1 for a, b in zip([last_before, *received], received, strict=False))
    sensor.publish(-1)
    assert (await next_within(stalled)).seq == newest + 1

    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await stalled.aclose()
    await close_all([*fast_conns, slow])


async def test_a_caller_that_does_not_iterate_gets_the_newest_readings_not_a_backlog(
    device: Device, tmp_path: Path
) -> None:
    (conn,) = await pair_many(device, tmp_path, 1)
    sensor = _counter(device)
    idle = conn.subscribe("counter")
    first = await next_within(idle)
    for value in range(1, 2001):
        sensor.publish(value)
        if value % 50 == 0:
            await asyncio.sleep(0.001)  # the connection keeps reading: only the caller is idle
    await conn.agent.agent_status()
    await asyncio.sleep(0.05)
    got: list[Reading] = []
    while not got or got[-1].value != 2000:
        got.append(await next_within(idle))
    assert len(got) <= MAX_QUEUED_READINGS + 1
    assert got[0].seq > first.seq + 1000
    await idle.aclose()
    await conn.close()
