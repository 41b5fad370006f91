"""Two :class:`OspConnection` objects paired in memory, with no sockets and no event loop, as aioquic's
``tests/test_connection.py`` runs ``client_and_server()``: two ``QuicConnection`` objects exchange their
datagrams by hand with a manual clock, real TLS 1.3 with certificates on both sides, the OSP framing and
gatekeeping of :class:`~device_sdk.transport.osp.OspConnection`, the SPAKE2 exchange driven by the pure
machines (:class:`DeviceAuth`, :class:`ControllerAuth`) and the pairing window's verdict, through key
confirmation, and then a data channel opened and a frame carried on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from aioquic.quic.connection import QuicConnection

from device_sdk.channels import SENSOR_PROTOCOL, dumps_frame, loads_frame
from device_sdk.identity import AgentIdentity
from device_sdk.pairing.auth import AdmissionRequested, Authenticated, AuthEvent, PskProvider, SendMessage
from device_sdk.pairing.auth_controller import ControllerAuth
from device_sdk.pairing.auth_device import DeviceAuth
from device_sdk.pairing.window import PairingMode, PairingWindow
from device_sdk.transport import TransportConfig
from device_sdk.transport._aioquic_compat import require_client_certificate
from device_sdk.transport.endpoint import quic_configuration
from device_sdk.transport.osp import (
    ConnectionEnded,
    ControlMessage,
    HandshakeDone,
    OspConnection,
    OspEvent,
    StreamMessage,
)
from device_sdk.wire import CloseCode, DataChannelOpenRequest, DataChannelOpenResponse, DataFrame, OpenResult

from .conftest import credentials

pytestmark = pytest.mark.timeout(30)

CLIENT_ADDR = ("10.0.0.2", 40001)
SERVER_ADDR = ("10.0.0.1", 4433)
PASSCODE = 20202021
T0 = 1_700_000_000.0


@dataclass(eq=False)
class Peer:
    """One side: its QUIC connection, the OSP layer over it, and the OSP events it has seen."""

    quic: QuicConnection
    osp: OspConnection
    events: list[OspEvent] = field(default_factory=list)

    def take(self, kind: type[OspEvent]) -> list[OspEvent]:
        taken = [e for e in self.events if isinstance(e, kind)]
        self.events = [e for e in self.events if not isinstance(e, kind)]
        return taken


class ClientAndServer:
    """A controller (QUIC client) and a device (QUIC server) wired to each other in memory."""

    def __init__(self, device: AgentIdentity, controller: AgentIdentity) -> None:
        config = TransportConfig()
        self.now = 1000.0  # QUIC's clock (monotonic); the pairing machines use T0 (wall clock)
        client = QuicConnection(
            configuration=quic_configuration(
                is_client=True, credentials=credentials(controller), config=config, server_name=device.hostname
            )
        )
        server = QuicConnection(
            configuration=quic_configuration(is_client=False, credentials=credentials(device), config=config),
            original_destination_connection_id=client.original_destination_connection_id,
        )
        require_client_certificate(server)
        self.controller = Peer(client, OspConnection(client))
        self.device = Peer(server, OspConnection(server))
        client.connect(SERVER_ADDR, now=self.now)

    def roundtrip(self, rounds: int = 40) -> None:
        """Carry datagrams both ways (firing due timers when idle) until both sides are quiet, and turn
        each side's QUIC events into OSP events."""
        for _ in range(rounds):
            moved = False
            for data, _addr in self.controller.quic.datagrams_to_send(now=self.now):
                self.device.quic.receive_datagram(data, CLIENT_ADDR, now=self.now)
                moved = True
            for data, _addr in self.device.quic.datagrams_to_send(now=self.now):
                self.controller.quic.receive_datagram(data, SERVER_ADDR, now=self.now)
                moved = True
            for peer in (self.controller, self.device):
                while (event := peer.quic.next_event()) is not None:
                    peer.events.extend(peer.osp.handle_event(event))
            if not moved:
                self.now += 0.03  # let delayed acknowledgements fall due
                for peer in (self.controller, self.device):
                    timer = peer.quic.get_timer()
                    if timer is not None and timer <= self.now:
                        peer.quic.handle_timer(now=self.now)


def drive(machine: DeviceAuth | ControllerAuth, peer: Peer, window: PairingWindow) -> list[AuthEvent]:
    """Act on a machine's events: send its messages over OSP, answer admission with the window's verdict."""
    outcome: list[AuthEvent] = []
    while (event := machine.next_event()) is not None:
        if isinstance(event, SendMessage):
            assert peer.osp.send_control(event.message) is not None
        elif isinstance(event, AdmissionRequested):
            assert isinstance(machine, DeviceAuth) and machine.controller_fp is not None
            verdict, _update = window.admit(T0, machine.controller_fp, trusted=False)
            machine.admit(verdict, T0)
        else:
            outcome.append(event)
    return outcome


