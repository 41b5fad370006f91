"""What TLS session resumption and 0-RTT would buy a reconnect: bare aioquic, measured, not device_sdk.

Issue 15's reconnect goal (pair-verify + read <= 1.5x HAP's) is missed by a full TLS 1.3 handshake with
certificates on both sides (docs/performance.md, "Where the time goes"). This benchmark measures, in
one run, the handshakes a future profile could use instead, each until the first answer to a 30-byte
request on a new stream (the reconnect + first reading shape):

* full, mutual TLS: what device_sdk does on every reconnect (the server requests a client certificate);
* full, server certificate only: aioquic's default, for reference;
* resumed: a PSK from a session ticket of an earlier connection, with a fresh ECDHE exchange
  (``psk_dhe_ke``); no certificate and no signature on either side; the request is sent once the
  handshake is done;
* resumed + 0-RTT: the same, with the request sent as early data in the client's first flight.

Both sides run on one event loop in this process (as bench/pairing.py), so a figure is the work of both
sides back to back plus loopback. aioquic resumes only connections that did not request a client
certificate (with a PSK its server still waits for a Certificate message it never asked for), so the
resumed rows resume a server-certificate-only session: the figure a profile that binds tickets to the
controller's pinned identity would reach. Tickets are kept in memory, one use each.

Usage: .venv/bin/python bench/resumption.py [--runs N]   (about 10 s with the default 40 runs)
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _util import COMPARISON_HEADERS, comparison_rows, median, print_table
from aioquic.asyncio.client import connect as quic_connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.asyncio.server import serve as quic_serve
from aioquic.quic import events as qe
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.tls import SessionTicket

from device_sdk.identity import AgentIdentity
from device_sdk.transport import ALPN
from device_sdk.transport._aioquic_compat import require_client_certificate, server_port

HOST = "127.0.0.1"
REQUEST = b"r" * 30
WARMUP = 3


class EchoServer(QuicConnectionProtocol):
    """Answers each stream's data with the same bytes and ends the stream."""

    mutual = False

    def __init__(self, quic: QuicConnection, stream_handler: Any = None) -> None:
        super().__init__(quic, stream_handler)
        if self.mutual:
            require_client_certificate(quic)

    def quic_event_received(self, event: qe.QuicEvent) -> None:
        if isinstance(event, qe.StreamDataReceived) and event.end_stream:
            self._quic.send_stream_data(event.stream_id, event.data, end_stream=True)
            self.transmit()


class MutualEchoServer(EchoServer):
    mutual = True


