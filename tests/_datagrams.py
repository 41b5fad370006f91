"""Counting the UDP datagrams a process sends and receives (tests/test_flights.py, bench/peers.py).

:class:`DatagramCounter` wraps the event loop's ``create_datagram_endpoint``: each endpoint made
afterwards (aioquic's server socket, a client socket per connection) counts in its protocol's
``datagram_received`` and through a transport whose ``sendto`` counts. It sees what the process hands
to the kernel and gets from it, one call per datagram.

:meth:`DatagramCounter.count_loss_timers` also counts, per side, how often aioquic's loss-detection
timer fired: a probe (PTO) or a retransmission. A loaded machine that stalls the event loop past the
probe timeout (about 30 ms on loopback) makes them, and each adds datagrams that the exchange itself
does not need; tests allow for exactly those.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aioquic.asyncio.server import QuicServer
from aioquic.quic.connection import QuicConnection


@dataclass
class Endpoint:
    """One UDP socket's datagrams; ``device``: it is a server's socket."""

    device: bool
    sent: int = 0
    received: int = 0


class DatagramCounter:
    """Installs itself on ``loop``: every datagram endpoint made afterwards is counted in ``endpoints``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.endpoints: list[Endpoint] = []
        self.loss_timers = {"device": 0, "controller": 0}
        original = loop.create_datagram_endpoint

        async def create_datagram_endpoint(factory: Any, *args: Any, **kwargs: Any) -> Any:
            return await original(lambda: self._wrap(factory()), *args, **kwargs)

        loop.create_datagram_endpoint = create_datagram_endpoint  # type: ignore[method-assign,assignment]

    @property
    def sent(self) -> int:
        return sum(e.sent for e in self.endpoints)

    @property
    def received(self) -> int:
        return sum(e.received for e in self.endpoints)

    def totals(self) -> tuple[int, int]:
        """Datagrams sent by the device (server sockets), and by the controllers (all other sockets)."""
        device = sum(e.sent for e in self.endpoints if e.device)
        return device, self.sent - device

    def count_loss_timers(self) -> Callable[..., None]:
        """A ``QuicConnection.handle_timer`` that counts loss-detection timeouts in ``loss_timers``
        (install it with ``monkeypatch.setattr(QuicConnection, "handle_timer", ...)``)."""
        original = QuicConnection.handle_timer

        def handle_timer(conn: QuicConnection, now: float) -> None:
            loss_at, close_at = conn._loss_at, conn._close_at
            if loss_at is not None and now >= loss_at and (close_at is None or now < close_at):
                self.loss_timers["controller" if conn._is_client else "device"] += 1
            original(conn, now)

        return handle_timer

    def _wrap(self, protocol: Any) -> Any:
        endpoint = Endpoint(device=isinstance(protocol, QuicServer))
        self.endpoints.append(endpoint)
        received, made = protocol.datagram_received, protocol.connection_made

        def datagram_received(data: bytes, addr: Any) -> None:
            endpoint.received += 1
            received(data, addr)

        def connection_made(transport: Any) -> None:
            made(_CountingTransport(transport, endpoint))

        protocol.datagram_received = datagram_received
        protocol.connection_made = connection_made
        return protocol


class _CountingTransport:
    def __init__(self, inner: Any, endpoint: Endpoint) -> None:
        self._inner = inner
        self._endpoint = endpoint

    def sendto(self, data: bytes, addr: Any = None) -> None:
        self._endpoint.sent += 1
        self._inner.sendto(data, addr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
