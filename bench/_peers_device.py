"""The device_sdk device of bench/peers.py, in its own process (as on its own board).

Usage: python _peers_device.py child STATE_DIR   (driven by JSON lines, see _peers_child.py)
       python _peers_device.py serve STATE_DIR PORT   (serve until SIGTERM: the spawn measurement)

The device (no mDNS, 127.0.0.1, setup code 20202021) has what the HAP accessory of
_peers_hap_accessory.py has: a ``temperature`` sensor (float, 21.5), an ``led`` actuator (bool, a
synchronous handler) and a ``fast`` sensor (float) that the benchmark publishes on. A target (what a
controller needs to reach a device) is the path of the device's ready file.

Commands (child mode); ``base`` offsets the values published so that a run's are told from older ones:

* ``{"cmd": "fresh"}`` starts a second, unpaired device with a fresh state directory (a pairing
  sample); ``{"cmd": "drop"}`` stops it. Answer: ``{"target": READY_FILE}``.
* ``{"cmd": "burst", "seconds", "per_turn", "base"}`` publishes ``base + i`` on ``fast``, ``per_turn``
  readings per event-loop turn, for ``seconds``. Answer: ``{"published": n}``.
* ``{"cmd": "paced", "seconds", "rate", "base"}`` publishes ``base + i`` on ``fast`` at ``rate`` Hz.
  Answer: ``{"published": n, "times": [time.perf_counter() at each publish]}`` (CLOCK_MONOTONIC,
  comparable across processes).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from _peers_child import HOST, burst, command_loop, paced, until_terminated

from device_sdk.channels import Sensor
from device_sdk.config import DeviceConfig
from device_sdk.device import Device

SETUP_CODE = 20202021
PER_TURN = 16


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


class Child:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.main = BenchDevice(state / "main", "Bench")
        self.fresh: BenchDevice | None = None
        self.count = 0

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd["cmd"]
        if name == "fresh":
            await self._drop()
            self.count += 1
            self.fresh = BenchDevice(self.state / f"fresh{self.count}", f"Fresh {self.count}")
            await self.fresh.start()
            return {"target": str(self.fresh.ready_file)}
        if name == "drop":
            await self._drop()
            return {}
        base = float(cmd.get("base", 0))
        fast = self.main.fast
        if name == "burst":
            per_turn = int(cmd.get("per_turn", PER_TURN))
            return {"published": await burst(float(cmd["seconds"]), per_turn, lambda i: fast.publish(base + i))}
        if name == "paced":
            times: list[float] = []

            def tick(i: int) -> None:
                times.append(time.perf_counter())
                fast.publish(base + i)

            count = await paced(float(cmd["seconds"]), float(cmd["rate"]), tick)
            return {"published": count, "times": times}
        raise ValueError(f"unknown command {name!r}")

    async def _drop(self) -> None:
        if self.fresh is not None:
            await self.fresh.device.stop()
            self.fresh = None


async def child(state: Path) -> None:
    c = Child(state)
    await c.main.start()
    try:
        await command_loop(str(c.main.ready_file), c.handle)
    finally:
        await c._drop()
        await c.main.device.stop()


async def serve(state: Path, port: int) -> None:
    device = BenchDevice(state, "Bench", port)
    await device.start()
    try:
        await until_terminated()
    finally:
        await device.device.stop()


def main() -> None:
    mode, state = sys.argv[1], Path(sys.argv[2])
    if mode == "child":
        asyncio.run(child(state))
    elif mode == "serve":
        asyncio.run(serve(state, int(sys.argv[3])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
