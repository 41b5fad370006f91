"""End to end over real QUIC on loopback: a Device and a Controller pair, reconnect, use channels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from device_sdk.channels import Sensor
from device_sdk.controller import Controller, ControllerConfig, DeviceTarget
from device_sdk.device import Device, DeviceConfig, Paired, PairingFailed
from device_sdk.errors import (
    ChannelError,
    ConnectionClosed,
    InvalidSetupCode,
    LockedOut,
    PairingAborted,
    PairingWindowClosed,
    WrongSetupCode,
)
from device_sdk.pairing.window import MAX_FAILURES_PER_WINDOW, PairingMode

pytestmark = pytest.mark.timeout(60)


def target(device: Device) -> DeviceTarget:
    record = device.txt_record()
    return DeviceTarget(
        name=device.instance_name,
        addresses=("127.0.0.1",),
        port=device.port,
        fingerprint=device.identity.fingerprint,
        sn=record.sn,
        token=record.at,
        discriminator=record.d,
    )


@pytest.fixture
async def device(tmp_path: Path) -> AsyncIterator[Device]:
    dev = Device(
        DeviceConfig(
            state_dir=tmp_path / "device",
            name="Thermo",
            advertise=False,
            host="127.0.0.1",
            setup_code=20202021,
        )
    )
    temp = dev.sensor("temperature", type="float", unit="C", rate_hz=10)
    state = {"led": False}

    def set_led(value: object) -> object:
        state["led"] = bool(value)
        return state["led"]

    dev.actuator("led", type="bool", initial=False, handler=set_led)
    await dev.start()
    temp.publish(21.5)
    yield dev
    await dev.stop()


def local_device(tmp_path: Path, name: str, mode: PairingMode) -> Device:
    """A device on loopback, not advertised, in pairing ``mode``."""
    return Device(
        DeviceConfig(state_dir=tmp_path / "d", name=name, advertise=False, host="127.0.0.1", pairing_mode=mode)
    )


def controller(tmp_path: Path, name: str = "Laptop") -> Controller:
    return Controller(ControllerConfig(state_dir=tmp_path / name, name=name))


async def test_pair_by_sticker_code_then_stream_and_set(tmp_path: Path, device: Device) -> None:
    ctl = controller(tmp_path)
    conn = await ctl.pair(target(device), "20202021")
    assert device.trust.is_trusted(ctl.identity.fingerprint)
    assert device.trust.get(ctl.identity.fingerprint).role == "admin"  # type: ignore[union-attr]
    assert ctl.pins.get(device.identity.fingerprint) is not None
    catalog = await conn.catalog()
    assert {c.name for c in catalog.channels} >= {"temperature", "led"}
    readings = conn.subscribe("temperature")
    first = await asyncio.wait_for(readings.__anext__(), 5)
    assert first.value == 21.5
    sensor = device.channels["temperature"]
    assert isinstance(sensor, Sensor)
    sensor.publish(22.0)
    second = await asyncio.wait_for(readings.__anext__(), 5)
    assert second.value == 22.0 and second.seq > first.seq
    await readings.aclose()
    assert await conn.set("led", True) is True
    await conn.close()

    # the window closed on success; a paired controller reconnects without authenticating again
    assert not device.window.is_open
    again = await ctl.connect(target(device))
    assert await again.set("led", False) is False
    await again.close()


async def test_the_paired_event_names_the_controller(tmp_path: Path, device: Device) -> None:
    events: asyncio.Queue[Paired] = asyncio.Queue()
    device.subscribe(lambda ev: events.put_nowait(ev) if isinstance(ev, Paired) else None)
    ctl = controller(tmp_path, "Kitchen Tablet")
    conn = await ctl.pair(target(device), "20202021")
    paired = await asyncio.wait_for(events.get(), 5)  # after the device asked the controller's agent-info
    assert (paired.name, paired.role) == ("Kitchen Tablet", "admin")
    assert paired.fingerprint == ctl.identity.fingerprint_text
    assert device.trust.get(ctl.identity.fingerprint).name == "Kitchen Tablet"  # type: ignore[union-attr]
    await conn.close()


async def test_wrong_code_fails_then_right_code_works(tmp_path: Path, device: Device) -> None:
    ctl = controller(tmp_path)
    assert device.spake2_shares.ready  # prepared at start
    with pytest.raises(WrongSetupCode):
        await ctl.pair(target(device), "20202022")
    assert device.window.consecutive_failures == 1
    async with asyncio.timeout(5):  # the next attempt's share is prepared between attempts
        while not device.spake2_shares.ready:
            await asyncio.sleep(0.01)
    conn = await ctl.pair(target(device), "MT:Y.K90AFN00KA0648G00")
    await conn.close()


async def test_window_closed_gives_403(tmp_path: Path, device: Device) -> None:
    first = controller(tmp_path, "First")
    await (await first.pair(target(device), "20202021")).close()
    second = controller(tmp_path, "Second")
    with pytest.raises(PairingWindowClosed):
        await second.pair(target(device), "20202021")


async def test_twenty_failures_close_the_window_then_the_right_code_is_refused(tmp_path: Path) -> None:
    now = [1_800_000_000.0]  # the device's clock: jumped over each lockout instead of sleeping
    dev = Device(
        DeviceConfig(state_dir=tmp_path / "d", name="Lock", advertise=False, host="127.0.0.1", setup_code=20202021),
        clock=lambda: now[0],
    )
    await dev.start()
    try:
        ctl = controller(tmp_path)
        for attempt in range(1, MAX_FAILURES_PER_WINDOW + 1):
            locked_until = dev.window.locked_until
            if locked_until is not None:
                with pytest.raises(LockedOut):  # still locked: refused, and not counted
                    await ctl.pair(target(dev), "20202022")
                now[0] = locked_until + 0.5
            with pytest.raises(WrongSetupCode):
                await ctl.pair(target(dev), "20202022")
            assert dev.window.failures_in_window == attempt
        assert not dev.window.is_open
        with pytest.raises(PairingWindowClosed):
            await ctl.pair(target(dev), "20202021")
    finally:
        await dev.stop()


async def test_unpaired_client_knowing_fp_gets_only_agent_info(tmp_path: Path, device: Device) -> None:
    ctl = controller(tmp_path)
    ctl.pins.add(device.identity.fingerprint, "Thermo", now=0.0)  # pins it without pairing
    conn = await ctl.connect(target(device))
    info = await conn.agent_info()
    assert info.display_name == "Thermo"
    with pytest.raises(ChannelError):
        await conn.catalog()
    error = await asyncio.wait_for(conn.agent.wait_closed(), 5)
    assert isinstance(error, ConnectionClosed) and error.code == 401


async def test_button_mode_pairs_with_psk_zero(tmp_path: Path) -> None:
    dev = local_device(tmp_path, "Plug", PairingMode.BUTTON)
    await dev.start()
    try:
        dev.open_pairing_window("button")
        conn = await controller(tmp_path).pair(target(dev), 0)
        await conn.close()
    finally:
        await dev.stop()


async def test_display_mode_pairs_with_the_shown_pin(tmp_path: Path) -> None:
    from device_sdk.device.events import PinShown

    dev = local_device(tmp_path, "Screen", PairingMode.DISPLAY)
    shown: asyncio.Queue[str] = asyncio.Queue()
    dev.subscribe(lambda ev: shown.put_nowait(ev.text) if isinstance(ev, PinShown) else None)
    await dev.start()
    try:

        async def ask() -> str:
            return await shown.get()

        conn = await controller(tmp_path).pair(target(dev), None, ask_pin=ask)
        await conn.close()
    finally:
        await dev.stop()


async def test_display_mode_unreadable_pin_ends_the_attempt_at_once(tmp_path: Path) -> None:
    dev = local_device(tmp_path, "Screen", PairingMode.DISPLAY)
    failed = asyncio.Event()
    dev.subscribe(lambda ev: failed.set() if isinstance(ev, PairingFailed) else None)
    await dev.start()
    try:

        async def typo() -> str:
            return "12a-456"

        async def closed_stdin() -> str:
            raise EOFError("stdin closed")

        async with asyncio.timeout(10):  # not the 60 s PSK timeout
            with pytest.raises(InvalidSetupCode):
                await controller(tmp_path, "A").pair(target(dev), None, ask_pin=typo)
            await failed.wait()  # the device has ended that attempt (and rotated `at`)
            dev.open_pairing_window("admin")
            with pytest.raises(PairingAborted, match="stdin closed"):
                await controller(tmp_path, "B").pair(target(dev), None, ask_pin=closed_stdin)
    finally:
        await dev.stop()


async def test_admin_lists_peers_and_reopens_the_window(tmp_path: Path, device: Device) -> None:
    ctl = controller(tmp_path)
    conn = await ctl.pair(target(device), "20202021")
    peers = await conn.list_peers()
    assert [p.fp for p in peers] == [ctl.identity.fingerprint_text]
    assert peers[0].role == "admin"
    assert not device.window.is_open
    await conn.open_pairing_window(300)
    assert device.window.is_open
    await conn.close()
