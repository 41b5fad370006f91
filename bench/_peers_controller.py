"""The device_sdk controller of bench/peers.py, in its own process (as on another machine).

Usage: python _peers_controller.py child STATE_DIR   (answers the controller commands of _peers_sides.py)

Targets are the ready-file paths that _peers_device.py answers (``DeviceTarget.from_ready_file``).
A pairing is ``Controller.pair()`` until it returns (the device has committed), by a new controller
whose identity is made before the clock starts; a reconnect is ``Controller.connect()``; the first
reading is the first item of ``subscribe("temperature")`` (the current value); a set is
``set("led", ...)``; listening is ``subscribe("fast", min_interval_ms=0)``. UDP datagrams are counted
by :class:`tests._datagrams.DatagramCounter` (the one tests/test_flights.py uses).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _peers_child import HOST
from _peers_sides import Arrivals, ControllerSide

from device_sdk.channels import Reading
from device_sdk.controller import Controller, ControllerConfig, DeviceConnection, DeviceTarget
from tests._datagrams import DatagramCounter

SETUP_CODE = 20202021


class Side(ControllerSide):
    def __init__(self, state: Path, counter: DatagramCounter) -> None:
        super().__init__()
        self.state = state
        self.counter = counter
        self.ctl = Controller(ControllerConfig(state_dir=state / "main", name="Bench"))
        self.target: DeviceTarget | None = None
        self.conn: DeviceConnection | None = None
        self.readings: AsyncGenerator[Reading, None] | None = None
        self.listener: asyncio.Task[None] | None = None
        self.count = 0

    @property
    def connection(self) -> DeviceConnection:
        assert self.conn is not None, "pair_main first"
        return self.conn

    async def pair_main(self, target: Any) -> None:
        self.target = DeviceTarget.from_ready_file(Path(target), HOST)
        self.conn = await self.ctl.pair(self.target, SETUP_CODE)

    async def prepare_pairing(self, target: Any) -> tuple[Controller, DeviceTarget]:
        self.count += 1
        ctl = Controller(ControllerConfig(state_dir=self.state / f"pair{self.count}", name=f"Bench {self.count}"))
        return ctl, DeviceTarget.from_ready_file(Path(target), HOST)

    async def pair(self, prepared: tuple[Controller, DeviceTarget]) -> tuple[Controller, DeviceConnection]:
        ctl, target = prepared
        return ctl, await ctl.pair(target, SETUP_CODE)

    async def after_pairing(self, paired: tuple[Controller, DeviceConnection]) -> None:
        ctl, conn = paired
        await conn.close()
        await ctl.close()

    async def close(self) -> None:
        await self.connection.close()

    async def connect(self) -> None:
        assert self.target is not None
        self.conn = await self.ctl.connect(self.target)

    async def first_reading(self) -> None:
        self.readings = self.connection.subscribe("temperature")
        await anext(self.readings)

    async def end_reading(self) -> None:
        if self.readings is not None:
            await self.readings.aclose()
            self.readings = None

    async def set(self, on: bool) -> None:
        await self.connection.set("led", on)

    async def listen(self, arrivals: Arrivals) -> None:
        ready = asyncio.Event()
        conn = self.connection

        async def consume() -> None:
            async for reading in conn.subscribe("fast", min_interval_ms=0):
                ready.set()  # the first is the current value
                arrivals.hit(float(reading.value))

        task = self.listener = asyncio.create_task(consume())
        waiter = asyncio.create_task(ready.wait())
        async with asyncio.timeout(10):
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()
            raise RuntimeError("the subscription ended before its first reading")

    async def stop_listening(self) -> None:
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener
            self.listener = None

    def packets(self) -> tuple[int, int]:
        return self.counter.sent, self.counter.received

    async def shutdown(self) -> None:
        await self.stop_listening()
        if self.conn is not None:
            await self.conn.close()
        await self.ctl.close()


async def child(state: Path) -> None:
    counter = DatagramCounter(asyncio.get_running_loop())
    await Side(state, counter).serve(None)


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "child":
        raise SystemExit(__doc__)
    asyncio.run(child(Path(sys.argv[2])))


if __name__ == "__main__":
    main()
