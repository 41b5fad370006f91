"""How many datagrams the exchanges take, and when a close returns, on a real loopback device.

A request whose handler answers at once takes one datagram each way (the answer carries the
acknowledgement of the request, the next request that of the answer); a reconnect and its first
reading take two each way (the request leaves with the TLS Finished, the answer and the current value
come back in one datagram); a channel's open request and its subscription leave together; a
controller's ``close()`` returns at once while QUIC's closing period runs on, and the connection is
released afterwards. The datagrams are counted by wrapping the event loop's datagram endpoints (every
``sendto`` and ``datagram_received``), on the device's server socket and on the controller's sockets.
A loop stalled past aioquic's probe timeout (about 30 ms on loopback, as on a loaded CI machine) makes
probes; the loss-detection timeouts are counted too, and each allows the datagrams a probe adds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aioquic.quic.connection import QuicConnection

from device_sdk.controller import Controller, ControllerConfig, DeviceConnection
from device_sdk.device import Device
from device_sdk.errors import ChannelError

from ._channels_e2e import SETUP_CODE, make_device, next_within, target, wait_for_session
from ._datagrams import DatagramCounter

pytestmark = pytest.mark.timeout(60)

SETS = 30


@dataclass
class Setup:
    device: Device
    controller: Controller
    counting: DatagramCounter


@pytest.fixture
async def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Setup]:
    counting = DatagramCounter(asyncio.get_running_loop())
    monkeypatch.setattr(QuicConnection, "handle_timer", counting.count_loss_timers())
    device = make_device(tmp_path)
    temperature = device.sensor("temperature", type="float", unit="C")
    device.actuator("led", type="bool", initial=False, handler=lambda on: on)
    await device.start()
    temperature.publish(21.5)
    controller = Controller(ControllerConfig(state_dir=tmp_path / "controller", name="Flights"))
    try:
        yield Setup(device, controller, counting)
    finally:
        await controller.close()
        await device.stop()


def timers(setup: Setup) -> tuple[int, int]:
    """How often aioquic's loss-detection timer has fired so far, on the device and the controller."""
    fired = setup.counting.loss_timers
    return fired["device"], fired["controller"]


def allowance(setup: Setup, before: tuple[int, int]) -> tuple[int, int]:
    """The datagrams probes may have added since ``before``, to the device's count and the controller's.

    A probe (PTO) sends a datagram or two, and the peer acknowledges it: so a device's probe is also
    one more controller datagram, and the other way round. Without a stall, both are 0.
    """
    device, controller = timers(setup)
    device -= before[0]
    controller -= before[1]
    return 2 * device + controller, 2 * controller + device


async def quiet(setup: Setup) -> tuple[int, int]:
    """Wait until no datagram has moved for 50 ms (delayed acknowledgements, a closing period), then
    read the counts."""
    totals = setup.counting.totals()
    async with asyncio.timeout(10):
        while True:
            await asyncio.sleep(0.05)
            now = setup.counting.totals()
            if now == totals:
                return totals
            totals = now


async def test_a_set_answered_at_once_is_one_datagram_each_way(setup: Setup) -> None:
    conn = await setup.controller.pair(target(setup.device), SETUP_CODE)
    try:
        await conn.set("led", True)  # opens the actuator channel
        device0, controller0 = await quiet(setup)
        fired = timers(setup)
        for i in range(SETS):
            assert await conn.set("led", i % 2 == 0) is (i % 2 == 0)
        device1, controller1 = setup.counting.totals()
        more_device, more_controller = allowance(setup, fired)
        # Every answer acknowledges its request; every request but the first that of the last answer
        # (a controller stalled for the whole acknowledgement delay sends one acknowledgement alone).
        assert SETS <= device1 - device0 <= SETS + more_device
        assert SETS <= controller1 - controller0 <= SETS + 1 + more_controller
    finally:
        await conn.close()


async def test_a_handler_that_is_async_still_answers(setup: Setup) -> None:
    """Synchronous handlers run inline; an async one goes on in a task and answers when done."""
    done = asyncio.Event()

    async def slow(level: int) -> int:
        await asyncio.sleep(0.01)
        done.set()
        return level

    setup.device.actuator("dimmer", type="int", initial=0, handler=slow)
    conn = await setup.controller.pair(target(setup.device), SETUP_CODE)
    try:
        assert await conn.set("dimmer", 7) == 7
        assert done.is_set()
    finally:
        await conn.close()


