"""The aioquic internals that ``device_sdk/transport/_aioquic_compat.py`` relies on.

aioquic has no public API for a server that requests a client certificate, for the peer's
certificate, or for the send queues; these tests fail loudly when a new aioquic release renames or
changes any of them. Sans-I/O handshakes between two ``QuicConnection`` objects (real TLS, no
sockets) plus one real loopback handshake through :func:`serve` / :func:`connect`.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections import deque

import aioquic
import pytest
from aioquic import tls
from aioquic.quic import events as qe
from aioquic.quic.connection import QuicConnection, QuicConnectionState

from device_sdk.errors import ConnectTimeout
from device_sdk.identity import AgentIdentity, spki_fingerprint
from device_sdk.transport import AgentConnection, ConnectionHandler, TransportConfig, connect, serve
from device_sdk.transport._aioquic_compat import (
    ACK_DELAY_S,
    ACTIVE_CONNECTION_ID_LIMIT,
    CLIENT_KEY_SHARE_GROUPS,
    REQUEST_CLIENT_CERT_FLAG,
    BoundedQuicConnection,
    ReceiveWindows,
    bound_receive_windows,
    datagram_can_leave_now,
    datagrams_negotiated,
    held_by_streams,
    is_idle_timeout,
    is_terminated,
    lift_limits,
    peer_certificate,
    peer_close,
    release,
    require_client_certificate,
    server_port,
    stream_buffered,
    stream_counts,
)
from device_sdk.transport.endpoint import quic_configuration
from device_sdk.transport.limits import MIB, ResourceLimits
from device_sdk.wire import AgentInfo

from ._abuse import GapFiller
from .conftest import credentials

pytestmark = pytest.mark.timeout(30)

CLIENT_ADDR = ("127.0.0.1", 40001)
SERVER_ADDR = ("127.0.0.1", 40002)
INFO = AgentInfo("Compat Device", "device_sdk test", (1100, 1300), "C0mpat00", ())
AIOQUIC = f"aioquic {aioquic.__version__}"


class Pair:
    """A client and a server QuicConnection wired to each other in memory, with a manual clock."""

    def __init__(
        self,
        device: AgentIdentity,
        controller: AgentIdentity,
        *,
        mutual: bool = True,
        cfg: TransportConfig | None = None,
        bounded: bool = False,
        both_bounded: bool = False,
    ) -> None:
        cfg = cfg or TransportConfig()
        self.now = 1000.0
        self.client = QuicConnection(
            configuration=quic_configuration(
                is_client=True, credentials=credentials(controller), config=cfg, server_name=device.hostname
            )
        )
        self.server = QuicConnection(
            configuration=quic_configuration(is_client=False, credentials=credentials(device), config=cfg),
            original_destination_connection_id=self.client.original_destination_connection_id,
        )
        if mutual:
            require_client_certificate(self.server)
        self.windows: ReceiveWindows | None = None
        if bounded or both_bounded:
            self.windows = ReceiveWindows(cfg.limits, lambda: 0)
            bound_receive_windows(self.server, self.windows, cfg.limits)
        if both_bounded:  # as device_sdk runs both sides: its acknowledgements, key shares, CID limit
            bound_receive_windows(self.client, ReceiveWindows(cfg.limits, lambda: 0), cfg.limits)
        self.events: dict[str, list[qe.QuicEvent]] = {"client": [], "server": []}
        self.client.connect(SERVER_ADDR, now=self.now)

    def pump(self, rounds: int = 30) -> None:
        """Exchange datagrams (and fire due timers) until both sides are quiet."""
        for _ in range(rounds):
            moved = False
            for data, _addr in self.client.datagrams_to_send(now=self.now):
                self.server.receive_datagram(data, CLIENT_ADDR, now=self.now)
                moved = True
            for data, _addr in self.server.datagrams_to_send(now=self.now):
                self.client.receive_datagram(data, SERVER_ADDR, now=self.now)
                moved = True
            for name, conn in (("client", self.client), ("server", self.server)):
                while (ev := conn.next_event()) is not None:
                    self.events[name].append(ev)
            if not moved:
                self.now += 0.03  # let delayed ACKs fall due
                for conn in (self.client, self.server):
                    timer = conn.get_timer()
                    if timer is not None and timer <= self.now:
                        conn.handle_timer(now=self.now)

    def deliver(self, sender: QuicConnection, receiver: QuicConnection) -> int:
        """Hand what ``sender`` sends now to ``receiver``; how many datagrams that was."""
        datagrams = sender.datagrams_to_send(now=self.now)
        addr = CLIENT_ADDR if sender is self.client else SERVER_ADDR
        for data, _addr in datagrams:
            receiver.receive_datagram(data, addr, now=self.now)
        return len(datagrams)

    def completed(self, side: str) -> bool:
        return any(isinstance(ev, qe.HandshakeCompleted) for ev in self.events[side])


def test_tls_context_has_the_client_certificate_flag() -> None:
    ctx = tls.Context(is_client=False)
    assert hasattr(ctx, REQUEST_CLIENT_CERT_FLAG), f"{AIOQUIC}: tls.Context lost {REQUEST_CLIENT_CERT_FLAG}"
    assert getattr(ctx, REQUEST_CLIENT_CERT_FLAG) is False
    assert hasattr(ctx, "_peer_certificate"), f"{AIOQUIC}: tls.Context lost _peer_certificate"


def test_mutual_tls_handshake_in_memory(device_identity: AgentIdentity, controller_identity: AgentIdentity) -> None:
    pair = Pair(device_identity, controller_identity)
    pair.pump()
    assert pair.completed("client") and pair.completed("server")
    assert getattr(pair.server.tls, REQUEST_CLIENT_CERT_FLAG) is True
    client_cert = peer_certificate(pair.server)
    assert client_cert is not None, f"{AIOQUIC}: no tls._peer_certificate after a mutual-TLS handshake"
    assert spki_fingerprint(client_cert) == controller_identity.fingerprint
    server_cert = peer_certificate(pair.client)
    assert server_cert is not None
    assert spki_fingerprint(server_cert) == device_identity.fingerprint


def test_datagrams_negotiated_reads_both_sides_transport_parameters(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    both = Pair(device_identity, controller_identity)
    both.pump()
    assert datagrams_negotiated(both.client) and datagrams_negotiated(both.server), (
        f"{AIOQUIC}: _remote_max_datagram_frame_size / _configuration.max_datagram_frame_size changed"
    )
    one = Pair(device_identity, controller_identity, cfg=TransportConfig(datagrams=False))
    one.pump()
    assert not datagrams_negotiated(one.client) and not datagrams_negotiated(one.server)


def test_peer_close_is_seen_while_draining(device_identity: AgentIdentity, controller_identity: AgentIdentity) -> None:
    pair = Pair(device_identity, controller_identity)
    pair.pump()
    assert peer_close(pair.client) is None
    pair.server.close(error_code=0x1000 + 403, reason_phrase="pairing window closed")
    for data, _addr in pair.server.datagrams_to_send(now=pair.now):
        pair.client.receive_datagram(data, SERVER_ADDR, now=pair.now)
    closed = peer_close(pair.client)
    assert closed is not None, f"{AIOQUIC}: no _close_event while draining after the peer's CONNECTION_CLOSE"
    assert (closed.error_code, closed.reason_phrase) == (0x1000 + 403, "pairing window closed")
    assert peer_close(pair.server) is None  # our own close is not the peer's


def test_without_the_flag_no_client_certificate(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    """The flag is what makes the difference: without it the server never sees a client certificate."""
    pair = Pair(device_identity, controller_identity, mutual=False)
    pair.pump()
    assert pair.completed("server")
    assert peer_certificate(pair.server) is None


def test_send_queue_internals(device_identity: AgentIdentity, controller_identity: AgentIdentity) -> None:
    pair = Pair(device_identity, controller_identity)
    pair.pump()
    client = pair.client
    for name in ("_datagrams_pending", "_loss", "_streams"):
        assert hasattr(client, name), f"{AIOQUIC}: QuicConnection lost {name}"
    assert isinstance(client._datagrams_pending, deque)
    assert isinstance(client._streams, dict)
    assert isinstance(client._loss.congestion_window, int) and client._loss.congestion_window > 0
    assert isinstance(client._loss.bytes_in_flight, int)

    # datagrams: can leave now, then queued behind a pending one, then free again once sent
    assert datagram_can_leave_now(client, 100)
    assert not datagram_can_leave_now(client, client._loss.congestion_window)
    client.send_datagram_frame(b"\x01" * 100)
    assert len(client._datagrams_pending) == 1
    assert not datagram_can_leave_now(client, 100)
    pair.pump()
    assert not client._datagrams_pending
    assert datagram_can_leave_now(client, 100)
    assert any(isinstance(ev, qe.DatagramFrameReceived) for ev in pair.events["server"])

    # stream send buffer: bytes written and not yet acknowledged
    stream_id = client.get_next_available_stream_id()
    client.send_stream_data(stream_id, b"\x02" * 10_000)
    sender = client._streams[stream_id].sender
    for name in ("_buffer_start", "_buffer_stop"):
        assert hasattr(sender, name), f"{AIOQUIC}: QuicStreamSender lost {name}"
    assert stream_buffered(client, stream_id) == 10_000
    client.datagrams_to_send(now=pair.now)  # sent, not yet acknowledged
    assert stream_buffered(client, stream_id) == 10_000
    pair.pump()
    assert stream_buffered(client, stream_id) == 0
    assert stream_buffered(client, 999_999) == 0  # an unknown stream
    received = b"".join(
        ev.data for ev in pair.events["server"] if isinstance(ev, qe.StreamDataReceived) and ev.stream_id == stream_id
    )
    assert received == b"\x02" * 10_000


class _Capture(ConnectionHandler):
    def __init__(self) -> None:
        self.connections: list[AgentConnection] = []


async def test_peer_certificate_over_real_loopback(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    """serve()/connect() on 127.0.0.1: the device sees the controller's fingerprint, and vice versa."""
    capture = _Capture()

    def on_connection(conn: AgentConnection) -> ConnectionHandler:
        capture.connections.append(conn)
        return capture

    server = await serve(
        credentials=credentials(device_identity),
        local_info=lambda: INFO,
        on_connection=on_connection,
        host="127.0.0.1",
    )
    try:
        conn = await connect(
            "127.0.0.1",
            server.port,
            credentials=credentials(controller_identity),
            expected_fingerprint=device_identity.fingerprint,
            server_name=device_identity.hostname,
            local_info=lambda: INFO,
        )
        assert conn.peer_fingerprint == device_identity.fingerprint
        assert await conn.agent_info() == INFO
        assert server.port == server_port(server._server) > 0, f"{AIOQUIC}: QuicServer lost _transport"
        assert len(capture.connections) == 1
        device_side = capture.connections[0]
        await asyncio.wait_for(device_side.ready, 5)
        assert device_side.peer_fingerprint == controller_identity.fingerprint, (
            f"{AIOQUIC}: the device did not get the client certificate (tls._peer_certificate)"
        )
        # A close by the peer is reported at once, while aioquic still drains (it reports it 3 PTO later).
        device_side.close(4403, "bye")
        ended = await asyncio.wait_for(conn.wait_closed(), 5)
        assert (ended.code, ended.reason, ended.by_peer) == (4403, "bye", True)
        assert conn._protocol.quic._state is QuicConnectionState.DRAINING
    finally:
        server.close()


