"""Pieces of bench/channels.py: the child processes, the bare aioquic client, counters and consumers.

The device (and the bare aioquic server it is compared with) runs in a child process, ``_channels_peer.py``;
the controllers run in the benchmark's process, as they would on another machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2
from _util import ms, percentile
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic import events as qe

from device_sdk.channels import parse_input_datagram
from device_sdk.controller import DeviceConnection
from device_sdk.transport import AgentConnection
from device_sdk.wire import DataFrame, MessageDecoder

PEER_SCRIPT = Path(__file__).with_name("_channels_peer.py")


class Peer:
    """A child process running a peer script (by default ``_channels_peer.py``, role ``device`` or
    ``raw``), driven by JSON lines: one command per line in, one answer per line out."""

    def __init__(self, proc: asyncio.subprocess.Process, ready: Any, script: Path = PEER_SCRIPT) -> None:
        self.proc = proc
        self.script = script
        self.ready = ready
        """What the child answered once serving: the ready file (device) or the UDP port (raw)."""

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(cls, role: str, state: Path, *, profile: Path | None = None, script: Path = PEER_SCRIPT) -> Peer:
        """Start the child; with ``profile``, under cProfile writing ``profile/<role>.prof`` at exit."""
        prof = [] if profile is None else ["-m", "cProfile", "-o", str(profile / f"{role}.prof")]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *prof,
            str(script),
            role,
            str(state),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        peer = cls(proc, None, script)
        try:
            async with asyncio.timeout(20):
                peer.ready = (await peer._read())["ready"]
        except BaseException:
            await peer.close()
            raise
        return peer

    async def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.script.name} child exited ({await self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def command(self, **cmd: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (``_channels_peer.py``'s carry ``cpu`` and ``wall`` seconds)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._read()

    async def close(self) -> None:
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write(b'{"cmd": "quit"}\n')
            await self.proc.stdin.drain()
        try:
            async with asyncio.timeout(3):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


# -- counters ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Items delivered, and when the first and the last were."""

    count: int = 0
    units: int = 0
    first: float = 0.0
    last: float = 0.0

    def hit(self, units: int = 1) -> None:
        now = time.perf_counter()
        if not self.count:
            self.first = now
        else:
            self.units += units  # the first one only starts the clock
        self.last = now
        self.count += 1

    def per_second(self) -> float:
        """Units per second between the first and the last delivery."""
        span = self.last - self.first
        return self.units / span if self.count > 1 and span > 0 else 0.0


@dataclass
class Latencies:
    """One-way latencies of input frames and their order as delivered."""

    samples: list[float] = field(default_factory=list)
    seen: int = 0
    last_seq: int = -1
    stale: int = 0
    """Frames delivered after a newer one (a sequence number not larger than one seen before)."""

    def delivered(self, seq: int, sent_at: float) -> None:
        self.samples.append(time.perf_counter() - sent_at)
        self.order(seq)

    def order(self, seq: int) -> None:
        self.seen += 1
        if seq <= self.last_seq:
            self.stale += 1
        else:
            self.last_seq = seq

    def row(self, name: str, published: int, cpu: str = "") -> list[object]:
        n = len(self.samples)
        if not n:
            return [name, published, 0, "0%", "-", "-", "-", self.stale, cpu]
        return [
            name,
            published,
            n,
            f"{100 * n / max(1, published):.1f}%",
            ms(percentile(self.samples, 50)),
            ms(percentile(self.samples, 99)),
            ms(max(self.samples)),
            self.stale,
            cpu,
        ]

    def p99(self) -> float:
        return percentile(self.samples, 99) if self.samples else float("inf")


LATENCY_HEADERS = ("", "published", "delivered", "fraction", "p50", "p99", "max", "stale", "CPU sender/receiver")


# -- the bare aioquic client ---------------------------------------------------------------------------


class RawClient(QuicConnectionProtocol):
    """The bare aioquic end: decodes what the raw server sends exactly as cheaply as it can."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decoder = MessageDecoder()
        self.readings = Tally()
        self.inputs = Latencies()

    def open_stream(self) -> None:
        """Open the stream the server will write readings on."""
        sid = self._quic.get_next_available_stream_id()
        self._quic.send_stream_data(sid, b"\x00")
        self.transmit()

    def quic_event_received(self, event: qe.QuicEvent) -> None:
        if isinstance(event, qe.StreamDataReceived):
            for msg in self.decoder.feed(event.data):
                assert isinstance(msg, DataFrame)
                frame = cbor2.loads(msg.payload)
                if frame["v"] >= 0:
                    self.readings.hit()
        elif isinstance(event, qe.DatagramFrameReceived):
            _, frame = parse_input_datagram(event.data)
            self.inputs.delivered(frame["s"], frame["v"]["ts"])


# -- controller-side consumers ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def consuming(
    body: Callable[[asyncio.Event], Coroutine[Any, Any, None]], *, timeout: float = 10.0
) -> AsyncIterator[None]:
    """Run ``body(ready)`` as a task; enter once it sets ``ready``; cancel it on exit."""
    ready = asyncio.Event()
    task = asyncio.create_task(body(ready))
    try:
        async with asyncio.timeout(timeout):
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        if task.done():
            task.result()  # raises what the consumer raised
            raise RuntimeError("the consumer ended before it was ready")
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def count_readings(conn: DeviceConnection, name: str, tally: Tally, ready: asyncio.Event, **kw: Any) -> None:
    """Count the readings of sensor ``name`` the iterator yields (the first, the current value, only
    tells that the channel is open)."""
    first = True
    async for _reading in conn.subscribe(name, **kw):
        if first:
            first = False
            ready.set()
            continue
        tally.hit()


async def time_inputs(conn: DeviceConnection, latencies: Latencies, wire: Latencies, ready: asyncio.Event) -> None:
    """Latency and order of the input states the iterator yields; ``wire`` sees the datagrams as they
    arrive, before the controller's filter (which drops any frame older than one already delivered)."""
    original = conn.datagram
    skip = [True]  # the first is the state published before this run (its age is not a latency)

    def datagram(agent: AgentConnection, data: bytes) -> None:
        with contextlib.suppress(Exception):
            frame = parse_input_datagram(data)[1]
            if skip[0]:
                skip[0] = False
            else:
                wire.delivered(frame["s"], frame["v"]["ts"])
        original(agent, data)

    conn.datagram = datagram  # type: ignore[method-assign,assignment]  # instrumentation
    try:
        first = True
        async for reading in conn.input("pad"):
            if first:  # the state published before this run
                first = False
                ready.set()
                continue
            latencies.delivered(reading.seq, reading.value["ts"])
    finally:
        del conn.datagram


async def count_audio(conn: DeviceConnection, tally: Tally, ready: asyncio.Event) -> None:
    """Count the audio bytes the iterator yields; ready once the format frame arrived."""

    async def format_seen() -> None:
        while conn.stream_format("audio") is None:  # noqa: ASYNC110 (no event tells it)
            await asyncio.sleep(0.01)
        ready.set()

    watcher = asyncio.create_task(format_seen())
    try:
        async for chunk in conn.stream("audio"):
            tally.hit(len(chunk.data))
    finally:
        watcher.cancel()
