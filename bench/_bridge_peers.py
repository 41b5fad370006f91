"""Child processes of bench/bridge.py.

Usage: python _bridge_peers.py devices ROOT PREFIX COUNT RATE
       python _bridge_peers.py controller STATE_DIR BROKER_PORT

devices: COUNT Devices in this process (one shared AsyncZeroconf on lo, QUIC on 127.0.0.1), each with a
float sensor ``value`` that publishes ``time.time()`` RATE times a second. Prints ``{"ready": [ready
files]}`` once all serve, then answers ``{"cmd": "window", "start", "end"}`` after ``end`` with how
many readings each device published with a time inside the window.

controller: the baseline, a naive bridge: a Controller that connects to every device paired in STATE_DIR,
subscribes to ``value`` and publishes each reading (QoS 0, awaited one by one) on
``baseline/<n>/value/state`` of the broker at 127.0.0.1:BROKER_PORT. Nothing else: no discovery, no
availability, no commands. Prints ``{"ready": n}`` and runs until ``{"cmd": "stop"}``.

Both read one JSON command per line on stdin and write one JSON answer per line on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
from zeroconf.asyncio import AsyncZeroconf

from device_sdk import Controller, ControllerConfig, Device, DeviceConfig
from device_sdk.discovery.interfaces import resolve_interfaces

SETUP_CODE = 20202021


def answer(value: Any) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def commands() -> AsyncIterator[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        yield json.loads(line)


async def run_devices(root: Path, prefix: str, count: int, rate: float) -> None:
    resolved = resolve_interfaces(("lo",))
    azc = AsyncZeroconf(interfaces=list(resolved.zeroconf_interfaces), ip_version=resolved.ip_version)
    devices: list[Device] = []
    published: list[list[float]] = []
    for i in range(count):
        name = f"{prefix}{i:02d}"
        device = Device(
            DeviceConfig(
                state_dir=root / name,
                name=name,
                host="127.0.0.1",
                interfaces=("lo",),
                setup_code=SETUP_CODE,
                ready_file=root / f"{name}.ready.json",
            ),
            zeroconf=azc,
        )
        device.sensor("value", type="float", rate_hz=rate)
        devices.append(device)
        published.append([])
    await asyncio.gather(*(d.start() for d in devices))

    async def publish(index: int) -> None:
        sensor = devices[index].channels["value"]
        period = 1.0 / rate
        next_at = time.monotonic() + period * index / count  # spread the devices over a period
        while True:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            now = time.time()
            sensor.publish(now)  # type: ignore[union-attr]
            published[index].append(now)
            if len(published[index]) > 10 * 60 * rate:
                del published[index][: int(60 * rate)]
            next_at += period

    tasks = [asyncio.create_task(publish(i)) for i in range(count)]
    answer({"ready": [str(root / f"{d.name}.ready.json") for d in devices]})
    async for command in commands():
        if command["cmd"] == "window":
            await asyncio.sleep(max(0.0, command["end"] - time.time()) + 0.2)
            start, end = command["start"], command["end"]
            answer({"published": [sum(1 for t in times if start <= t <= end) for times in published]})
        elif command["cmd"] == "stop":
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(d.stop() for d in devices), return_exceptions=True)
    await azc.async_close()


async def run_controller(state_dir: Path, broker_port: int) -> None:
    """The naive bridge: every reading of every device straight to the broker, nothing else."""
    async with (
        Controller(ControllerConfig(state_dir=state_dir, interfaces=("lo",))) as controller,
        aiomqtt.Client("127.0.0.1", broker_port, identifier="bench-baseline") as client,
    ):
        client.pending_calls_threshold = 1_000_000

        async def follow(index: int, pinned: Any) -> None:
            topic = f"baseline/{index}/value/state"
            async for conn in controller.connections(pinned):
                try:
                    async for reading in conn.subscribe("value"):
                        await client.publish(topic, json.dumps(reading.value))
                except Exception:  # the connection was lost: the next one comes
                    continue

        tasks = [asyncio.create_task(follow(i, p)) for i, p in enumerate(controller.peers())]
        answer({"ready": len(tasks)})
        async for command in commands():
            if command["cmd"] == "stop":
                break
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    role = sys.argv[1]
    if role == "devices":
        asyncio.run(run_devices(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
    else:
        asyncio.run(run_controller(Path(sys.argv[2]), int(sys.argv[3])))


if __name__ == "__main__":
    main()
