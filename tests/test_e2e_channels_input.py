"""Input channels end to end over real QUIC on loopback: the datagram path and the stream fallback.

Which path was used is observed on both sides: the device's :class:`InputSession.datagrams` and the
controller's :attr:`DeviceConnection.input_datagrams` counter (frames that arrived as QUIC datagrams).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from device_sdk.channels import Input, InputSession
from device_sdk.controller import DeviceConnection
from device_sdk.device import Device
from device_sdk.transport import TransportConfig

from ._channels_e2e import make_device, next_within, pair, wait_for_session

pytestmark = pytest.mark.timeout(15)

NO_DATAGRAMS = TransportConfig(datagrams=False)


def _session(device: Device) -> InputSession:
    (session,) = [s for s in device.channels.sessions if s.label == "gamepad"]
    assert isinstance(session, InputSession)
    return session


@pytest.fixture(params=["both-enable", "controller-disables", "device-disables"])
async def setup(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Device, DeviceConnection, bool]]:
    device_side = NO_DATAGRAMS if request.param == "device-disables" else None
    controller_side = NO_DATAGRAMS if request.param == "controller-disables" else None
    device = make_device(tmp_path, transport=device_side)
    device.input("gamepad", rate_hz=1000)
    await device.start()
    conn = await pair(device, tmp_path, "Pad", transport=controller_side)
    yield device, conn, request.param == "both-enable"
    await conn.close()
    await device.stop()


async def test_input_states_arrive_in_order_on_the_path_both_sides_allow(
    setup: tuple[Device, DeviceConnection, bool],
) -> None:
    device, conn, datagrams = setup
    pad = device.channels["gamepad"]
    assert isinstance(pad, Input)
    assert conn.datagrams_enabled is datagrams
    assert all(c.datagrams_enabled is datagrams for c in device.connections)
    pad.publish({"x": 0.0, "a": False})
    states = conn.input("gamepad")
    first = await next_within(states)
    assert first.value == {"x": 0.0, "a": False}
    assert _session(device).datagrams is datagrams
    for i in range(1, 31):
        published = pad.publish({"x": i / 30, "a": i % 2 == 0})
        state = await next_within(states)
        assert (state.seq, state.value) == (published.seq, published.value)
    if datagrams:
        assert conn.input_datagrams == 31  # every state, and none came on the stream as well
    else:
        assert conn.input_datagrams == 0
    await states.aclose()


async def test_a_burst_of_input_states_delivers_the_newest_without_a_backlog(
    setup: tuple[Device, DeviceConnection, bool],
) -> None:
    device, conn, datagrams = setup
    pad = device.channels["gamepad"]
    assert isinstance(pad, Input)
    pad.publish({"x": 0})
    states = conn.input("gamepad")
    await next_within(states)
    await wait_for_session(device, "gamepad")
    for i in range(1, 501):  # without yielding to the event loop: only the newest can leave
        last = pad.publish({"x": i})
    state = await next_within(states)
    assert state.seq == last.seq and state.value == {"x": 500}
    assert _session(device).superseded >= 498
    # nothing older follows the newest
    pad.publish({"x": 501})
    assert (await next_within(states)).value == {"x": 501}
    assert (conn.input_datagrams > 0) is datagrams
    await states.aclose()
