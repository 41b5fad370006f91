"""Every use of aioquic internals, in one place.

aioquic has no public API for these things the profile needs:

- a server that asks for a client certificate (mutual TLS): its TLS context has a private flag,
  ``_request_client_certificate``, set here after the context is created;
- the peer's certificate after the handshake: ``tls._peer_certificate``;
- whether a datagram can leave now: the congestion window, bytes in flight and the datagram queue;
- that the peer has closed the connection: aioquic reports it only when draining ends, three probe
  timeouts later (about 100 ms on loopback), so its pending close event is read at once;
- receive windows that do not grow for a peer that is not authenticated (section 3, v1.1). aioquic
  doubles a stream's window when the highest offset received passes half of it
  (``_write_stream_limits``) and the connection's when the bytes received do
  (``_write_connection_limits``), whether or not anything was delivered: a peer sending one byte just
  under each limit makes it allocate the whole gap, again and again. :class:`BoundedQuicConnection`
  overrides both so that windows stay fixed before authentication and then slide by what was
  delivered (:class:`ReceiveWindows`); the number of streams a peer may open is set before the
  transport parameters are sent (``_local_max_streams_uni`` / ``_bidi``);
- the idle-timeout ending, which aioquic reports like a close with an error code
  (:func:`is_idle_timeout`);
- letting go of a finished connection's streams and TLS state at once (:func:`release`): aioquic's
  objects refer to each other (TLS callbacks, delivery handlers), so without this they wait for the
  cyclic garbage collector with every buffer they hold;
- whether both sides enabled DATAGRAM frames (:func:`datagrams_negotiated`) and the UDP port a server
  bound (:func:`server_port`, its ``_transport``);
- when acknowledgements leave (:class:`BoundedQuicConnection`): aioquic sends an ACK 1 ms after any
  ack-eliciting packet, in a packet of its own unless something else happens to leave after that
  moment. Here a pending ACK leaves with the next data sent (an answer carries the ACK of its request:
  one datagram each way), at once when a second ack-eliciting packet waits for it (RFC 9000 section
  13.2.2), and otherwise after :data:`ACK_DELAY_S` (``_ack_delay``, the ``ONE_RTT`` space's ``ack_at``);
- how many connection IDs the peer issues (``_local_active_connection_id_limit``): aioquic asks for 8,
  so each side sends 7 NEW_CONNECTION_ID frames after the handshake; a device on a local network needs
  the two the RFC requires at least (one spare for a change of address);
- the key shares a client offers (the TLS context's ``_supported_groups``): aioquic generates one for
  each of P-256, P-384, X25519 and X448 on every dial; here only X25519, which every device_sdk agent
  picks, and P-256, the one TLS 1.3 requires of everyone (:data:`CLIENT_KEY_SHARE_GROUPS`).

No module but this one names an aioquic private attribute.

``tests/test_transport_compat.py`` fails loudly if an aioquic release renames or changes any of these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aioquic import tls
from aioquic.asyncio.server import QuicServer
from aioquic.quic import events as qe
from aioquic.quic.connection import NetworkAddress, QuicConnection, QuicConnectionState
from aioquic.quic.packet import QuicErrorCode, QuicFrameType
from cryptography import x509

from ..errors import TransportError
from .limits import ResourceLimits, slid_limit

REQUEST_CLIENT_CERT_FLAG = "_request_client_certificate"

ACK_DELAY_S = 0.005
"""How long an acknowledgement waits for data to leave with, or for a second packet to acknowledge
(within the 25 ms ``max_ack_delay`` aioquic announces)."""
ACTIVE_CONNECTION_ID_LIMIT = 2
"""Connection IDs this agent asks its peer for (RFC 9000's minimum)."""
CLIENT_KEY_SHARE_GROUPS = (tls.Group.X25519, tls.Group.SECP256R1)
"""The key shares a dialling agent offers, in order of preference."""


class ReceiveWindows:
    """How a :class:`BoundedQuicConnection` grants receive credit.

    Fixed while ``sliding`` is False (the peer is not authenticated): the connection keeps the limit
    it announced in its transport parameters. Then each stream's limit follows what was delivered on
    it plus ``stream_window``, and the connection's what was delivered on all streams, less what the
    layer above still holds (``app_held()``: messages not yet complete), plus ``connection_window``.
    """

    __slots__ = ("_checked_used", "app_held", "connection_window", "sliding", "stream_window")

    def __init__(self, limits: ResourceLimits, app_held: Callable[[], int]) -> None:
        self.stream_window = limits.stream_window
        self.connection_window = limits.connection_window
        self.app_held = app_held
        self.sliding = False
        self._checked_used = -1


class BoundedQuicConnection(QuicConnection):
    """The QuicConnection device_sdk runs: receive windows that follow :attr:`receive_windows` (None:
    aioquic's rule), acknowledgements that leave with data (see the module docstring), a client that
    offers only the key shares of :data:`CLIENT_KEY_SHARE_GROUPS`."""

    receive_windows: ReceiveWindows | None = None

    def _initialize(self, peer_cid: bytes) -> None:
        super()._initialize(peer_cid)
        if self._is_client:
            if not hasattr(self.tls, "_supported_groups"):
                raise TransportError("this aioquic release has no list of key-share groups; see _aioquic_compat")
            self.tls._supported_groups = list(CLIENT_KEY_SHARE_GROUPS)

    def receive_datagram(self, data: bytes, addr: NetworkAddress, now: float) -> None:
        space = self._spaces.get(tls.Epoch.ONE_RTT)
        if space is None or space.ack_at is None:
            super().receive_datagram(data, addr, now)
            return
        largest = space.largest_received_packet
        super().receive_datagram(data, addr, now)
        if space.ack_at is not None and space.largest_received_packet != largest:
            space.ack_at = now  # a second packet waits for its acknowledgement: it is due

    def send_stream_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        super().send_stream_data(stream_id, data, end_stream)
        self._ack_with_data()

    def send_datagram_frame(self, data: bytes) -> None:
        super().send_datagram_frame(data)
        self._ack_with_data()

    def _ack_with_data(self) -> None:
        """Data is about to leave: a pending acknowledgement goes in the same packet."""
        space = self._spaces.get(tls.Epoch.ONE_RTT)
        if space is not None and space.ack_at is not None:
            space.ack_at = 0.0

    def _write_connection_limits(self, builder: Any, space: Any) -> None:
        windows = self.receive_windows
        if windows is None:
            super()._write_connection_limits(builder, space)
            return
        max_data = self._local_max_data
        used = max_data.used
        if windows.sliding and used != windows._checked_used and max_data.value - used < windows.connection_window // 2:
            windows._checked_used = used
            held = held_by_streams(self) + windows.app_held()
            limit = slid_limit(consumed=used - held, limit=max_data.value, window=windows.connection_window)
            if limit is not None:
                max_data.value = limit
        max_data.used = 0  # aioquic doubles the limit when used * 2 > value: hide what was used from it
        try:
            super()._write_connection_limits(builder, space)
        finally:
            max_data.used = used

    def _write_stream_limits(self, builder: Any, space: Any, stream: Any) -> None:
        windows = self.receive_windows
        if windows is None:
            super()._write_stream_limits(builder, space, stream)
            return
        receiver = stream.receiver
        if windows.sliding and stream.max_stream_data_local:
            limit = slid_limit(
                consumed=receiver.starting_offset(), limit=stream.max_stream_data_local, window=windows.stream_window
            )
            if limit is not None:
                stream.max_stream_data_local = limit
        highest = receiver.highest_offset
        receiver.highest_offset = 0  # aioquic doubles the window when highest * 2 > limit: hide it
        try:
            super()._write_stream_limits(builder, space, stream)
        finally:
            receiver.highest_offset = highest


def held_by_streams(connection: QuicConnection) -> int:
    """Bytes received on open streams and not yet delivered (the gaps a peer left)."""
    total = 0
    for stream in connection._streams.values():
        receiver = stream.receiver
        if not receiver.is_finished:
            total += receiver.highest_offset - receiver.starting_offset()
    return total


def bound_receive_windows(connection: QuicConnection, windows: ReceiveWindows, limits: ResourceLimits) -> None:
    """Before the handshake: windows of ``windows`` (fixed until :func:`lift_limits`), the stream
    counts a peer that is not authenticated may open, and this module's acknowledgement delay and
    connection-ID limit (the connection becomes a :class:`BoundedQuicConnection`)."""
    if not isinstance(connection, BoundedQuicConnection):
        connection.__class__ = BoundedQuicConnection
    assert isinstance(connection, BoundedQuicConnection)
    connection.receive_windows = windows
    connection._ack_delay = ACK_DELAY_S
    connection._local_active_connection_id_limit = ACTIVE_CONNECTION_ID_LIMIT
    _set_stream_limit(connection._local_max_streams_uni, limits.unauthenticated_uni_streams)
    _set_stream_limit(connection._local_max_streams_bidi, limits.unauthenticated_bidi_streams)


def _set_stream_limit(limit: Any, value: int) -> None:
    """Before the transport parameters are sent: the limit they announce."""
    limit.value = limit.sent = value


def lift_limits(connection: QuicConnection, limits: ResourceLimits) -> None:
    """The peer is authenticated: windows slide from now on, and it may open ``limits.streams``
    streams of each kind (aioquic announces the raise with MAX_STREAMS at its next packet)."""
    windows = getattr(connection, "receive_windows", None)
    if isinstance(windows, ReceiveWindows):
        windows.sliding = True
        windows._checked_used = -1
    for limit, initial in (
        (connection._local_max_streams_uni, limits.unauthenticated_uni_streams),
        (connection._local_max_streams_bidi, limits.unauthenticated_bidi_streams),
    ):
        finished = limit.value - initial  # aioquic raises the limit by one as each peer stream finishes
        limit.value = max(limit.value, finished + limits.streams)
    max_data = connection._local_max_data
    if isinstance(windows, ReceiveWindows):
        held = held_by_streams(connection) + windows.app_held()
        max_data.value = max(max_data.value, max_data.used - held + windows.connection_window)


def stream_counts(connection: QuicConnection) -> tuple[int, int]:
    """The stream limits announced to the peer (unidirectional, bidirectional)."""
    return connection._local_max_streams_uni.value, connection._local_max_streams_bidi.value


class MutualTLSServerConnection(BoundedQuicConnection):
    """A server-side QuicConnection whose TLS handshake requests a client certificate."""

    def _initialize(self, peer_cid: bytes) -> None:
        super()._initialize(peer_cid)
        if not hasattr(self.tls, REQUEST_CLIENT_CERT_FLAG):
            raise TransportError("this aioquic release has no client-certificate flag; see _aioquic_compat")
        setattr(self.tls, REQUEST_CLIENT_CERT_FLAG, True)


def require_client_certificate(connection: QuicConnection) -> None:
    """Make a not yet initialized server connection request a client certificate."""
    connection.__class__ = MutualTLSServerConnection


def datagrams_negotiated(connection: QuicConnection) -> bool:
    """Whether both sides enabled QUIC DATAGRAM frames (RFC 9221) in their transport parameters."""
    return bool(connection._remote_max_datagram_frame_size and connection._configuration.max_datagram_frame_size)


def server_port(server: QuicServer) -> int:
    """The UDP port a server is bound to."""
    transport = server._transport
    assert transport is not None
    return int(transport.get_extra_info("sockname")[1])


def peer_certificate(connection: QuicConnection) -> x509.Certificate | None:
    """The certificate the peer presented in the TLS handshake, if any."""
    tls = getattr(connection, "tls", None)
    cert = getattr(tls, "_peer_certificate", None)
    return cert if isinstance(cert, x509.Certificate) else None


def datagram_can_leave_now(connection: QuicConnection, size: int) -> bool:
    """True when a datagram of ``size`` bytes would be sent at once, not queued behind others.

    aioquic's datagram queue never expires frames; a caller that wants the newest state (a game
    pad) holds frames back while this is False and offers only its latest one later.
    """
    if connection._datagrams_pending:
        return False
    loss = connection._loss
    return bool(loss.congestion_window - loss.bytes_in_flight >= size + 64)


def stream_buffered(connection: QuicConnection, stream_id: int) -> int:
    """Bytes written to a stream and not yet acknowledged (sent or waiting)."""
    stream = connection._streams.get(stream_id)
    if stream is None:
        return 0
    sender = stream.sender
    return max(0, sender._buffer_stop - sender._buffer_start)


def peer_close(connection: QuicConnection) -> qe.ConnectionTerminated | None:
    """The peer's CONNECTION_CLOSE, as soon as it has arrived (the connection is draining), else None."""
    if connection._state is not QuicConnectionState.DRAINING:
        return None
    event = connection._close_event
    return event if isinstance(event, qe.ConnectionTerminated) else None


def is_idle_timeout(event: qe.ConnectionTerminated) -> bool:
    """Whether aioquic ended the connection because nothing was received for ``idle_timeout``, or
    because no network path was left: nobody sent a close, contact was lost."""
    if event.error_code == QuicErrorCode.NO_VIABLE_PATH:
        return True
    return (
        event.error_code == QuicErrorCode.INTERNAL_ERROR
        and event.frame_type == QuicFrameType.PADDING
        and event.reason_phrase == "Idle timeout"
    )


def is_terminated(connection: QuicConnection) -> bool:
    """Whether aioquic is done with the connection (closing or draining is over)."""
    return connection._state is QuicConnectionState.TERMINATED


def release(connection: QuicConnection) -> None:
    """Drop a terminated connection's streams, queues and TLS state now rather than at the next
    cyclic garbage collection (they hold every buffer the peer filled)."""
    if not is_terminated(connection):
        return
    connection._streams.clear()
    connection._streams_queue.clear()
    connection._streams_blocked_bidi.clear()
    connection._streams_blocked_uni.clear()
    connection._crypto_streams.clear()
    connection._datagrams_pending.clear()
    connection._events.clear()
    connection._crypto_buffers.clear()
    connection._cryptos.clear()
    connection._spaces.clear()
    # the frame handlers are bound methods of the connection: a cycle through every frame type
    handlers = getattr(connection, "_QuicConnection__frame_handlers", None)
    if isinstance(handlers, dict):
        handlers.clear()
    tls = getattr(connection, "tls", None)
    if tls is not None:
        for name in ("alpn_cb", "get_session_ticket_cb", "new_session_ticket_cb", "update_traffic_key_cb"):
            if hasattr(tls, name):
                setattr(tls, name, None)
        for name in ("key_schedule", "_key_schedule_psk", "_key_schedule_proxy", "_peer_certificate_chain"):
            if hasattr(tls, name):
                setattr(tls, name, None)