def test_two_osp_connections_pair_in_memory_and_carry_a_channel(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    pair = ClientAndServer(device_identity, controller_identity)
    pair.roundtrip()
    # TLS is up: each side knows the other's SPKI fingerprint from its certificate.
    [device_done] = pair.device.take(HandshakeDone)
    [controller_done] = pair.controller.take(HandshakeDone)
    assert isinstance(device_done, HandshakeDone) and isinstance(controller_done, HandshakeDone)
    assert device_done.peer_fingerprint == controller_identity.fingerprint
    assert controller_done.peer_fingerprint == device_identity.fingerprint

    # Nothing but agent-info, agent-status and auth passes before authentication.
    window = PairingWindow(mode=PairingMode.STICKER, token_source=lambda: "abcdefghijklmnop")
    window.open(T0, "button")
    device_auth = DeviceAuth(
        device_fp=device_identity.fingerprint,
        controller_fp=device_done.peer_fingerprint,
        psk=PskProvider(mode=PairingMode.STICKER, passcode=PASSCODE),
    )
    controller_auth = ControllerAuth(
        controller_fp=controller_identity.fingerprint,
        device_fp=device_identity.fingerprint,
        token=window.token,
        passcode=PASSCODE,
    )
    device_auth.start(T0)
    controller_auth.start(T0)
    outcomes: dict[str, list[AuthEvent]] = {"device": [], "controller": []}
    for _ in range(20):  # the SPAKE2 exchange to key confirmation, one flight at a time
        outcomes["device"] += drive(device_auth, pair.device, window)
        outcomes["controller"] += drive(controller_auth, pair.controller, window)
        pair.roundtrip()
        for machine, peer in ((device_auth, pair.device), (controller_auth, pair.controller)):
            for received in peer.take(ControlMessage):
                assert isinstance(received, ControlMessage)
                machine.receive(received.message, T0)  # type: ignore[arg-type]
        if device_auth.finished and controller_auth.finished:
            break
    outcomes["device"] += drive(device_auth, pair.device, window)
    outcomes["controller"] += drive(controller_auth, pair.controller, window)
    [device_ok] = [e for e in outcomes["device"] if isinstance(e, Authenticated)]
    [controller_ok] = [e for e in outcomes["controller"] if isinstance(e, Authenticated)]
    assert isinstance(device_ok, Authenticated) and isinstance(controller_ok, Authenticated)
    assert device_ok.peer_fp == controller_identity.fingerprint
    assert controller_ok.peer_fp == device_identity.fingerprint
    assert device_ok.shared_key == controller_ok.shared_key  # both derived the same key, and confirmed it
    pair.device.osp.authenticated = pair.controller.osp.authenticated = True

    # A data channel: the controller opens it, the device answers and sends a reading on it.
    stream_id = pair.controller.osp.open_stream()
    pair.controller.osp.send_stream(stream_id, DataChannelOpenRequest(1, 0, "temperature", SENSOR_PROTOCOL))
    pair.roundtrip()
    [opened] = pair.device.take(StreamMessage)
    assert isinstance(opened, StreamMessage) and opened.stream_id == stream_id
    assert opened.message == DataChannelOpenRequest(1, 0, "temperature", SENSOR_PROTOCOL)
    pair.device.osp.send_stream(stream_id, DataChannelOpenResponse(1, OpenResult.SUCCESS))
    pair.device.osp.send_stream(stream_id, DataFrame(dumps_frame({"s": 1, "t": T0, "v": 21.5})))
    pair.roundtrip()
    answer, reading = pair.controller.take(StreamMessage)
    assert isinstance(answer, StreamMessage) and answer.message == DataChannelOpenResponse(1, OpenResult.SUCCESS)
    assert isinstance(reading, StreamMessage) and isinstance(reading.message, DataFrame)
    assert loads_frame(reading.message.payload) == {"s": 1, "t": T0, "v": 21.5}
    assert not pair.device.take(ConnectionEnded) and not pair.controller.take(ConnectionEnded)


def test_a_channel_before_authentication_closes_the_connection_with_401(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    pair = ClientAndServer(device_identity, controller_identity)
    pair.roundtrip()
    stream_id = pair.controller.osp.open_stream()
    pair.controller.osp.send_stream(stream_id, DataChannelOpenRequest(1, 0, "temperature", SENSOR_PROTOCOL))
    pair.roundtrip()
    assert not pair.device.take(StreamMessage)
    [ended] = pair.controller.take(ConnectionEnded)
    assert isinstance(ended, ConnectionEnded) and ended.by_peer and ended.code == CloseCode.UNAUTHORIZED
