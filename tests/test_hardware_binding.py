"""The sim board's parts become the device's channels, with the descriptors the catalog publishes."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_sdk.device import Device, DeviceConfig
from device_sdk.errors import ActuatorError, UnknownName

from ._channels_e2e import SETUP_CODE, next_within, pair


def test_sim_board_parts_become_catalog_channels(tmp_path: Path) -> None:
    device = Device(DeviceConfig(state_dir=tmp_path, name="Sim", board="sim", advertise=False))
    descriptors = {d["name"]: d for d in device.channels.catalog_frame()["channels"]}
    assert descriptors["temperature"] == {
        "name": "temperature",
        "kind": "sensor",
        "type": "float",
        "unit": "C",
        "min": 10.0,
        "max": 35.0,
        "rate_hz": 10.0,
        "description": "Room temperature (simulated: a slow drift around 21 C)",
    }
    assert (descriptors["led"]["kind"], descriptors["led"]["type"]) == ("actuator", "bool")
    assert descriptors["button"]["kind"] == "input"


async def test_device_code_drives_a_board_output_and_every_controller_is_told(tmp_path: Path) -> None:
    device = Device(
        DeviceConfig(
            state_dir=tmp_path / "device",
            name="Sim",
            board="sim",
            advertise=False,
            host="127.0.0.1",
            setup_code=SETUP_CODE,
        )
    )
    await device.start()
    try:
        assert device.hardware is not None
        conn = await pair(device, tmp_path, "Laptop")
        states = conn.actuator_states("led")
        assert (await next_within(states)).value is False
        assert device.hardware.set("led", True) is True  # device code, not a controller
        assert device.hardware.runtime.sinks["led"].state is True  # the pin
        assert (await next_within(states)).value is True  # the channel: the controller is told
        with pytest.raises(ActuatorError):
            device.hardware.set("led", "bright")
        with pytest.raises(UnknownName):
            device.hardware.set("temperature", 1.0)  # a sensor, not an output
        await states.aclose()
        await conn.close()
    finally:
        await device.stop()
