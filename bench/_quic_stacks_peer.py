"""One side of bench/quic_stacks.py in its own process: a bare QUIC server or client of one stack,
aioquic or qh3, driven by JSON-line commands (_peers_child.command_loop).

Usage: python _quic_stacks_peer.py STACK-ROLE STATE_DIR   (STACK: aioquic or qh3; ROLE: server or client)

Only the named stack is imported (and device_sdk only by an aioquic server asked for mutual TLS).
The adapter between the two stacks is the package name: qh3 keeps aioquic's module layout and the
names used here (``asyncio.connect`` / ``serve`` / ``QuicConnectionProtocol``,
``quic.configuration.QuicConfiguration``, ``quic.events``, ``QuicConnection.send_stream_data`` /
``get_next_available_stream_id`` / ``datagrams_to_send``), so one protocol class serves both.

The exchanges, on loopback, with :data:`MESSAGE_SIZE`-byte messages (an actuator set's size):
- ``handshakes``: connect (a new configuration each time) until the handshake completed, then close;
- ``rtt``: one request on a bidirectional stream, the server answers from its event handler (so the
  answer leaves with the ACK of the request), the next request once the answer is in;
- ``burst`` (server) / ``listen`` + ``collect`` (client): messages on one unidirectional stream,
  :data:`PER_TURN` per event-loop turn, as fast as the server can write them.
``stats`` reports this process's CPU seconds (``time.process_time``) and the UDP datagrams its QUIC
connections have handed to the socket (counted at ``datagrams_to_send``), for per-packet figures.
"""

from __future__ import annotations

import asyncio
import importlib
import ssl
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from _peers_child import HOST, command_loop
from _util import percentile

MESSAGE_SIZE = 30
ANSWER = b"a" * MESSAGE_SIZE
REQUEST = b"r" * MESSAGE_SIZE
EVENT = b"e" * MESSAGE_SIZE
PER_TURN = 16
"""Messages written per event-loop turn in a burst (as bench/peers.py's device publishes)."""
QUIET_S = 0.3
"""A listening client stops waiting for the rest of a burst after this long without data."""
ALPN = "osp"


class Counter:
    sent = 0
    """UDP datagrams handed to the socket by every connection of this process."""


class Stack:
    """The modules of one QUIC stack."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.quic_asyncio: ModuleType = importlib.import_module(f"{name}.asyncio")
        self.configuration: ModuleType = importlib.import_module(f"{name}.quic.configuration")
        self.events: ModuleType = importlib.import_module(f"{name}.quic.events")

    def config(self, *, is_client: bool, cert: str, key: str) -> Any:
        qc = self.configuration.QuicConfiguration(
            is_client=is_client, alpn_protocols=[ALPN], verify_mode=ssl.CERT_NONE if is_client else None
        )
        qc.load_cert_chain(cert, key)
        return qc


def protocol_class(stack: Stack, *, server: bool, mutual: bool = False) -> type[Any]:
    """The protocol of both sides: counts datagrams sent, answers requests (server), completes the
    pending request and counts burst messages (client)."""
    base: Any = stack.quic_asyncio.QuicConnectionProtocol
    stream_data = stack.events.StreamDataReceived
    require_client_certificate: Any = None
    if mutual:  # aioquic only: device_sdk's switch for its private flag
        from device_sdk.transport._aioquic_compat import require_client_certificate

    class Protocol(base):  # type: ignore[misc]  # the stack's class, chosen at run time
        def __init__(self, quic: Any, stream_handler: Any = None) -> None:
            super().__init__(quic, stream_handler)
            if require_client_certificate is not None:
                require_client_certificate(quic)
            to_send = quic.datagrams_to_send

            def counted(now: float) -> Any:
                datagrams = to_send(now=now)
                Counter.sent += len(datagrams)
                return datagrams

            quic.datagrams_to_send = counted
            self.answer: asyncio.Future[None] | None = None
            self.pending = 0
            self.received = 0
            self.first = self.last = 0.0

        def quic_event_received(self, event: Any) -> None:
            if not isinstance(event, stream_data):
                super().quic_event_received(event)
                return
            if event.stream_id % 4 == 0 and server:  # a request: answer at once
                Requester.last = self
                self.pending += len(event.data)
                while self.pending >= MESSAGE_SIZE:
                    self.pending -= MESSAGE_SIZE
                    self._quic.send_stream_data(event.stream_id, ANSWER)
            elif event.stream_id % 4 == 0:  # the answer to this client's request
                self.pending += len(event.data)
                if self.pending >= MESSAGE_SIZE and self.answer is not None and not self.answer.done():
                    self.pending -= MESSAGE_SIZE
                    self.answer.set_result(None)
            else:  # burst messages on the server's unidirectional stream
                now = time.perf_counter()
                if not self.received:
                    self.first = now
                self.received += len(event.data)
                self.last = now

    return Protocol


class Requester:
    last: Any = None
    """The server's connection that received the latest request (a burst goes there)."""


