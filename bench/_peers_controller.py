"""The device_sdk controller of bench/peers.py, in its own process (as on another machine).

Usage: python _peers_controller.py child STATE_DIR   (driven by JSON lines, see _peers_child.py)

Targets are the ready-file paths that _peers_device.py answers. Commands:

* ``{"cmd": "pair_main", "target"}`` pairs with the device and keeps the connection, which the other
  commands use.
* ``{"cmd": "pair", "target"}`` pairs a new controller (its identity made beforehand) with a fresh
  device. Answer ``{"seconds"}``: until ``pair()`` returned, the device having committed the pairing.
* ``{"cmd": "reconnect", "count", "settle"}``: ``count`` times, close the connection (``close``: until
  ``close()`` returned), wait ``settle`` seconds, connect again (``connect``: until ``connect()``
  returned) and take the first reading of ``temperature`` (``first``: from ``connect()`` returned).
  Answer: the three lists of seconds.
* ``{"cmd": "sets", "seconds"}`` sets ``led`` to true, false, ... one set after the other. Answer:
  ``rtts`` (seconds, each), ``count``, ``elapsed``, and ``packets_out`` / ``packets_in``: the UDP
  datagrams this process sent and received meanwhile (:class:`PacketCounter`).
* ``{"cmd": "listen", "base", "keep"}`` subscribes to ``fast`` with ``min_interval_ms=0`` and answers
  once its first reading (the current value) came; ``{"cmd": "collect"}`` ends it and answers what
  :class:`_peers_child.Arrivals` recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from _peers_child import HOST, Arrivals, command_loop

from device_sdk.config import ControllerConfig
from device_sdk.controller import Controller, DeviceTarget
from device_sdk.device_connection import DeviceConnection

SETUP_CODE = 20202021


class PacketCounter:
    """Counts the UDP datagrams this process sends and receives through asyncio datagram endpoints
    (aioquic's client uses one per connection). It wraps the loop's ``create_datagram_endpoint``: each
    new endpoint's protocol counts in ``datagram_received`` and is given a transport whose ``sendto``
    counts. It sees what the process hands to the kernel, one call per datagram."""

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        original = loop.create_datagram_endpoint

        async def create_datagram_endpoint(protocol_factory: Any, *args: Any, **kwargs: Any) -> Any:
            return await original(lambda: self._wrap(protocol_factory()), *args, **kwargs)

        loop.create_datagram_endpoint = create_datagram_endpoint  # type: ignore[method-assign]

    def _wrap(self, protocol: Any) -> Any:
        received, made = protocol.datagram_received, protocol.connection_made

        def datagram_received(data: bytes, addr: Any) -> None:
            self.received += 1
            received(data, addr)

        def connection_made(transport: Any) -> None:
            made(_CountingTransport(transport, self))

        protocol.datagram_received = datagram_received
        protocol.connection_made = connection_made
        return protocol


class _CountingTransport:
    def __init__(self, inner: Any, counter: PacketCounter) -> None:
        self._inner = inner
        self._counter = counter

    def sendto(self, data: bytes, addr: Any = None) -> None:
        self._counter.sent += 1
        self._inner.sendto(data, addr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Child:
    def __init__(self, state: Path, packets: PacketCounter) -> None:
        self.state = state
        self.packets = packets
        self.ctl = Controller(ControllerConfig(state_dir=state / "main", name="Bench"))
        self.target: DeviceTarget | None = None
        self.conn: DeviceConnection | None = None
        self.count = 0
        self.listener: asyncio.Task[None] | None = None
        self.arrivals = Arrivals(0.0, False)

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd["cmd"]
        if name == "pair_main":
            self.target = DeviceTarget.from_ready_file(Path(cmd["target"]), HOST)
            self.conn = await self.ctl.pair(self.target, SETUP_CODE)
            return {}
        if name == "pair":
            return {"seconds": await self._pair_fresh(Path(cmd["target"]))}
        if name == "reconnect":
            return await self._reconnect(int(cmd["count"]), float(cmd["settle"]))
        if name == "sets":
            return await self._sets(float(cmd["seconds"]))
        if name == "listen":
            await self._listen(float(cmd["base"]), bool(cmd["keep"]))
            return {}
        if name == "collect":
            await self._stop_listening()
            return self.arrivals.result()
        raise ValueError(f"unknown command {name!r}")

    @property
    def connection(self) -> DeviceConnection:
        assert self.conn is not None, "pair_main first"
        return self.conn

    async def _pair_fresh(self, ready_file: Path) -> float:
        self.count += 1
        ctl = Controller(ControllerConfig(state_dir=self.state / f"pair{self.count}", name=f"Bench {self.count}"))
        target = DeviceTarget.from_ready_file(ready_file, HOST)
        start = time.perf_counter()
        conn = await ctl.pair(target, SETUP_CODE)
        elapsed = time.perf_counter() - start
        await conn.close()
        await ctl.close()
        return elapsed

    async def _reconnect(self, count: int, settle: float) -> dict[str, Any]:
        assert self.target is not None
        close: list[float] = []
        connect: list[float] = []
        first: list[float] = []
        for _ in range(count):
            start = time.perf_counter()
            await self.connection.close()
            close.append(time.perf_counter() - start)
            await asyncio.sleep(settle)
            start = time.perf_counter()
            conn = self.conn = await self.ctl.connect(self.target)
            connected = time.perf_counter()
            readings = conn.subscribe("temperature")
            await anext(readings)
            done = time.perf_counter()
            await readings.aclose()
            connect.append(done - start)
            first.append(done - connected)
            await asyncio.sleep(settle)
        return {"close": close, "connect": connect, "first": first}

    async def _sets(self, seconds: float) -> dict[str, Any]:
        conn = self.connection
        rtts: list[float] = []
        sent, received = self.packets.sent, self.packets.received
        value = True
        begin = time.perf_counter()
        end = begin + seconds
        while (start := time.perf_counter()) < end:
            await conn.set("led", value)
            rtts.append(time.perf_counter() - start)
            value = not value
        elapsed = time.perf_counter() - begin
        return {
            "rtts": rtts,
            "count": len(rtts),
            "elapsed": elapsed,
            "packets_out": self.packets.sent - sent,
            "packets_in": self.packets.received - received,
        }

    async def _listen(self, base: float, keep: bool) -> None:
        await self._stop_listening()
        arrivals = self.arrivals = Arrivals(base, keep)
        ready = asyncio.Event()
        conn = self.connection

        async def consume() -> None:
            async for reading in conn.subscribe("fast", min_interval_ms=0):
                ready.set()
                arrivals.hit(float(reading.value))

        task = self.listener = asyncio.create_task(consume())
        waiter = asyncio.create_task(ready.wait())
        async with asyncio.timeout(10):
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()
            raise RuntimeError("the subscription ended before its first reading")

    async def _stop_listening(self) -> None:
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener
            self.listener = None

    async def close(self) -> None:
        await self._stop_listening()
        if self.conn is not None:
            await self.conn.close()
        await self.ctl.close()


async def child(state: Path) -> None:
    packets = PacketCounter()
    packets.install(asyncio.get_running_loop())
    c = Child(state, packets)
    try:
        await command_loop(None, c.handle)
    finally:
        await c.close()


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "child":
        raise SystemExit(__doc__)
    asyncio.run(child(Path(sys.argv[2])))


if __name__ == "__main__":
    main()