async def test_a_dial_that_times_out_leaves_no_unread_error(controller_identity: AgentIdentity) -> None:
    """A dial that gave up (the device never answered) leaves no error for asyncio to report as never
    retrieved: the connection's ``ready`` future fails when the abandoned connection closes."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # takes the Initial, never answers
    silent.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        with pytest.raises(ConnectTimeout):
            await connect(
                "127.0.0.1",
                silent.getsockname()[1],
                credentials=credentials(controller_identity),
                expected_fingerprint=bytes(32),
                server_name="x.local",
                local_info=lambda: INFO,
                config=TransportConfig(handshake_timeout=0.3),
            )
        await asyncio.sleep(0.2)
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
        silent.close()
    assert not [c for c in reported if "never retrieved" in str(c.get("message"))], (
        "an abandoned dial left an error nobody read"
    )


# -- receive windows (profile v1.1 section 3) --------------------------------------------------------


def gap_bytes(conn: QuicConnection) -> int:
    """What the receiver allocated for the gaps: the length of every stream's receive buffer."""
    return sum(len(stream.receiver._buffer) for stream in conn._streams.values())


def attack(pair: Pair, rounds: int, *, stop_at: int = 1 << 62) -> GapFiller:
    filler = GapFiller(pair.client, streams=8)
    for _ in range(rounds):
        filler.step()
        pair.pump(rounds=4)
        if gap_bytes(pair.server) > stop_at:
            break
    return filler


