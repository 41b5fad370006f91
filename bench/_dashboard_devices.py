"""The devices of bench/dashboard.py, run as a child process: COUNT Devices advertised over mDNS on
loopback (one shared AsyncZeroconf), each with a sensor ``bench`` (int) and a sensor ``level`` (float).

Usage: python _dashboard_devices.py COUNT STATE_DIR

Driven by JSON lines on stdin, answered by JSON lines on stdout (the first is ``{"ready": [{name, fp}...]}``):

* ``{"cmd": "publish", "device": i, "rate", "seconds"}``: device ``i`` publishes 0, 1, 2... on ``bench``
  at ``rate`` Hz; the answer's ``published`` lists the Unix time (``time.time()``) of each publication;
* ``{"cmd": "load", "rate", "seconds"}``: every device publishes on ``level`` at ``rate`` Hz at once;
* ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from _channels_peer import answer, paced, serve_commands
from zeroconf.asyncio import AsyncZeroconf

from device_sdk import Device, DeviceConfig
from device_sdk.channels import Sensor
from device_sdk.discovery import resolve_interfaces

LOOPBACK = ("127.0.0.1",)
SETUP_CODE = 20202021


class Devices:
    def __init__(self, state: Path, count: int) -> None:
        interfaces = resolve_interfaces(LOOPBACK)
        self.zeroconf = AsyncZeroconf(interfaces=list(interfaces.zeroconf_interfaces), ip_version=interfaces.ip_version)
        self.devices: list[Device] = []
        self.bench: list[Sensor] = []
        self.level: list[Sensor] = []
        for i in range(count):
            device = Device(
                DeviceConfig(
                    state_dir=state / f"device{i}",
                    name=f"Bench {os.getpid()} {i}",
                    host="127.0.0.1",
                    interfaces=LOOPBACK,
                    setup_code=SETUP_CODE,
                ),
                zeroconf=self.zeroconf,
            )
            self.devices.append(device)
            self.bench.append(device.sensor("bench", type="int", rate_hz=1000))
            self.level.append(device.sensor("level", type="float", unit="dB", rate_hz=100))

    async def start(self) -> dict[str, Any]:
        for device, bench, level in zip(self.devices, self.bench, self.level, strict=True):
            await device.start()
            bench.publish(-1)
            level.publish(0.0)
        return {"ready": [{"name": d.instance_name, "fp": d.fingerprint} for d in self.devices]}

    async def run(self, cmd: dict[str, Any]) -> dict[str, Any]:
        seconds, rate = float(cmd.get("seconds", 1.0)), float(cmd.get("rate", 10.0))
        if cmd["cmd"] == "publish":
            sensor = self.bench[int(cmd["device"])]
            stamps: list[float] = []

            def tick(i: int) -> None:
                stamps.append(time.time())
                sensor.publish(i)

            await paced(seconds, rate, tick)
            return {"published": stamps}
        if cmd["cmd"] == "load":
            counts = await asyncio.gather(
                *(paced(seconds, rate, lambda i, s=sensor: s.publish(40.0 + (i % 20))) for sensor in self.level)
            )
            return {"published": sum(counts)}
        raise ValueError(f"unknown command {cmd['cmd']!r}")

    async def stop(self) -> None:
        for device in self.devices:
            await device.stop()
        await self.zeroconf.async_close()


async def main(state: Path, count: int) -> None:
    devices = Devices(state, count)
    answer(await devices.start())
    try:
        await serve_commands(devices.run)
    finally:
        await devices.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[2]), int(sys.argv[1])))
