"""Controller.find / find_for_code over real mDNS on loopback: refuse to guess between two matching devices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from device_sdk.controller import Controller, ControllerConfig
from device_sdk.device import Device, DeviceConfig
from device_sdk.errors import AmbiguousDevice
from device_sdk.pairing.setup_code import SetupPayload, encode_manual, encode_qr

pytestmark = pytest.mark.timeout(40)

LOOPBACK = ("127.0.0.1",)


def device(tmp_path: Path, name: str, discriminator: int, passcode: int) -> Device:
    return Device(
        DeviceConfig(
            state_dir=tmp_path / name,
            name=name,
            host="127.0.0.1",
            interfaces=LOOPBACK,
            setup_code=passcode,
            discriminator=discriminator,
            open_window=True,
        )
    )


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def controller(stack: AsyncExitStack, tmp_path: Path) -> Controller:
    ctl = Controller(ControllerConfig(state_dir=tmp_path / "ctl", name="Laptop", interfaces=LOOPBACK))
    stack.push_async_callback(ctl.close)
    return ctl


async def start(stack: AsyncExitStack, dev: Device) -> Device:
    await dev.start()
    stack.push_async_callback(dev.stop)
    return dev


async def test_two_open_devices_with_the_codes_discriminator_are_refused(tmp_path: Path, stack: AsyncExitStack) -> None:
    # Same long discriminator (a real device and an impostor that copied its TXT `d`).
    await start(stack, device(tmp_path, "Plug", 3001, 20202021))
    await start(stack, device(tmp_path, "Plug Copy", 3001, 34567890))
    ctl = await controller(stack, tmp_path)
    # Settling after the first answer is best effort (1 s); under CI load let the browser see both first.
    browser = await ctl.browser()
    async with asyncio.timeout(10):
        while not {"Plug", "Plug Copy"} <= {d.display_name for d in browser.devices.values()}:
            await asyncio.sleep(0.05)
    qr = encode_qr(SetupPayload(passcode=20202021, discriminator=3001))
    with pytest.raises(AmbiguousDevice) as info:
        await ctl.find_for_code(qr, timeout=10)
    assert [d.display_name for d in info.value.candidates] == ["Plug", "Plug Copy"]
    # Naming the device by its discriminator is just as ambiguous.
    with pytest.raises(AmbiguousDevice):
        await ctl.find("3001", timeout=5)


async def test_one_match_among_several_devices_is_found(tmp_path: Path, stack: AsyncExitStack) -> None:
    await start(stack, device(tmp_path, "Plug", 3002, 20202021))
    other = await start(stack, device(tmp_path, "Lamp", 1234, 34567890))
    ctl = await controller(stack, tmp_path)
    manual = encode_manual(SetupPayload(passcode=34567890, discriminator=1234))
    found = await ctl.find_for_code(manual, timeout=10)
    assert found.txt.fp == other.txt_record().fp
    # A name is unique on the link: found at once, no settling.
    assert (await ctl.find("Plug", timeout=5)).display_name == "Plug"
