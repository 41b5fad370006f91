"""Controller API for applications that show devices (a dashboard, a hub): probing an unpaired device,
pairing with a record found a while ago, and waiting for a connection to end. Real mDNS and QUIC on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from device_sdk.controller import Controller, ControllerConfig, DeviceTarget
from device_sdk.device import Device, DeviceConfig
from device_sdk.errors import ConnectionClosed, PairingAborted

from ._cli_helpers import unique_name

pytestmark = pytest.mark.timeout(40)

LOOPBACK = ("127.0.0.1",)
CODE = 20202021


@pytest.fixture
async def device(tmp_path: Path) -> AsyncIterator[Device]:
    dev = Device(
        DeviceConfig(
            state_dir=tmp_path / "device",
            name=unique_name("Probe"),
            model="Soil sensor",
            host="127.0.0.1",
            interfaces=LOOPBACK,
            setup_code=CODE,
        )
    )
    await dev.start()
    yield dev
    await dev.stop()


@pytest.fixture
async def ctl(tmp_path: Path) -> AsyncIterator[Controller]:
    controller = Controller(ControllerConfig(state_dir=tmp_path / "ctl", name="Hub", interfaces=LOOPBACK))
    yield controller
    await controller.close()


async def test_probe_reads_an_unpaired_devices_agent_info_and_costs_no_attempt(device: Device, ctl: Controller) -> None:
    found = await ctl.find(device.name, timeout=10)
    info = await ctl.probe(found)
    assert (info.display_name, info.model_name) == (device.name, "Soil sensor")
    assert ctl.peers() == []  # nothing pinned
    assert device.window.failures_in_window == 0 and device.window.consecutive_failures == 0
    await asyncio.sleep(0.2)
    assert device.window.failures_in_window == 0  # the closed probe did not count as an attempt


async def test_pair_with_an_old_record_uses_the_token_the_device_advertises_now(
    device: Device, ctl: Controller
) -> None:
    old = await ctl.find(device.name, timeout=10)
    assert old.txt.at == device.window.token
    device.open_pairing_window("admin")  # a new window: a new auth-initiation token
    browser = await ctl.browser()
    async with asyncio.timeout(10):  # the device announces the new TXT; the browser takes it
        while next(d for d in browser.devices.values() if d.txt.fp == old.txt.fp).txt.at == old.txt.at:
            await asyncio.sleep(0.02)
    conn = await ctl.pair(old, CODE)  # the record the caller kept is stale: pair() must not use its token
    assert [p.name for p in ctl.peers()] == [device.name]
    assert device.window.consecutive_failures == 0
    await conn.close()


async def test_pair_with_a_replaced_token_tries_once_more_with_the_new_one(device: Device, tmp_path: Path) -> None:
    """A record whose token the device has replaced (an update this controller never heard) costs one
    counted attempt; pair() then waits for the token the device announces for that failure."""
    scout = Controller(ControllerConfig(state_dir=tmp_path / "scout", name="Scout", interfaces=LOOPBACK))
    try:
        old = await scout.find(device.name, timeout=10)
    finally:
        await scout.close()
    device.open_pairing_window("admin")  # a new window, a new token; no browser of `late` heard it
    late = Controller(ControllerConfig(state_dir=tmp_path / "late", name="Late", interfaces=LOOPBACK))
    try:
        conn = await late.pair(old, CODE)
        assert [p.name for p in late.peers()] == [device.name]
        assert device.window.failures_in_window == 1  # the first try counted, as any secret-unknown does
        assert device.window.consecutive_failures == 0  # and the success reset the run of failures
        await conn.close()
    finally:
        await late.close()


async def test_a_replaced_token_in_a_target_given_directly_is_an_error(device: Device, ctl: Controller) -> None:
    found = await ctl.find(device.name, timeout=10)
    target = DeviceTarget.from_discovered(found)
    device.open_pairing_window("admin")
    with pytest.raises(PairingAborted, match="pairing token has changed"):
        await ctl.pair(target, CODE)  # no discovery to take a newer token from: the caller decides
    assert device.window.failures_in_window == 1 and ctl.peers() == []


async def test_wait_closed_returns_how_the_connection_ended(device: Device, ctl: Controller) -> None:
    conn = await ctl.pair(await ctl.find(device.name, timeout=10), CODE)
    waiting = asyncio.ensure_future(conn.wait_closed())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await device.stop()
    error = await asyncio.wait_for(waiting, 5)
    assert isinstance(error, ConnectionClosed) and error.by_peer and error.code == 5139
    await device.start()  # the fixture stops it again


async def test_close_closes_the_connections_it_opened(device: Device, tmp_path: Path) -> None:
    ctl = Controller(ControllerConfig(state_dir=tmp_path / "own", name="Hub", interfaces=LOOPBACK))
    paired = await ctl.pair(await ctl.find(device.name, timeout=10), CODE)
    again = await ctl.connect(device.name)
    ended_early = await ctl.connect(device.name)
    await ended_early.close()
    async with asyncio.timeout(5):
        while len(device.connections) != 2:
            await asyncio.sleep(0.01)
    await ctl.close()  # the caller did not close paired nor again
    for conn in (paired, again):
        assert conn.closed
        error = await asyncio.wait_for(conn.wait_closed(), 5)
        assert not error.by_peer and error.code == 5139
    async with asyncio.timeout(5):  # the device saw them go (it does not wait for an idle timeout)
        while device.connections:
            await asyncio.sleep(0.01)
