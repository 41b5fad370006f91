"""The HAP-python accessory of bench/peers.py, in its own process; the peer that device_sdk's device
is compared with. Nothing of device_sdk is imported here.

Usage: python _peers_hap_accessory.py child STATE_DIR   (driven by JSON lines, see _peers_child.py)
       python _peers_hap_accessory.py serve STATE_DIR PORT   (serve until SIGTERM: the spawn measurement)

The accessory (no mDNS, 127.0.0.1, setup code 031-45-154, its state file in STATE_DIR) has what the
device of _peers_device.py has: a temperature sensor (CurrentTemperature 21.5), a light bulb (On, a
synchronous setter) and a second temperature sensor, "fast", that the benchmark publishes on (its
range widened and its step set to 1 with ``override_properties`` so that it carries a counter).
Events are published with ``immediate=True``: HAP-python otherwise holds them up to 0.5 s to
coalesce them. A target is ``{"port", "id", "name", "aid", "iids": {"temperature", "on", "fast"}}``.

Commands (child mode), as for _peers_device.py: ``fresh`` / ``drop`` (a second, unpaired accessory
with a fresh state file, for a pairing sample), ``burst`` and ``paced``. A burst publishes one event
per event-loop turn: the events queued for one characteristic within a turn go out as one (the
newest value), so more per turn would not deliver more.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from _peers_child import HOST, burst, command_loop, free_port, paced, until_terminated
from pyhap.accessory import Accessory
from pyhap.accessory_driver import AccessoryDriver
from pyhap.const import CATEGORY_SENSOR

PINCODE = "031-45-154"
FAST_RANGE = {"minValue": 0, "maxValue": 2**31, "minStep": 1}


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


class Child:
    def __init__(self, state: Path, main: BenchDriver) -> None:
        self.state = state
        self.main = main
        self.fresh: BenchDriver | None = None
        self.count = 0

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd["cmd"]
        if name == "fresh":
            await self._drop()
            self.count += 1
            self.fresh = await started(self.state / f"fresh{self.count}.state", f"Fresh {self.count}")
            return {"target": self.fresh.target()}
        if name == "drop":
            await self._drop()
            return {}
        base = float(cmd.get("base", 0))
        acc = self.main.accessory
        if name == "burst":
            return {"published": await burst(float(cmd["seconds"]), 1, lambda i: acc.publish_fast(base + i))}
        if name == "paced":
            times: list[float] = []

            def tick(i: int) -> None:
                times.append(time.perf_counter())
                acc.publish_fast(base + i)

            count = await paced(float(cmd["seconds"]), float(cmd["rate"]), tick)
            return {"published": count, "times": times}
        raise ValueError(f"unknown command {name!r}")

    async def _drop(self) -> None:
        if self.fresh is not None:
            await self.fresh.stop()
            self.fresh = None


async def child(state: Path) -> None:
    c = Child(state, await started(state / "main.state", "Bench"))
    try:
        await command_loop(c.main.target(), c.handle)
    finally:
        await c._drop()
        await c.main.stop()


async def serve(state: Path, port: int) -> None:
    driver = await started(state / "accessory.state", "Bench", port)
    try:
        await until_terminated()
    finally:
        await driver.stop()


def main() -> None:
    mode, state = sys.argv[1], Path(sys.argv[2])
    state.mkdir(parents=True, exist_ok=True)
    if mode == "child":
        asyncio.run(child(state))
    elif mode == "serve":
        asyncio.run(serve(state, int(sys.argv[3])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
