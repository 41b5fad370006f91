"""The HAP-python accessory of bench/peers.py, in its own process; the peer that device_sdk's device
is compared with. Nothing of device_sdk is imported here.

Usage: python _peers_hap_accessory.py child STATE_DIR   (answers the device commands of _peers_sides.py)
       python _peers_hap_accessory.py serve STATE_DIR PORT   (serves until SIGTERM: the spawn measurement)

The accessory (no mDNS, 127.0.0.1, setup code 031-45-154, its state file in STATE_DIR) has what the
device of _peers_device.py has: a temperature sensor (CurrentTemperature 21.5), a light bulb (On, a
synchronous setter) and a second temperature sensor, "fast", that the benchmark publishes on (its
range widened and its step set to 1 with ``override_properties`` so that it carries a counter).
Events are published with ``immediate=True``: HAP-python otherwise holds them up to 0.5 s to
coalesce them. A burst publishes one event per event-loop turn: the events queued for one
characteristic within a turn go out as one (the newest value), so more per turn would not deliver
more. A target is ``{"port", "id", "name", "aid", "iids": {"temperature", "on", "fast"}}``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from _peers_child import HOST, device_main, free_port, until_terminated
from _peers_sides import DeviceSide
from pyhap.accessory import Accessory
from pyhap.accessory_driver import AccessoryDriver
from pyhap.const import CATEGORY_SENSOR

PINCODE = "031-45-154"
FAST_RANGE = {"minValue": 0, "maxValue": 2**52, "minStep": 1}  # whole numbers, exact in a float


class BenchAccessory(Accessory):  # type: ignore[misc]  # pyhap is untyped
    category = CATEGORY_SENSOR

    def __init__(self, driver: AccessoryDriver, name: str) -> None:
        super().__init__(driver, name)
        self.temperature = self.add_preload_service("TemperatureSensor").configure_char(
            "CurrentTemperature", value=21.5
        )
        self.on = self.add_preload_service("Lightbulb").configure_char("On", value=False, setter_callback=self._set_on)
        self.fast = self.add_preload_service("TemperatureSensor").configure_char(
            "CurrentTemperature", properties=FAST_RANGE
        )

    def _set_on(self, value: bool) -> None:
        """What the device's ``led`` handler does: accept the value."""

    def setup_message(self) -> None:
        """Print no setup code (HAP-python prints it to stdout by default)."""

    def publish_fast(self, value: float) -> None:
        self.fast.set_value(value, should_notify=False)
        self.publish(self.fast.value, self.fast, immediate=True)

    def iid(self, char: Any) -> int:
        return int(self.iid_manager.get_iid(char))


class BenchDriver:
    """An AccessoryDriver on this event loop serving a :class:`BenchAccessory`."""

    def __init__(self, state_file: Path, name: str, port: int) -> None:
        self.driver = AccessoryDriver(
            loop=asyncio.get_running_loop(),
            address=HOST,
            port=port,
            persist_file=str(state_file),
            pincode=PINCODE.encode(),
            advertise=False,
        )
        self.accessory = BenchAccessory(self.driver, name)
        self.driver.add_accessory(self.accessory)
        self.port = port
        self.name = name

    async def start(self) -> None:
        await self.driver.async_start()

    async def stop(self) -> None:
        await self.driver.async_stop()

    def target(self) -> dict[str, Any]:
        acc = self.accessory
        return {
            "port": self.port,
            "id": self.driver.state.mac,
            "name": self.name,
            "aid": acc.aid,
            "iids": {"temperature": acc.iid(acc.temperature), "on": acc.iid(acc.on), "fast": acc.iid(acc.fast)},
        }


async def started(state_file: Path, name: str, port: int | None = None) -> BenchDriver:
    """A started driver; without ``port``, on a free one (tried again if another process took it)."""
    for _ in range(5):
        driver = BenchDriver(state_file, name, port or free_port())
        try:
            await driver.start()
            return driver
        except OSError:
            if port is not None:
                raise
    raise RuntimeError("no free TCP port found")


class Side(DeviceSide[BenchDriver]):
    def __init__(self, state: Path, main: BenchDriver) -> None:
        super().__init__(state)
        self.main = main

    async def start_fresh(self, state: Path, name: str) -> tuple[BenchDriver, dict[str, Any]]:
        driver = await started(state.with_suffix(".state"), name)
        return driver, driver.target()

    async def stop_fresh(self, device: BenchDriver) -> None:
        await device.stop()

    async def stop_main(self) -> None:
        await self.main.stop()

    def publish(self, value: float) -> None:
        self.main.accessory.publish_fast(value)


async def child(state: Path) -> None:
    main = await started(state / "main.state", "Bench")
    await Side(state, main).serve(main.target())


async def serve(state: Path, port: int) -> None:
    driver = await started(state / "accessory.state", "Bench", port)
    try:
        await until_terminated()
    finally:
        await driver.stop()


if __name__ == "__main__":
    device_main(__doc__ or "", child, serve)
