"""Resource bounds before authentication (issue 13 item 1, profile v1.1 section 3), over real aioquic
sockets on loopback: fixed receive windows against a gap filler, few streams, a cap on unauthenticated
connections (idlest first), a pairing deadline, unread answers closed with 429, and closed connections
that let go of their memory at once."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aioquic.quic.configuration import QuicConfiguration

from device_sdk.errors import ConfigError, ConnectionClosed
from device_sdk.identity import AgentIdentity
from device_sdk.transport import AgentConnection, ConnectionHandler, Server, TransportConfig, connect, serve
from device_sdk.transport._aioquic_compat import held_by_streams
from device_sdk.transport.limits import KIB, ResourceLimits, answers_unread, idlest, slid_limit
from device_sdk.wire import (
    AgentInfo,
    AgentStatusRequest,
    AuthSpake2Handshake,
    Message,
    PskStatus,
    encode_message,
)

from ._abuse import client_configuration, fill_gaps, raw_client
from .conftest import credentials

pytestmark = pytest.mark.timeout(30)

INFO = AgentInfo("Limits Device", "device_sdk test", (1100, 1300), "L1m1ts00", ())


@dataclass
class Tracker(ConnectionHandler):
    """Device side: every connection and how it ended."""

    conns: list[AgentConnection] = field(default_factory=list)
    lost: dict[int, ConnectionClosed] = field(default_factory=dict)
    authenticate: Callable[[AgentConnection], bool] = lambda conn: False

    def connection_ready(self, conn: AgentConnection) -> None:
        if self.authenticate(conn):
            conn.set_authenticated()

    def connection_lost(self, conn: AgentConnection, error: ConnectionClosed) -> None:
        self.lost[id(conn)] = error


@dataclass
class Device:
    server: Server
    tracker: Tracker
    identity: AgentIdentity
    controller: AgentIdentity

    def client_config(self, **kw: Any) -> QuicConfiguration:
        qc = client_configuration(self.controller.cert_path, self.controller.key_path)
        for key, value in kw.items():
            setattr(qc, key, value)
        return qc

    async def connect(self, **kw: Any) -> AgentConnection:
        return await connect(
            "127.0.0.1",
            self.server.port,
            credentials=credentials(self.controller),
            expected_fingerprint=self.identity.fingerprint,
            server_name=self.identity.hostname,
            local_info=lambda: INFO,
            **kw,
        )


@pytest.fixture
async def make_device(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> AsyncIterator[Callable[..., Any]]:
    servers: list[Server] = []

    async def make(limits: ResourceLimits | None = None, **cfg: Any) -> Device:
        tracker = Tracker()

        def on_connection(conn: AgentConnection) -> ConnectionHandler:
            tracker.conns.append(conn)
            return tracker

        server = await serve(
            credentials=credentials(device_identity),
            local_info=lambda: INFO,
            on_connection=on_connection,
            host="127.0.0.1",
            config=TransportConfig(limits=limits or ResourceLimits(), **cfg),
        )
        servers.append(server)
        return Device(server, tracker, device_identity, controller_identity)

    yield make
    for server in servers:
        server.close()


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


# -- pure rules ------------------------------------------------------------------------------------


def test_slid_limit_batches_and_never_shrinks() -> None:
    assert slid_limit(consumed=0, limit=100, window=100) is None
    assert slid_limit(consumed=49, limit=100, window=100) is None
    assert slid_limit(consumed=50, limit=100, window=100) == 150
    assert slid_limit(consumed=10, limit=500, window=100) is None


def test_idlest_and_unread_answers() -> None:
    @dataclass
    class C:
        idle_since: float

    a, b, c = C(3.0), C(1.0), C(2.0)
    assert idlest([a, b, c]) is b
    assert idlest([]) is None
    limits = ResourceLimits(unread_answer_streams=2, unread_answer_bytes=100)
    assert not answers_unread([10, 10], limits)
    assert answers_unread([10, 10, 10], limits)
    assert answers_unread([101], limits)


def test_limits_are_checked() -> None:
    with pytest.raises(ConfigError):
        ResourceLimits(stream_window=0)
    with pytest.raises(ConfigError):
        ResourceLimits(pairing_deadline=0)
    with pytest.raises(ConfigError):
        TransportConfig(liveness_timeout=0)


# -- windows and streams ---------------------------------------------------------------------------


async def test_a_gap_filler_gets_no_more_than_the_unauthenticated_window(make_device: Callable[..., Any]) -> None:
    dev: Device = await make_device()
    limits = ResourceLimits()
    async with raw_client("127.0.0.1", dev.server.port, dev.client_config()) as client:
        quic = client._quic
        # what the device announced before it knew who we are
        assert quic._remote_max_data == limits.unauthenticated_connection_window
        assert quic._remote_max_streams_uni == limits.unauthenticated_uni_streams
        assert quic._remote_max_streams_bidi == limits.unauthenticated_bidi_streams
        filler = await fill_gaps(client, streams=limits.unauthenticated_uni_streams, rounds=30)
        assert 0 < filler.offered <= limits.unauthenticated_connection_window
        await until(lambda: bool(dev.tracker.conns) and held_by_streams(dev.tracker.conns[0].osp.quic) > 0)
        device_side = dev.tracker.conns[0]
        held = held_by_streams(device_side.osp.quic)
        assert 0 < held <= limits.unauthenticated_connection_window
        assert quic._remote_max_data == limits.unauthenticated_connection_window  # never raised


async def test_a_big_unauthenticated_message_is_held_back_by_flow_control(make_device: Callable[..., Any]) -> None:
    dev: Device = await make_device(ResourceLimits(pairing_deadline=0.5))
    async with raw_client("127.0.0.1", dev.server.port, dev.client_config()) as client:
        sid = client._quic.get_next_available_stream_id(is_unidirectional=True)
        # agent-status-request whose map holds a 1 MiB byte string: the message can only end 1 MiB on
        client._quic.send_stream_data(sid, bytes.fromhex("0c a1 00 5a 00100000".replace(" ", "")) + b"\x00" * (1 << 20))
        client.transmit()
        await until(lambda: bool(dev.tracker.lost))
        conn = dev.tracker.conns[0]
        assert conn.osp.buffered() <= ResourceLimits().unauthenticated_connection_window
        assert dev.tracker.lost[id(conn)].code == 401  # the pairing deadline, not a 1 MiB buffer


async def test_limits_are_lifted_once_authenticated(make_device: Callable[..., Any]) -> None:
    dev: Device = await make_device()
    dev.tracker.authenticate = lambda conn: True
    limits = ResourceLimits()
    conn = await dev.connect()
    conn.set_authenticated()
    quic = conn.osp.quic
    await until(lambda: quic._remote_max_streams_uni == limits.streams)
    assert quic._remote_max_streams_bidi == limits.streams
    assert quic._remote_max_data >= limits.connection_window
    conn.close()


# -- unauthenticated connections -------------------------------------------------------------------


async def test_too_many_unauthenticated_connections_close_the_idlest(make_device: Callable[..., Any]) -> None:
    dev: Device = await make_device(ResourceLimits(max_unauthenticated_connections=3))
    trusted = await dev.connect()  # authenticated: not counted
    dev.tracker.conns[0].set_authenticated()
    conns = [await dev.connect() for _ in range(3)]
    await asyncio.sleep(0.05)
    # the second one is busy (a complete message makes it the least idle), the first stays idle
    await conns[1].agent_info()
    await conns[0].agent_status()
    await conns[2].agent_status()
    await asyncio.sleep(0.05)
    await conns[1].agent_info()
    newest = await dev.connect()
    error = await asyncio.wait_for(conns[0].wait_closed(), 5)
    assert (error.code, error.reason) == (429, "too many connections")
    for conn in (trusted, conns[1], conns[2], newest):
        assert not conn.is_closed
        await conn.agent_status()
    for conn in (trusted, conns[1], conns[2], newest):
        conn.close()


async def test_a_connection_that_does_not_start_pairing_is_closed(make_device: Callable[..., Any]) -> None:
    dev: Device = await make_device(ResourceLimits(pairing_deadline=1.0))  # room for a loaded machine
    idle = await dev.connect()
    pairing = await dev.connect()
    pairing.send_control(AuthSpake2Handshake("x" * 16, PskStatus.INPUT, bytes(32)))
    error = await asyncio.wait_for(idle.wait_closed(), 5)
    assert (error.code, error.reason, error.by_peer) == (401, "pairing not started in time", True)
    await asyncio.sleep(0.5)
    assert not pairing.is_closed  # it started pairing: the deadline no longer applies
    assert dev.tracker.conns[1].pairing_started
    pairing.close()


async def test_a_peer_that_does_not_read_its_answers_is_closed_with_429(make_device: Callable[..., Any]) -> None:
    dev: Device = await make_device(ResourceLimits(unread_answer_streams=16))
    # a client that grants no credit on the streams the device opens: answers cannot leave
    config = dev.client_config(max_stream_data=0)
    async with raw_client("127.0.0.1", dev.server.port, config) as client:
        quic = client._quic
        for n in range(40):
            sid = quic.get_next_available_stream_id(is_unidirectional=True)
            quic.send_stream_data(sid, encode_message(AgentStatusRequest(n + 1)), end_stream=True)
            client.transmit()
            await asyncio.sleep(0.005)
        await until(lambda: bool(dev.tracker.lost))
        error = dev.tracker.lost[id(dev.tracker.conns[0])]
        assert (error.code, error.reason, error.by_peer) == (429, "answers not read", False)


async def test_a_peer_that_reads_its_answers_is_not_closed(make_device: Callable[..., Any]) -> None:
    # The bound leaves room for the acknowledgements a reading peer delays (QUIC's ack delay, more
    # under load): answers it has read but not yet acknowledged still count as waiting.
    dev: Device = await make_device(ResourceLimits(unread_answer_streams=16, unread_answer_bytes=4 * KIB))
    conn = await dev.connect()
    for _ in range(60):
        await conn.agent_status()
    assert not conn.is_closed
    conn.close()


# -- memory is let go at once ----------------------------------------------------------------------


async def test_closed_connections_let_go_of_their_buffers_and_handler(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    handlers: list[weakref.ref[ConnectionHandler]] = []
    quics: list[Any] = []

    class Handler(ConnectionHandler):
        def connection_ready(self, conn: AgentConnection) -> None:
            self.conn = conn  # a cycle, as the device's session has

    def on_connection(conn: AgentConnection) -> ConnectionHandler:
        handler = Handler()
        handlers.append(weakref.ref(handler))
        quics.append(conn.osp.quic)
        return handler

    server = await serve(
        credentials=credentials(device_identity), local_info=lambda: INFO, on_connection=on_connection, host="127.0.0.1"
    )
    gc.disable()
    try:
        qc = client_configuration(controller_identity.cert_path, controller_identity.key_path)
        async with raw_client("127.0.0.1", server.port, qc) as client:
            await fill_gaps(client, rounds=10)
            await until(lambda: bool(quics) and held_by_streams(quics[0]) > 0)
        await until(lambda: not server.connections)
        await until(lambda: not quics[0]._streams)  # aioquic's buffers, dropped when it terminated
        await asyncio.sleep(0.05)
        assert handlers[0]() is None  # freed by reference counting, not waiting for the cyclic GC
    finally:
        gc.enable()
        server.close()


async def test_a_message_stream_from_an_unauthenticated_peer_is_401_as_before(make_device: Callable[..., Any]) -> None:
    """The one bidirectional stream allowed before authentication still gets a channel message its 401."""
    dev: Device = await make_device()
    conn = await dev.connect()
    sid = conn.open_stream()
    conn.send_stream_raw(sid, encode_message(_open_request()))
    error = await asyncio.wait_for(conn.wait_closed(), 5)
    assert error.code == 401


def _open_request() -> Message:
    from device_sdk.wire import DataChannelOpenRequest

    return DataChannelOpenRequest(1, 0, "temperature", "device-sdk.sensor.v1")