def test_aioquic_alone_grows_its_windows_for_a_gap_filler(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    """The attack of issue 13, reproduced: with aioquic's own rule (the window doubles once the
    highest offset received passes half of it) a few bytes make the receiver allocate ever more.
    If this fails, aioquic changed the rule that BoundedQuicConnection overrides: read its
    _write_stream_limits / _write_connection_limits again."""
    plain = TransportConfig(limits=ResourceLimits(unauthenticated_connection_window=1 * MIB))
    pair = Pair(device_identity, controller_identity, cfg=plain)
    pair.pump()
    assert type(pair.server) is not BoundedQuicConnection or pair.server.receive_windows is None
    filler = attack(pair, 40, stop_at=64 * MIB)
    assert gap_bytes(pair.server) > 64 * MIB, f"{AIOQUIC}: the windows no longer double on a gap"
    assert filler.offered > 64 * MIB
    for stream in pair.server._streams.values():
        assert stream.receiver.highest_offset - stream.receiver.starting_offset() == len(stream.receiver._buffer)


def test_bounded_windows_stay_fixed_for_an_unauthenticated_peer(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    limits = ResourceLimits()
    pair = Pair(device_identity, controller_identity, bounded=True)
    pair.pump()
    # what the transport parameters announced: the unauthenticated bounds
    assert pair.client._remote_max_data == limits.unauthenticated_connection_window
    assert pair.client._remote_max_streams_uni == limits.unauthenticated_uni_streams
    assert pair.client._remote_max_streams_bidi == limits.unauthenticated_bidi_streams
    attack(pair, 40)
    assert 0 < held_by_streams(pair.server) <= limits.unauthenticated_connection_window
    assert gap_bytes(pair.server) == held_by_streams(pair.server)
    assert pair.server._local_max_data.value == limits.unauthenticated_connection_window
    assert all(s.max_stream_data_local == limits.stream_window for s in pair.server._streams.values())


def test_bounded_windows_slide_after_authentication(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    """An authenticated peer streams as much as it likes in order, but gaps stay within the
    connection window, and MAX_STREAMS lets it open the authenticated number of streams."""
    limits = ResourceLimits()
    pair = Pair(device_identity, controller_identity, bounded=True)
    pair.pump()
    for _ in range(3):  # three unidirectional streams opened and finished before authentication
        pair.client.send_stream_data(pair.client.get_next_available_stream_id(is_unidirectional=True), b"x", True)
    pair.pump()
    lift_limits(pair.server, limits)
    # 128 more may be open at once: three were opened and finished already
    assert stream_counts(pair.server) == (limits.streams + 3, limits.streams)
    pair.pump()
    assert pair.client._remote_max_streams_uni == limits.streams + 3
    assert pair.client._remote_max_data >= limits.connection_window
    # in order: 12 MiB on one stream, far beyond every window, all delivered
    sid = pair.client.get_next_available_stream_id()
    chunk = b"\x01" * 65536
    for _ in range(12 * 16):
        pair.client.send_stream_data(sid, chunk)
        pair.pump(rounds=3)
    for _ in range(1000):
        if not stream_buffered(pair.client, sid):
            break
        pair.pump(rounds=3)
    received = sum(
        len(ev.data) for ev in pair.events["server"] if isinstance(ev, qe.StreamDataReceived) and ev.stream_id == sid
    )
    assert received == 12 * MIB
    # gaps: bounded by the connection window however long the attack goes on
    attack(pair, 60)
    assert held_by_streams(pair.server) <= limits.connection_window
    assert gap_bytes(pair.server) <= limits.connection_window


def test_idle_timeout_is_recognized(device_identity: AgentIdentity, controller_identity: AgentIdentity) -> None:
    pair = Pair(device_identity, controller_identity, cfg=TransportConfig(idle_timeout=1.0))
    pair.pump()
    pair.now += 5.0
    pair.client.handle_timer(now=pair.now)
    ended = [ev for ev in iter(pair.client.next_event, None) if isinstance(ev, qe.ConnectionTerminated)]
    assert ended, f"{AIOQUIC}: no ConnectionTerminated after the idle timeout"
    assert is_idle_timeout(ended[0]), f"{AIOQUIC}: the idle-timeout ending changed: {ended[0]}"
    assert is_terminated(pair.client)
    peer_said = qe.ConnectionTerminated(error_code=1, frame_type=None, reason_phrase="Idle timeout")
    assert not is_idle_timeout(peer_said)  # a CONNECTION_CLOSE from the peer is not a lost contact


def test_release_drops_a_terminated_connections_buffers(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    pair = Pair(device_identity, controller_identity, bounded=True)
    pair.pump()
    attack(pair, 5)
    assert gap_bytes(pair.server) > 0
    release(pair.server)  # not terminated yet: nothing happens
    assert gap_bytes(pair.server) > 0
    pair.server.close(error_code=0x1000 + 5139)
    for _ in range(50):
        pair.pump(rounds=2)
        if is_terminated(pair.server):
            break
        pair.now += 0.5
    assert is_terminated(pair.server)
    handlers = getattr(pair.server, "_QuicConnection__frame_handlers", None)
    assert isinstance(handlers, dict) and handlers, f"{AIOQUIC}: QuicConnection lost its frame handlers table"
    release(pair.server)
    assert not pair.server._streams and not pair.server._streams_queue
    assert not pair.server._crypto_buffers and not pair.server._cryptos and not pair.server._spaces
    assert not handlers
    assert pair.server.tls.update_traffic_key_cb is None
    assert pair.server.get_timer() is None and pair.server.datagrams_to_send(now=pair.now) == []


# -- acknowledgements, key shares, connection IDs ------------------------------------------------------


def test_an_answer_carries_the_acknowledgement_of_its_request(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    """One datagram each way for a request and its answer: the answer's datagram acknowledges the
    request (aioquic alone would send the acknowledgement 1 ms later, in a datagram of its own)."""
    pair = Pair(device_identity, controller_identity, both_bounded=True)
    pair.pump()
    space = pair.server._spaces[tls.Epoch.ONE_RTT]
    assert hasattr(space, "ack_at") and hasattr(space, "largest_received_packet"), f"{AIOQUIC}: packet space changed"
    assert pair.server._ack_delay == ACK_DELAY_S, f"{AIOQUIC}: QuicConnection lost _ack_delay"
    sid = pair.client.get_next_available_stream_id()
    pair.client.send_stream_data(sid, b"request")
    assert pair.deliver(pair.client, pair.server) == 1
    assert pair.client._loss.bytes_in_flight > 0
    assert pair.deliver(pair.server, pair.client) == 0  # nothing to send yet: the acknowledgement waits
    pair.server.send_stream_data(sid, b"answer")
    assert pair.deliver(pair.server, pair.client) == 1
    assert pair.client._loss.bytes_in_flight == 0, f"{AIOQUIC}: the answer did not acknowledge the request"
    # the next request acknowledges the answer in turn
    pair.client.send_stream_data(sid, b"request 2")
    assert pair.deliver(pair.client, pair.server) == 1
    assert pair.server._loss.bytes_in_flight == 0


def test_a_lone_packet_is_acknowledged_after_the_delay_and_a_second_one_at_once(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    pair = Pair(device_identity, controller_identity, both_bounded=True)
    pair.pump()
    sid = pair.client.get_next_available_stream_id()
    pair.client.send_stream_data(sid, b"one")
    pair.deliver(pair.client, pair.server)
    assert pair.server.datagrams_to_send(now=pair.now) == []
    timer = pair.server.get_timer()
    assert timer is not None and timer == pytest.approx(pair.now + ACK_DELAY_S)
    pair.now += ACK_DELAY_S
    pair.server.handle_timer(now=pair.now)
    assert pair.deliver(pair.server, pair.client) == 1  # the acknowledgement alone
    assert pair.client._loss.bytes_in_flight == 0
    for chunk in (b"two", b"three"):
        pair.client.send_stream_data(sid, chunk)
        assert pair.deliver(pair.client, pair.server) == 1
    assert pair.deliver(pair.server, pair.client) == 1  # two waiting: acknowledged at once
    assert pair.client._loss.bytes_in_flight == 0


def test_a_client_offers_two_key_shares_and_x25519_is_used(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    pair = Pair(device_identity, controller_identity, both_bounded=True)
    pair.pump()
    assert pair.completed("client") and pair.completed("server")
    assert list(pair.client.tls._supported_groups) == list(CLIENT_KEY_SHARE_GROUPS)
    assert pair.server.tls._x25519_private_key is not None, f"{AIOQUIC}: the server did not pick X25519"
    assert not pair.server.tls._ec_private_keys


def test_each_side_issues_one_spare_connection_id(
    device_identity: AgentIdentity, controller_identity: AgentIdentity
) -> None:
    """aioquic asks for 8 connection IDs (7 NEW_CONNECTION_ID frames each way); device_sdk for 2."""
    pair = Pair(device_identity, controller_identity, both_bounded=True)
    pair.pump()
    assert pair.client._local_active_connection_id_limit == ACTIVE_CONNECTION_ID_LIMIT
    assert len(pair.client._peer_cid_available) == ACTIVE_CONNECTION_ID_LIMIT - 1
    assert len(pair.server._peer_cid_available) == ACTIVE_CONNECTION_ID_LIMIT - 1
