"""Controller.connections: a new connection whenever the last is lost, the device found again over mDNS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from device_sdk.channels import Sensor
from device_sdk.controller import Controller, ControllerConfig, DeviceTarget, ReconnectPolicy
from device_sdk.device import Device, DeviceConfig
from device_sdk.errors import ChannelError, ConfigError, FingerprintMismatch

pytestmark = pytest.mark.timeout(40)

LOOPBACK = ("127.0.0.1",)
FAST = ReconnectPolicy(first_delay_s=0.05, max_delay_s=0.4)


def make_device(state_dir: Path, *, advertise: bool = True) -> Device:
    device = Device(
        DeviceConfig(
            state_dir=state_dir,
            name="Thermo",
            host="127.0.0.1",
            interfaces=LOOPBACK,
            advertise=advertise,
            setup_code=20202021,
        )
    )
    device.sensor("temperature", type="float", unit="C", rate_hz=10)
    return device


def target(device: Device) -> DeviceTarget:
    record = device.txt_record()
    return DeviceTarget(
        name=device.instance_name,
        addresses=LOOPBACK,
        port=device.port,
        fingerprint=device.identity.fingerprint,
        sn=record.sn,
        token=record.at,
    )


def publish(device: Device, value: float) -> None:
    sensor = device.channels["temperature"]
    assert isinstance(sensor, Sensor)
    sensor.publish(value)


def test_policy_delays_grow_to_the_cap() -> None:
    delays = ReconnectPolicy(first_delay_s=0.5, max_delay_s=3.0).delays()
    assert [next(delays) for _ in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    with pytest.raises(ConfigError):
        ReconnectPolicy(first_delay_s=0)
    with pytest.raises(ConfigError):
        ReconnectPolicy(first_delay_s=2, max_delay_s=1)
    with pytest.raises(ConfigError):
        ReconnectPolicy(factor=0.5)


async def test_a_restarted_device_on_a_new_port_is_found_and_used_again(tmp_path: Path) -> None:
    device = make_device(tmp_path / "device")
    await device.start()
    ctl = Controller(ControllerConfig(state_dir=tmp_path / "ctl", name="Laptop", interfaces=LOOPBACK))
    try:
        await (await ctl.pair(await ctl.find("Thermo"), 20202021)).close()
        stream = ctl.connections("Thermo", FAST)
        first = await anext(stream)
        readings = first.subscribe("temperature")
        publish(device, 21.0)
        assert (await asyncio.wait_for(anext(readings), 5)).value == 21.0
        old_port = device.port

        await device.stop()  # the device goes away (goodbye over mDNS) ...
        with pytest.raises(ChannelError):
            await asyncio.wait_for(anext(readings), 5)
        device = make_device(tmp_path / "device")  # ... and comes back, same identity, another port
        await device.start()
        assert device.port != old_port

        second = await asyncio.wait_for(anext(stream), 15)
        assert second is not first and first.closed and not second.closed
        assert second.agent.peer_address == ("127.0.0.1", device.port)
        readings = second.subscribe("temperature")
        publish(device, 22.5)
        assert (await asyncio.wait_for(anext(readings), 5)).value == 22.5
        await stream.aclose()
        assert second.closed  # leaving the loop closes the current connection
    finally:
        await ctl.close()
        await device.stop()


async def test_asking_for_the_next_connection_closes_the_current_one(tmp_path: Path) -> None:
    device = make_device(tmp_path / "device", advertise=False)
    await device.start()
    ctl = Controller(ControllerConfig(state_dir=tmp_path / "ctl", name="Laptop"))
    try:
        await (await ctl.pair(target(device), 20202021)).close()
        stream = ctl.connections(target(device), FAST)
        first = await anext(stream)
        second = await anext(stream)
        assert first.closed and not second.closed
        assert await second.agent_info()
        await stream.aclose()
    finally:
        await device.stop()


async def test_another_device_at_the_address_is_never_retried(tmp_path: Path) -> None:
    paired, other = make_device(tmp_path / "a", advertise=False), make_device(tmp_path / "b", advertise=False)
    await paired.start()
    await other.start()
    ctl = Controller(ControllerConfig(state_dir=tmp_path / "ctl", name="Laptop"))
    try:
        await (await ctl.pair(target(paired), 20202021)).close()
        wrong_place = DeviceTarget(
            name="Thermo", addresses=LOOPBACK, port=other.port, fingerprint=paired.identity.fingerprint, sn="01"
        )
        with pytest.raises(FingerprintMismatch):
            await asyncio.wait_for(anext(ctl.connections(wrong_place, FAST)), 10)
    finally:
        await paired.stop()
        await other.stop()
