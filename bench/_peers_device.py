"""The device_sdk device of bench/peers.py, in its own process (as on its own board).

Usage: python _peers_device.py child STATE_DIR   (answers the device commands of _peers_sides.py)
       python _peers_device.py serve STATE_DIR PORT   (serves until SIGTERM: the spawn measurement)

The device (no mDNS, 127.0.0.1, setup code 20202021) has what the HAP accessory of
_peers_hap_accessory.py has: a ``temperature`` sensor (float, 21.5), an ``led`` actuator (bool, a
synchronous handler) and a ``fast`` sensor (float) that the benchmark publishes on, 16 readings per
event-loop turn in a burst (as bench/channels.py). A target (what a controller needs to reach a
device) is the path of the device's ready file.
"""

from __future__ import annotations

from pathlib import Path

from _peers_child import HOST, device_main, until_terminated
from _peers_sides import DeviceSide

from device_sdk.channels import Sensor
from device_sdk.device import Device, DeviceConfig

SETUP_CODE = 20202021


class BenchDevice:
    """A device with the benchmark's channels."""

    def __init__(self, state: Path, name: str, port: int = 0) -> None:
        self.ready_file = state / "ready.json"
        self.device = Device(
            DeviceConfig(
                state_dir=state / "device",
                name=name,
                advertise=False,
                host=HOST,
                port=port,
                setup_code=SETUP_CODE,
                ready_file=self.ready_file,
            )
        )
        self.temperature: Sensor = self.device.sensor("temperature", type="float", unit="C")
        self.device.actuator("led", type="bool", initial=False, handler=lambda on: on)
        self.fast: Sensor = self.device.sensor("fast", type="float")

    async def start(self) -> None:
        await self.device.start()
        self.temperature.publish(21.5)
        self.fast.publish(-1.0)

    async def stop(self) -> None:
        await self.device.stop()


class Side(DeviceSide[BenchDevice]):
    per_turn = 16

    def __init__(self, state: Path, main: BenchDevice) -> None:
        super().__init__(state)
        self.main = main

    async def start_fresh(self, state: Path, name: str) -> tuple[BenchDevice, str]:
        device = BenchDevice(state, name)
        await device.start()
        return device, str(device.ready_file)

    async def stop_fresh(self, device: BenchDevice) -> None:
        await device.stop()

    async def stop_main(self) -> None:
        await self.main.stop()

    def publish(self, value: float) -> None:
        self.main.fast.publish(value)


async def child(state: Path) -> None:
    main = BenchDevice(state / "main", "Bench")
    await main.start()
    await Side(state, main).serve(str(main.ready_file))


async def serve(state: Path, port: int) -> None:
    device = BenchDevice(state, "Bench", port)
    await device.start()
    try:
        await until_terminated()
    finally:
        await device.stop()


if __name__ == "__main__":
    device_main(__doc__ or "", child, serve)
