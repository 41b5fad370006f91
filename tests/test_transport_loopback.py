"""The transport over real aioquic sockets on loopback: pinning, ALPN, close codes, gatekeeping."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import cbor2
import pytest
from aioquic.asyncio.client import connect as quic_connect
from aioquic.quic.configuration import QuicConfiguration
from cryptography.hazmat.primitives.serialization import Encoding

from device_sdk.errors import ConnectionClosed, FingerprintMismatch
from device_sdk.identity import AgentIdentity
from device_sdk.transport import AgentConnection, ConnectionHandler, Server, TransportConfig, connect, serve
from device_sdk.transport.endpoint import quic_configuration
from device_sdk.wire import (
    AgentInfo,
    DataChannelOpenRequest,
    DataFrame,
    Message,
    encode_message,
    encode_varint,
)

from .conftest import credentials

pytestmark = pytest.mark.timeout(30)

DEVICE_INFO = AgentInfo("Test Device", "device_sdk test", (1100, 1300), "Ab3dEf7h", ("en",))
CONTROLLER_INFO = AgentInfo("Test Controller", "device_sdk controller", (1100,), "Zz9yXx8w", ())


@dataclass
class Recorder(ConnectionHandler):
    """Device-side handler that records what it sees."""

    ready: list[AgentConnection] = field(default_factory=list)
    control: list[Message] = field(default_factory=list)
    lost: list[ConnectionClosed] = field(default_factory=list)
    authenticate: bool = False

    def connection_ready(self, conn: AgentConnection) -> None:
        self.ready.append(conn)
        if self.authenticate:
            conn.set_authenticated()

    def control_message(self, conn: AgentConnection, msg: Message) -> None:
        self.control.append(msg)

    def connection_lost(self, conn: AgentConnection, error: ConnectionClosed) -> None:
        self.lost.append(error)


@dataclass
class Fixture:
    server: Server
    recorder: Recorder
    device: AgentIdentity
    controller: AgentIdentity

    async def connect(self, **kw: object) -> AgentConnection:
        args: dict[str, object] = {
            "credentials": credentials(self.controller),
            "expected_fingerprint": self.device.fingerprint,
            "server_name": self.device.hostname,
            "local_info": lambda: CONTROLLER_INFO,
        }
        args.update(kw)
        return await connect("127.0.0.1", self.server.port, **args)  # type: ignore[arg-type]

    async def still_serves(self) -> None:
        conn = await self.connect()
        assert (await conn.agent_info()) == DEVICE_INFO
        conn.close()


@pytest.fixture
async def fx(device_identity: AgentIdentity, controller_identity: AgentIdentity) -> AsyncIterator[Fixture]:
    recorder = Recorder()
    server = await serve(
        credentials=credentials(device_identity),
        local_info=lambda: DEVICE_INFO,
        on_connection=lambda conn: recorder,
        host="127.0.0.1",
        config=TransportConfig(max_message_size=1 << 20),
    )
    yield Fixture(server, recorder, device_identity, controller_identity)
    server.close()


async def closed_code(conn: AgentConnection) -> ConnectionClosed:
    async with asyncio.timeout(5):
        return await conn.wait_closed()


async def test_agent_info_both_ways_and_device_learns_client_fingerprint(fx: Fixture) -> None:
    conn = await fx.connect()
    assert conn.alpn == "osp"
    assert (await conn.agent_info()) == DEVICE_INFO
    assert len(fx.recorder.ready) == 1
    device_side = fx.recorder.ready[0]
    assert device_side.peer_fingerprint == fx.controller.fingerprint
    assert (await device_side.agent_info()) == CONTROLLER_INFO
    conn.close()
    error = await closed_code(device_side)
    assert error.code == 5139 and error.by_peer


async def test_controller_refuses_device_with_other_fingerprint(fx: Fixture) -> None:
    with pytest.raises(FingerprintMismatch) as info:
        await fx.connect(expected_fingerprint=bytes(32))
    assert info.value.actual == fx.device.fingerprint_text
    await fx.still_serves()


async def test_client_offering_another_alpn_is_refused(fx: Fixture) -> None:
    qc = QuicConfiguration(is_client=True, alpn_protocols=["h3"], verify_mode=ssl.CERT_NONE)
    qc.load_cert_chain(fx.controller.cert_path, fx.controller.key_path)
    with pytest.raises(ConnectionError):
        async with asyncio.timeout(5), quic_connect("127.0.0.1", fx.server.port, configuration=qc):
            pass
    await fx.still_serves()


async def raw_uni(conn: AgentConnection, data: bytes, *, fin: bool = True) -> None:
    quic = conn.osp.quic
    sid = quic.get_next_available_stream_id(is_unidirectional=True)
    quic.send_stream_data(sid, data, fin)
    conn._protocol.transmit()


async def test_unknown_type_key_closes_with_404(fx: Fixture) -> None:
    conn = await fx.connect()
    await raw_uni(conn, encode_varint(77) + cbor2.dumps({0: 1}))
    error = await closed_code(conn)
    assert (error.code, error.reason, error.by_peer) == (404, "unknown type key 77", True)
    await fx.still_serves()


async def test_two_mib_message_closes_with_413(fx: Fixture) -> None:
    # From an authenticated peer: one that is not may send no more than
    # limits.unauthenticated_connection_window in all (test_transport_limits.py), so flow control
    # holds a 2 MiB message back long before 413 could apply.
    fx.recorder.authenticate = True
    conn = await fx.connect()
    big = encode_varint(10) + cbor2.dumps({0: 1, 1: b"x" * (2 << 20)})
    await raw_uni(conn, big)
    error = await closed_code(conn)
    assert error.code == 413
    await fx.still_serves()


async def test_random_bytes_close_with_an_error(fx: Fixture) -> None:
    rng = __import__("random").Random(7)
    for _ in range(3):
        conn = await fx.connect()
        await raw_uni(conn, bytes([0x0A]) + bytes(rng.randrange(256) for _ in range(300)))
        error = await closed_code(conn)
        assert error.code in (400, 404, 413)
    for _ in range(2):
        conn = await fx.connect()
        await raw_uni(conn, os.urandom(64))
        assert (await closed_code(conn)).code in (400, 404)
    await fx.still_serves()


async def test_stream_ending_inside_a_message_closes_with_400(fx: Fixture) -> None:
    conn = await fx.connect()
    await raw_uni(conn, encode_message(DataFrame(b"abc"))[:-2])
    assert (await closed_code(conn)).code == 400
    await fx.still_serves()


async def test_channel_message_before_authentication_closes_with_401(fx: Fixture) -> None:
    conn = await fx.connect()
    sid = conn.open_stream()
    conn.send_stream(sid, DataChannelOpenRequest(1, 0, "temperature", "device-sdk.sensor.v1"))
    error = await closed_code(conn)
    assert error.code == 401
    await fx.still_serves()


async def test_channel_message_after_authentication_is_delivered(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    got: list[tuple[int, Message]] = []

    class H(Recorder):
        def stream_message(self, conn: AgentConnection, stream_id: int, msg: Message) -> None:
            got.append((stream_id, msg))

    server = await serve(
        credentials=credentials(device_identity),
        local_info=lambda: DEVICE_INFO,
        on_connection=lambda conn: H(authenticate=True),
        host="127.0.0.1",
    )
    try:
        fx = Fixture(server, Recorder(), device_identity, controller_identity)
        conn = await fx.connect()
        conn.set_authenticated()
        sid = conn.open_stream()
        req = DataChannelOpenRequest(1, 0, "temperature", "device-sdk.sensor.v1")
        conn.send_stream(sid, req)
        async with asyncio.timeout(5):
            while not got:
                await asyncio.sleep(0.01)
        assert got == [(sid, req)]
        conn.close()
    finally:
        server.close()


async def test_several_messages_on_one_unidirectional_stream(fx: Fixture) -> None:
    from device_sdk.wire import AgentStatusRequest, AuthResult, AuthStatus

    conn = await fx.connect()
    data = encode_message(AuthStatus(AuthResult.UNKNOWN_ERROR)) + encode_message(AgentStatusRequest(9))
    await raw_uni(conn, data)
    async with asyncio.timeout(5):
        while not fx.recorder.control:
            await asyncio.sleep(0.01)
    assert fx.recorder.control == [AuthStatus(AuthResult.UNKNOWN_ERROR)]
    await conn.agent_status()
    conn.close()


async def test_idle_connection_is_kept_alive_with_agent_status(fx: Fixture) -> None:
    config = TransportConfig(idle_timeout=1.0, keepalive_interval=0.3)
    conn = await fx.connect(config=config)
    await asyncio.sleep(2.5)
    assert not conn.closed.done()
    assert (await conn.agent_info()) == DEVICE_INFO
    conn.close()


async def test_idle_connection_without_keepalive_times_out(fx: Fixture) -> None:
    config = TransportConfig(idle_timeout=0.5, keepalive_interval=60)
    conn = await fx.connect(config=config)
    async with asyncio.timeout(5):
        await conn.wait_closed()


def test_credentials_are_read_once_per_version_of_the_files(tmp_path: Path) -> None:
    identity = AgentIdentity.load_or_create(tmp_path, model_name="m", instance_name="Before")
    creds = credentials(identity)
    first = quic_configuration(is_client=True, credentials=creds, config=TransportConfig())
    second = quic_configuration(is_client=True, credentials=creds, config=TransportConfig())
    assert second.private_key is first.private_key  # not read and parsed again
    assert second.certificate is first.certificate
    assert identity.rename("After")  # a new certificate, written atomically over the old file
    third = quic_configuration(is_client=True, credentials=creds, config=TransportConfig())
    assert third.certificate is not first.certificate
    assert third.certificate.public_bytes(Encoding.PEM) == identity.cert_path.read_bytes()