class Client(QuicConnectionProtocol):
    """Sends one request and waits for its answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.early_data_accepted: bool | None = None

    def request(self) -> None:
        stream_id = self._quic.get_next_available_stream_id()
        self._quic.send_stream_data(stream_id, REQUEST, end_stream=True)
        self.transmit()

    def quic_event_received(self, event: qe.QuicEvent) -> None:
        if isinstance(event, qe.HandshakeCompleted):
            self.early_data_accepted = event.early_data_accepted
        if isinstance(event, qe.StreamDataReceived) and event.end_stream and not self.answer.done():
            self.answer.set_result(event.data)


class TicketStore:
    """The server's tickets, each usable once (aioquic's ``session_ticket_fetcher`` pops)."""

    def __init__(self) -> None:
        self.tickets: dict[bytes, SessionTicket] = {}

    def add(self, ticket: SessionTicket) -> None:
        self.tickets[ticket.ticket] = ticket

    def pop(self, label: bytes) -> SessionTicket | None:
        return self.tickets.pop(label, None)


class Rig:
    def __init__(self, device: AgentIdentity, controller: AgentIdentity) -> None:
        self.device = device
        self.controller = controller
        self.store = TicketStore()
        self.servers: dict[str, QuicServer] = {}
        self.ticket: SessionTicket | None = None
        self.zero_rtt_accepted = 0
        self.zero_rtt_tried = 0

    async def start(self) -> None:
        for name, protocol in (("mutual", MutualEchoServer), ("plain", EchoServer)):
            qc = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
            qc.load_cert_chain(self.device.cert_path, self.device.key_path)
            self.servers[name] = await quic_serve(
                HOST,
                0,
                configuration=qc,
                create_protocol=protocol,
                session_ticket_fetcher=self.store.pop,
                session_ticket_handler=self.store.add,
            )

    def close(self) -> None:
        for server in self.servers.values():
            server.close()

    def _port(self, name: str) -> int:
        return server_port(self.servers[name])

    def _configuration(self, ticket: SessionTicket | None) -> QuicConfiguration:
        qc = QuicConfiguration(
            is_client=True,
            alpn_protocols=[ALPN],
            verify_mode=ssl.CERT_NONE,
            server_name=self.device.hostname,
            session_ticket=ticket,
        )
        qc.load_cert_chain(self.controller.cert_path, self.controller.key_path)
        return qc

    def _keep_ticket(self, ticket: SessionTicket) -> None:
        self.ticket = ticket

    async def exchange(self, server: str, *, resume: bool, early: bool) -> float:
        """One connection until the first answer; seconds. Keeps the newest ticket for the next."""
        ticket = self.ticket if resume else None
        if resume and ticket is None:
            raise RuntimeError("no session ticket to resume with")
        self.ticket = None
        start = time.perf_counter()
        async with quic_connect(
            HOST,
            self._port(server),
            configuration=self._configuration(ticket),
            create_protocol=Client,
            session_ticket_handler=self._keep_ticket,
            wait_connected=not early,
        ) as client:
            assert isinstance(client, Client)
            client.request()
            assert await client.answer == REQUEST
            elapsed = time.perf_counter() - start
            if early:
                self.zero_rtt_tried += 1
                self.zero_rtt_accepted += bool(client.early_data_accepted)
            await asyncio.sleep(0.002)  # the ticket follows the handshake
            client.close()
        return elapsed


async def measure(state: Path, runs: int) -> tuple[dict[str, list[float]], Rig]:
    device = AgentIdentity.load_or_create(state / "device", model_name="device_sdk bench", instance_name="Bench")
    controller = AgentIdentity.load_or_create(
        state / "controller", model_name="device_sdk bench", instance_name="Bench Controller"
    )
    rig = Rig(device, controller)
    await rig.start()
    kinds: dict[str, Callable[[], Awaitable[float]]] = {
        "full handshake, mutual TLS (device_sdk)": lambda: rig.exchange("mutual", resume=False, early=False),
        "full handshake, server certificate only": lambda: rig.exchange("plain", resume=False, early=False),
        "resumed (PSK + ECDHE), no certificates": lambda: rig.exchange("plain", resume=True, early=False),
        "resumed + the request as 0-RTT data": lambda: rig.exchange("plain", resume=True, early=True),
    }
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    try:
        for i in range(runs + WARMUP):
            names = list(kinds) if i % 2 == 0 else list(reversed(kinds))
            for name in names:
                if "resumed" in name and rig.ticket is None:
                    await rig.exchange("plain", resume=False, early=False)  # a session to resume
                elapsed = await kinds[name]()
                if i >= WARMUP:
                    samples[name].append(elapsed)
    finally:
        rig.close()
        await asyncio.sleep(0.05)
    return samples, rig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40, help="connections of each kind (default 40)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-resumption-") as tmp:
        samples, rig = asyncio.run(asyncio.wait_for(measure(Path(tmp), args.runs), timeout=120))
    names = list(samples)
    print_table(
        COMPARISON_HEADERS,
        comparison_rows((names[0], samples[names[0]]), *((n, samples[n]) for n in names[1:])),
        title=f"connect until the first answer, bare aioquic, loopback, one process, {args.runs} interleaved runs each",
    )
    full = median(samples[names[0]])
    print(f"0-RTT data accepted by the server: {rig.zero_rtt_accepted} of {rig.zero_rtt_tried}")
    print(f"resumed / full mutual: {median(samples[names[2]]) / full:.2f}x; 0-RTT / full mutual: "
          f"{median(samples[names[3]]) / full:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
