"""An admin renames a device: agent-info, the certificate label and the mDNS instance name follow."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from device_sdk.controller import Controller, ControllerConfig
from device_sdk.device import Device, DeviceConfig
from device_sdk.discovery import Browser

pytestmark = pytest.mark.timeout(40)

LOOPBACK = ("127.0.0.1",)


async def names_become(browser: Browser, fp: str, expected: set[str], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while {d.instance_name for d in browser.devices.values() if d.txt.fp == fp} != expected:
            await asyncio.sleep(0.05)


async def test_admin_rename_republishes_the_mdns_name(tmp_path: Path) -> None:
    device = Device(
        DeviceConfig(
            state_dir=tmp_path / "device",
            name="Hall Sensor",
            host="127.0.0.1",
            interfaces=LOOPBACK,
            setup_code=20202021,
        )
    )
    await device.start()
    try:
        async with Controller(ControllerConfig(state_dir=tmp_path / "ctl", name="Laptop", interfaces=LOOPBACK)) as ctl:
            browser = await ctl.browser()
            fp = device.fingerprint
            await names_become(browser, fp, {"Hall Sensor"})
            conn = await ctl.pair(await ctl.find("Hall Sensor"), 20202021)
            await conn.rename("Porch Sensor")
            assert (await conn.agent_info()).display_name == "Porch Sensor"
            # the old name is withdrawn with a goodbye, the new one probed and announced
            await names_become(browser, fp, {"Porch Sensor"})
            assert device.instance_name == "Porch Sensor" == device.identity.instance_name
            await conn.close()
            # the pinned device is found again under its new name
            again = await ctl.connect("Porch Sensor")
            assert (await again.agent_info()).display_name == "Porch Sensor"
            await again.close()
    finally:
        await device.stop()