class Server:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.servers: list[Any] = []

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd["cmd"]
        if name == "stats":
            return stats()
        if name == "serve":
            qc = self.stack.config(is_client=False, cert=cmd["cert"], key=cmd["key"])
            server = await self.stack.quic_asyncio.serve(
                HOST, 0, configuration=qc, create_protocol=protocol_class(self.stack, server=True, mutual=cmd["mutual"])
            )
            self.servers.append(server)
            return {"port": int(server._transport.get_extra_info("sockname")[1])}
        if name == "burst":
            return {"sent": await self.burst(cmd["seconds"])}
        raise ValueError(f"unknown command {name!r}")

    async def burst(self, seconds: float) -> int:
        protocol = Requester.last
        quic = protocol._quic
        stream_id = quic.get_next_available_stream_id(is_unidirectional=True)
        end = time.perf_counter() + seconds
        count = 0
        while time.perf_counter() < end:
            for _ in range(PER_TURN):
                quic.send_stream_data(stream_id, EVENT)
            count += PER_TURN
            protocol.transmit()
            await asyncio.sleep(0)
        quic.send_stream_data(stream_id, b"", end_stream=True)
        protocol.transmit()
        return count


class Client:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.main: Any = None
        self.main_context: Any = None
        self.stream_id = 0
        self.protocol = protocol_class(stack, server=False)

    def config(self, cmd: dict[str, Any]) -> Any:
        return self.stack.config(is_client=True, cert=cmd["cert"], key=cmd["key"])

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd["cmd"]
        if name == "stats":
            return stats()
        if name == "handshakes":
            return {"seconds": [await self.handshake(cmd) for _ in range(cmd["count"])]}
        if name == "connect":
            self.main_context = self.stack.quic_asyncio.connect(
                HOST, cmd["port"], configuration=self.config(cmd), create_protocol=self.protocol
            )
            self.main = await self.main_context.__aenter__()
            self.stream_id = self.main._quic.get_next_available_stream_id()
            await self.round_trips(0.0, at_least=1)  # the server learns which connection is this one
            return {}
        if name == "rtt":
            return await self.round_trips(cmd["seconds"])
        if name == "listen":
            self.main.received = 0
            return {}
        if name == "collect":
            return await self.collect(cmd["expect"])
        if name == "close":
            await self.main_context.__aexit__(None, None, None)
            return {}
        raise ValueError(f"unknown command {name!r}")

    async def handshake(self, cmd: dict[str, Any]) -> float:
        start = time.perf_counter()
        qc = self.config(cmd)
        async with self.stack.quic_asyncio.connect(HOST, cmd["port"], configuration=qc, create_protocol=self.protocol):
            elapsed = time.perf_counter() - start  # entered once the handshake completed
        return elapsed

    async def round_trips(self, seconds: float, at_least: int = 0) -> dict[str, Any]:
        protocol, quic = self.main, self.main._quic
        loop = asyncio.get_running_loop()
        rtts: list[float] = []
        begin = time.perf_counter()
        end = begin + seconds
        while (start := time.perf_counter()) < end or len(rtts) < at_least:
            protocol.answer = loop.create_future()
            quic.send_stream_data(self.stream_id, REQUEST)
            protocol.transmit()
            await protocol.answer
            rtts.append(time.perf_counter() - start)
        elapsed = time.perf_counter() - begin
        return {"count": len(rtts), "p50": percentile(rtts, 50), "p90": percentile(rtts, 90), "elapsed": elapsed}

    async def collect(self, expect: int) -> dict[str, Any]:
        """Wait for ``expect`` burst messages, or until none came for :data:`QUIET_S`."""
        protocol = self.main
        seen, quiet_since = -1, time.perf_counter()
        while protocol.received < expect * MESSAGE_SIZE and time.perf_counter() - quiet_since < QUIET_S:
            if protocol.received != seen:
                seen, quiet_since = protocol.received, time.perf_counter()
            await asyncio.sleep(0.01)
        return {"count": protocol.received // MESSAGE_SIZE, "first": protocol.first, "last": protocol.last}


def stats() -> dict[str, Any]:
    return {"process_cpu": time.process_time(), "datagrams_sent": Counter.sent}


async def main(stack_name: str, role: str) -> None:
    stack = Stack(stack_name)
    side = Server(stack) if role == "server" else Client(stack)
    await command_loop({"stack": stack_name, "role": role}, side.handle)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1].count("-") != 1:
        raise SystemExit(__doc__)
    stack_name, role = sys.argv[1].split("-")
    Path(sys.argv[2]).mkdir(parents=True, exist_ok=True)
    asyncio.run(main(stack_name, role))
