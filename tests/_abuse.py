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


def hostile_messages(size: int = (1 << 20) - 64) -> dict[str, bytes]:
    """Messages of about ``size`` bytes (under the 1 MiB limit) built to cost a decoder the most: an
    agent-info-request ``{0: 1, 99: <payload>}`` whose ignored key 99 holds the payload. The first is
    an ordinary one (a byte string), the baseline; the tagged ones must be refused (400) unread."""
    n = size - 16
    head = bytes.fromhex("0a a2 0001 1863".replace(" ", ""))

    def array(count: int) -> bytes:
        return b"\x9a" + count.to_bytes(4, "big")

    return {
        "a 1 MiB byte string (baseline)": head + b"\x5a" + n.to_bytes(4, "big") + b"\x00" * n,
        "an array of a million zeros": head + array(n) + b"\x00" * n,
        "a map of 170,000 integer keys": head
        + b"\xba"
        + (n // 6).to_bytes(4, "big")
        + b"".join(b"\x1a" + i.to_bytes(4, "big") + b"\x00" for i in range(n // 6)),
        "arrays nested 30 deep, 30,000 times": head + b"\x9f" + (b"\x81" * 30 + b"\x00") * (n // 31) + b"\xff",
        "a byte string in 1-byte chunks": head + b"\x5f" + b"\x41a" * (n // 2) + b"\xff",
        "half a million simple values": head + array(n // 2) + b"\xf8\xff" * (n // 2),
        "half-precision floats": head + array(n // 3) + b"\xf9\x3c\x00" * (n // 3),
        "tag 4, a decimal fraction with a huge exponent": head + b"\xc4\x82\x1a\x00\x0f\x42\x40" + b"\x01",
        "tag 35, a regular expression": head + b"\xd8\x23\x7a" + n.to_bytes(4, "big") + b"a" * n,
        "tag 2, a 1 MiB bignum": head + b"\xc2\x5a" + n.to_bytes(4, "big") + b"\xff" * n,
    }
