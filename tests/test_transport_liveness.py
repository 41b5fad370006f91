"""Liveness (issue 16 item 5): a peer that vanishes (power cut, cable pulled) is noticed by the other
side's own keep-alive (agent-status-request, never a QUIC PING), and the connection ends with
ConnectionLost, "lost contact with ...", not "closed by peer". Real aioquic on loopback, with a UDP
relay that can be cut."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from device_sdk.errors import ConnectionLost
from device_sdk.identity import AgentIdentity
from device_sdk.transport import AgentConnection, Server, TransportConfig, connect, serve
from device_sdk.wire import AgentInfo, AgentStatusRequest, Message

from ._abuse import UdpRelay
from .conftest import credentials
from .test_transport_loopback import Recorder

pytestmark = pytest.mark.timeout(30)

DEVICE_INFO = AgentInfo("Nursery", "device_sdk test", (1100, 1300), "L1vene55", ())
CONTROLLER_INFO = AgentInfo("Phone", "device_sdk controller", (1100,), "Ph0ne000", ())


@dataclass
class Setup:
    server: Server
    relay: UdpRelay
    watcher: Recorder
    device: AgentIdentity
    controller: AgentIdentity

    async def connect(self, config: TransportConfig) -> AgentConnection:
        conn = await connect(
            "127.0.0.1",
            self.relay.port,
            credentials=credentials(self.controller),
            expected_fingerprint=self.device.fingerprint,
            server_name=self.device.hostname,
            local_info=lambda: CONTROLLER_INFO,
            config=config,
        )
        conn.set_authenticated()
        return conn


async def start(device: AgentIdentity, controller: AgentIdentity, config: TransportConfig) -> Setup:
    watcher = Recorder(authenticate=True)
    server = await serve(
        credentials=credentials(device),
        local_info=lambda: DEVICE_INFO,
        on_connection=lambda conn: watcher,
        host="127.0.0.1",
        config=config,
    )
    relay = await UdpRelay.start(("127.0.0.1", server.port))
    return Setup(server, relay, watcher, device, controller)


@pytest.fixture
async def setup(device_identity: AgentIdentity, controller_identity: AgentIdentity) -> AsyncIterator[Setup]:
    s = await start(device_identity, controller_identity, TransportConfig(liveness_timeout=60))
    yield s
    s.relay.close()
    s.server.close()


async def test_a_vanished_device_is_noticed_as_lost_contact(setup: Setup) -> None:
    conn = await setup.connect(TransportConfig(liveness_timeout=1.0))
    assert (await conn.agent_info()) == DEVICE_INFO  # the device's name is learnt from its agent-info
    setup.relay.cut()
    error = await asyncio.wait_for(conn.wait_closed(), 10)
    assert isinstance(error, ConnectionLost)
    assert error.peer == "Nursery"
    assert str(error).startswith("lost contact with Nursery: nothing heard for ")
    assert "closed by" not in str(error)
    assert error.silent_for >= 1.0 and not error.by_peer
    assert conn.is_closed


async def test_keepalives_keep_an_idle_connection_alive(setup: Setup) -> None:
    """Idle for three liveness timeouts: the controller's agent-status-requests are answered, so
    contact is never lost (the device side, with 60 s, never probes here)."""
    conn = await setup.connect(TransportConfig(liveness_timeout=0.4))
    await asyncio.sleep(1.5)
    assert not conn.is_closed
    assert not setup.watcher.lost
    await conn.agent_status()
    conn.close()


async def test_the_peer_is_named_by_its_address_until_its_name_is_known(setup: Setup) -> None:
    conn = await setup.connect(TransportConfig(liveness_timeout=0.5))
    setup.relay.cut()
    error = await asyncio.wait_for(conn.wait_closed(), 10)
    assert isinstance(error, ConnectionLost)
    assert error.peer == f"the device at 127.0.0.1:{setup.relay.port}"


async def test_the_quic_idle_timeout_also_reads_as_lost_contact(setup: Setup) -> None:
    """Without liveness probes (None), aioquic's idle timeout ends the connection: it used to read
    "connection closed by peer: 1 Idle timeout" though the peer said nothing."""
    conn = await setup.connect(TransportConfig(liveness_timeout=None, idle_timeout=0.5, keepalive_interval=60))
    setup.relay.cut()
    error = await asyncio.wait_for(conn.wait_closed(), 10)
    assert isinstance(error, ConnectionLost)
    assert "lost contact" in str(error) and "Idle timeout" not in str(error)


async def test_the_device_drops_a_vanished_controller(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    s = await start(device_identity, controller_identity, TransportConfig(liveness_timeout=0.5))
    try:
        conn = await s.connect(TransportConfig(liveness_timeout=60))
        await conn.agent_info()
        s.relay.cut()
        async with asyncio.timeout(10):
            while not s.watcher.lost:
                await asyncio.sleep(0.02)
        error = s.watcher.lost[0]
        assert isinstance(error, ConnectionLost)
        assert error.peer.startswith("the controller at 127.0.0.1:")
        async with asyncio.timeout(1):  # the server forgets it from the closed future's callback
            while s.server.connections:
                await asyncio.sleep(0.01)
    finally:
        s.relay.close()
        s.server.close()


async def test_probes_are_agent_status_requests(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    """The device's keep-alive arrives at the controller's handler as nothing (answered by the
    transport) but is visible as an AgentStatusRequest on the wire: record it with a handler-less peer."""
    seen: list[Message] = []
    s = await start(device_identity, controller_identity, TransportConfig(liveness_timeout=0.3))
    try:
        conn = await s.connect(TransportConfig(liveness_timeout=60))
        original = conn._control

        def spy(msg: Message) -> None:
            seen.append(msg)
            original(msg)

        conn._control = spy  # type: ignore[method-assign]
        await asyncio.sleep(0.6)
        assert any(isinstance(m, AgentStatusRequest) for m in seen)
        assert not conn.is_closed
        conn.close()
    finally:
        s.relay.close()
        s.server.close()


async def test_a_hold_up_of_this_loop_is_not_the_peers_silence(setup: Setup) -> None:
    """This side's event loop blocked past the liveness timeout (a blocking handler, a stalled
    machine): the live peer is probed once the loop runs again, and kept."""
    conn = await setup.connect(TransportConfig(liveness_timeout=0.4))
    await conn.agent_info()
    time.sleep(0.7)  # noqa: ASYNC251  # the point: the loop is held up (the device, 60 s, stays quiet)
    await asyncio.sleep(0.5)  # a probe and its answer
    assert not conn.is_closed and not setup.watcher.lost
    await asyncio.wait_for(conn.agent_status(), 5)
    conn.close()


async def test_a_peer_that_vanished_during_a_hold_up_is_still_lost(setup: Setup) -> None:
    conn = await setup.connect(TransportConfig(liveness_timeout=0.4))
    await conn.agent_info()
    setup.relay.cut()
    time.sleep(0.7)  # noqa: ASYNC251  # the loop is held up while the device vanishes
    held_up_until = asyncio.get_running_loop().time()
    error = await asyncio.wait_for(conn.wait_closed(), 10)
    assert isinstance(error, ConnectionLost)
    # one probe after the hold-up, unanswered for a repeat interval (0.1 s here)
    assert asyncio.get_running_loop().time() - held_up_until < 2.0
