"""Hostile peers for the resource-bound tests and bench/abuse.py (importable as ``tests._abuse``).

:class:`GapFiller` drives an aioquic client connection to do what issue 13 found: on each stream, one
byte just under the receive limit the device allows, never the bytes before it, so a receiver that
buffers the gap allocates it, and one that raises its limits as the highest offset grows (aioquic's
own rule) allocates without bound. It uses aioquic internals on purpose: no well-behaved API sends
such frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from aioquic.asyncio.client import connect as quic_connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.rangeset import RangeSet

from device_sdk.transport import ALPN


class GapFiller:
    """One byte just under each stream's receive limit (see the module docstring)."""

    def __init__(self, quic: QuicConnection, *, streams: int = 8) -> None:
        self.quic = quic
        self.streams: list[int] = []
        for _ in range(streams):
            sid = quic.get_next_available_stream_id(is_unidirectional=True)
            quic._get_or_create_stream_for_send(sid)  # claims the id
            self.streams.append(sid)
        self.offered = 0
        """The gap bytes offered so far (what a receiver that buffers gaps would hold)."""

    def step(self) -> int:
        """Put one byte just under the current limit of every stream that has room; return the gap
        bytes this added (0: the receiver gave no more credit)."""
        quic = self.quic
        added = 0
        room = quic._remote_max_data - quic._remote_max_data_used  # shared by every stream
        for sid in self.streams:
            stream = quic._get_or_create_stream_for_send(sid)
            sender = stream.sender
            limit = min(stream.max_stream_data_remote, sender.highest_offset + room)
            target = limit - 1
            if target <= sender.highest_offset or stream.is_blocked:
                continue
            # forget what was before: the next frame starts at ``target``
            sender._buffer = bytearray()
            sender._buffer_start = sender._buffer_stop = target
            sender._pending = RangeSet()
            sender.write(b"\x0a")
            gap = target + 1 - sender.highest_offset
            added += gap
            room -= gap
        self.offered += added
        return added


def client_configuration(cert: Path | None = None, key: Path | None = None) -> QuicConfiguration:
    """A client of the profile (ALPN osp, no CA check), with a client certificate when given."""
    qc = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], verify_mode=ssl.CERT_NONE)
    if cert is not None and key is not None:
        qc.load_cert_chain(cert, key)
    return qc


@contextlib.asynccontextmanager
async def raw_client(
    host: str, port: int, configuration: QuicConfiguration, *, timeout: float = 5.0
) -> AsyncIterator[QuicConnectionProtocol]:
    """An aioquic client connection (the handshake done), closed on exit."""
    async with asyncio.timeout(timeout):
        cm: Any = quic_connect(host, port, configuration=configuration)
        protocol = await cm.__aenter__()
    try:
        yield protocol
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await cm.__aexit__(None, None, None)


async def fill_gaps(
    protocol: QuicConnectionProtocol, *, streams: int = 8, rounds: int = 40, pause: float = 0.02
) -> GapFiller:
    """Run a :class:`GapFiller` on ``protocol`` for ``rounds`` round trips; return it."""
    filler = GapFiller(protocol._quic, streams=streams)
    for _ in range(rounds):
        filler.step()
        protocol.transmit()
        await asyncio.sleep(pause)
    return filler


class UdpRelay(asyncio.DatagramProtocol):
    """A UDP relay on 127.0.0.1 between one client and a server; :meth:`cut` drops everything from
    then on, both ways, as a pulled cable or a power cut would (no close reaches anyone)."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.client: tuple[str, int] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self._upstream: asyncio.DatagramTransport | None = None
        self.cut_off = False

    @classmethod
    async def start(cls, server: tuple[str, int]) -> UdpRelay:
        loop = asyncio.get_running_loop()
        relay = cls(server)
        await loop.create_datagram_endpoint(lambda: relay, local_addr=("127.0.0.1", 0))
        upstream = _Upstream(relay)
        await loop.create_datagram_endpoint(lambda: upstream, remote_addr=server)
        return relay

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.client = addr
        if not self.cut_off and self._upstream is not None:
            self._upstream.sendto(data)

    def back(self, data: bytes) -> None:
        if not self.cut_off and self.transport is not None and self.client is not None:
            self.transport.sendto(data, self.client)

    def cut(self) -> None:
        self.cut_off = True

    def close(self) -> None:
        for transport in (self.transport, self._upstream):
            if transport is not None:
                transport.close()


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: UdpRelay) -> None:
        self.relay = relay

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.relay._upstream = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.relay.back(data)