async def test_reconnect_and_first_reading_take_two_datagrams_each_way(setup: Setup) -> None:
    conn = await setup.controller.pair(target(setup.device), SETUP_CODE)
    await conn.close()
    device0, controller0 = await quiet(setup)
    fired = timers(setup)
    conn = await setup.controller.connect(target(setup.device))
    readings = conn.subscribe("temperature")
    try:
        # In the task that connected (a new task, as wait_for would make, starts after the Finished left)
        async with asyncio.timeout(5):
            first = await anext(readings)
        device1, controller1 = setup.counting.totals()
        assert first.value == 21.5
        more_device, more_controller = allowance(setup, fired)
        # Initial; then the TLS Finished with the open request. Back: the server's flight; then the
        # open answer with the current value.
        assert 2 <= device1 - device0 <= 2 + more_device
        assert 2 <= controller1 - controller0 <= 2 + more_controller
    finally:
        await readings.aclose()
        await conn.close()


async def test_a_subscription_leaves_with_its_open_request(setup: Setup) -> None:
    conn = await setup.controller.pair(target(setup.device), SETUP_CODE)
    readings = conn.subscribe("temperature", min_interval_ms=1000)
    try:
        device0, controller0 = await quiet(setup)
        fired = timers(setup)
        first = await next_within(readings)
        device1, controller1 = setup.counting.totals()
        more_device, more_controller = allowance(setup, fired)
        assert first.value == 21.5
        assert 1 <= device1 - device0 <= 1 + more_device
        assert 1 <= controller1 - controller0 <= 1 + more_controller
        [session] = [s for s in setup.device.channels.sessions if s.label == "temperature"]
        assert session.subscription.min_interval_ms == 1000  # type: ignore[attr-defined]
    finally:
        await readings.aclose()
        await conn.close()


async def test_close_returns_at_once_and_the_connection_is_released_afterwards(setup: Setup) -> None:
    conn: DeviceConnection = await setup.controller.pair(target(setup.device), SETUP_CODE)
    readings = conn.subscribe("temperature")
    await next_within(readings)
    await wait_for_session(setup.device, "temperature")
    protocol = conn.agent._protocol
    transport = protocol.transport
    assert transport is not None
    await conn.close()
    # returned: the connection is over for the caller, QUIC's closing period still runs
    assert conn.closed and conn.agent.closed.done()
    assert not transport.is_closing()
    assert not conn.agent.closed.result().by_peer
    # the device has seen the close; then the closing period ends, the socket closes and aioquic's
    # state is let go
    async with asyncio.timeout(5):
        while setup.device.channels.sessions:
            await asyncio.sleep(0.005)
        await protocol.wait_closed()
        while not transport.is_closing():
            await asyncio.sleep(0.005)
    await asyncio.sleep(0)
    assert conn.agent.handler is not conn  # released: the layer above is let go
    with pytest.raises(ChannelError, match="closed on this side"):
        await next_within(readings)


async def test_a_dialled_socket_is_closed_when_the_wait_for_the_closing_period_is_cancelled(setup: Setup) -> None:
    """An event loop shutting down cancels the task that waits out the closing period: the
    connection's socket is closed all the same."""
    conn = await setup.controller.pair(target(setup.device), SETUP_CODE)
    protocol = conn.agent._protocol
    await conn.close()
    await asyncio.sleep(0)  # the closed future's callbacks run: the wait starts
    closer, transport = protocol.closer, protocol.transport
    assert closer is not None and transport is not None and not transport.is_closing()
    closer.cancel()  # before it began, as an event loop shutting down may
    with contextlib.suppress(asyncio.CancelledError):
        await closer
    assert transport.is_closing()


async def test_the_controllers_auth_status_leaves_in_one_datagram_with_what_follows_it(setup: Setup) -> None:
    """pair(): the controller's auth-status, the stream limits it lifts for the now trusted device and
    the agent-status request that learns the device committed leave together. The controller sends
    four datagrams (Initial; TLS Finished with its capabilities and pA; cA; auth-status), five when a
    handshake datagram is sent twice (aioquic's probe, now and then); they were six or seven when the
    lifted limits and the request left on their own."""
    await quiet(setup)
    device0, controller0 = setup.counting.totals()
    fired = timers(setup)
    conn = await setup.controller.pair(target(setup.device), SETUP_CODE)
    device1, controller1 = setup.counting.totals()
    more_device, more_controller = allowance(setup, fired)
    try:
        assert conn.agent.authenticated
        assert 4 <= controller1 - controller0 <= 5 + more_controller
        assert 4 <= device1 - device0 <= 5 + more_device
    finally:
        await conn.close()
