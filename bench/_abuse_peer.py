"""The attackers of bench/abuse.py, run as a child process: unauthenticated connections and a gap filler.

Usage: python _abuse_peer.py READY_FILE STATE_DIR

READY_FILE is the device's ready file (its port); STATE_DIR holds the attackers' own identity (they
present a certificate, as a controller would, but are never paired). Driven by one JSON command per
line on stdin, one JSON answer per line on stdout (the first line is ``{"ready": ...}``). It runs at the
lowest CPU priority (``nice 19``), standing in for other machines:

* ``{"cmd": "start", "connections": N, "gap": true, "reconnect_after": S}``: open N connections that
  never pair, and (with ``gap``) one more that runs the gap filler of ``tests/_abuse.py`` (one byte just
  under each stream's receive limit, every 20 ms). Whatever the device closes is opened again ``S``
  seconds later, so the pressure stays. Answers once the first N are open (or 30 s have passed).
* ``{"cmd": "status"}``: connections open now, handshakes made, closes seen by error code, the gap
  bytes the filler could place (what the device let it make it hold).
* ``{"cmd": "stop"}`` / ``{"cmd": "quit"}``: close everything (and exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aioquic.asyncio.client import connect as quic_connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic import events as qe

from device_sdk.identity import AgentIdentity
from tests._abuse import GapFiller, client_configuration

HOST = "127.0.0.1"
GAP_PERIOD = 0.02


class Stranger(QuicConnectionProtocol):
    """A connection that never pairs; remembers how the device closed it."""

    close_code: int | None = None

    def quic_event_received(self, event: qe.QuicEvent) -> None:
        if isinstance(event, qe.ConnectionTerminated) and self.close_code is None:
            code = event.error_code
            self.close_code = code - 0x1000 if code >= 0x1000 else code  # aioquic's application offset


class Attack:
    def __init__(self, port: int, identity: AgentIdentity) -> None:
        self.port = port
        self.config = client_configuration(identity.cert_path, identity.key_path)
        self.open = 0
        self.handshakes = 0
        self.failed = 0
        self.closes: Counter[str] = Counter()
        self.gap_offered = 0
        self.gap_connections = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._attempt = asyncio.Event()

    def start(self, connections: int, gap: bool, reconnect_after: float) -> None:
        for _ in range(connections):
            self._spawn(self._hold(reconnect_after, gap=False))
        if gap:
            self._spawn(self._hold(reconnect_after, gap=True))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hold(self, reconnect_after: float, *, gap: bool) -> None:
        """Keep one connection open: connect, hold (filling gaps if asked), reconnect when closed."""
        while not self._stopping.is_set():
            try:
                async with asyncio.timeout(10):
                    cm: Any = quic_connect(HOST, self.port, configuration=self.config, create_protocol=Stranger)
                    protocol = await cm.__aenter__()
            except Exception:
                self.failed += 1
                self._attempt.set()
                await self._pause(reconnect_after)
                continue
            self.handshakes += 1
            self._attempt.set()
            self.open += 1
            try:
                if gap:
                    self.gap_connections += 1
                    await self._fill(protocol)
                else:
                    await self._wait(protocol)
            finally:
                self.open -= 1
                code = getattr(protocol, "close_code", None)
                self.closes["ours" if self._stopping.is_set() else str(code)] += 1
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1):
                        await cm.__aexit__(None, None, None)
            await self._pause(reconnect_after)

    async def _wait(self, protocol: QuicConnectionProtocol) -> None:
        closed = asyncio.ensure_future(protocol.wait_closed())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        stopping.cancel()

    async def _fill(self, protocol: QuicConnectionProtocol) -> None:
        filler = GapFiller(protocol._quic)
        closed = asyncio.ensure_future(protocol.wait_closed())
        try:
            while not closed.done() and not self._stopping.is_set():
                self.gap_offered += filler.step()
                protocol.transmit()
                await asyncio.sleep(GAP_PERIOD)
        finally:
            closed.cancel()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def stop(self) -> None:
        self._stopping.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)

    async def attempted(self, count: int) -> None:
        """Until ``count`` connections were tried (made or failed)."""
        while self.handshakes + self.failed < count:
            self._attempt.clear()
            await self._attempt.wait()

    def status(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "handshakes": self.handshakes,
            "failed": self.failed,
            "closes": dict(self.closes),
            "gap_offered": self.gap_offered,
            "gap_connections": self.gap_connections,
        }


async def main(port: int, identity: AgentIdentity) -> None:
    attack = Attack(port, identity)
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def answer(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    answer({"ready": port})
    while line := await reader.readline():
        cmd = json.loads(line)
        name = cmd["cmd"]
        if name == "start":
            wanted = int(cmd["connections"])
            attack.start(wanted, bool(cmd.get("gap", True)), float(cmd.get("reconnect_after", 1.0)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(attack.attempted(wanted), 30)
            answer(attack.status())
        elif name == "status":
            answer(attack.status())
        elif name in ("stop", "quit"):
            await attack.stop()
            answer(attack.status())
            if name == "quit":
                return


if __name__ == "__main__":
    # On a real network the attackers are other machines; here they share the benchmark's cores, so
    # they run at the lowest priority: what they cost the device is measured, not what they cost the CPU.
    os.nice(19)
    _ready_file, _state = Path(sys.argv[1]), Path(sys.argv[2])
    _port = int(json.loads(_ready_file.read_text())["port"])
    asyncio.run(main(_port, AgentIdentity.load_or_create(_state, model_name="attacker", instance_name="Stranger")))
