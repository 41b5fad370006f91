"""The sim board's parts become the device's channels, with the descriptors the catalog publishes."""

from __future__ import annotations

from pathlib import Path

from device_sdk.device import Device, DeviceConfig


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
