"""The asyncio edge of the transport: aioquic sockets around :class:`OspConnection`.

The device side listens and the controller side dials (:mod:`device_sdk.transport.dial`); both give
an :class:`AgentConnection`, which answers agent-info and agent-status requests itself, keeps an
idle connection alive with agent-status, notices a peer that has gone silent (``liveness_timeout``),
bounds what an unauthenticated or unreading peer can make it hold (:class:`ResourceLimits`), and
hands everything else to a :class:`ConnectionHandler`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic import events as qe
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

from ..errors import ConfigError, ConnectionClosed, ConnectionLost, ConnectTimeout
from ..identity import AgentIdentity
from ..wire import (
    DEFAULT_MAX_MESSAGE_SIZE,
    AgentInfo,
    AgentInfoRequest,
    AgentInfoResponse,
    AgentStatusRequest,
    AgentStatusResponse,
    AuthSpake2Handshake,
    CloseCode,
    Message,
)
from ._aioquic_compat import (
    ReceiveWindows,
    bound_receive_windows,
    datagram_can_leave_now,
    datagrams_negotiated,
    is_terminated,
    lift_limits,
    peer_close,
    release,
)
from .limits import ResourceLimits, answers_unread
from .osp import (
    ConnectionEnded,
    ControlMessage,
    DatagramReceived,
    HandshakeDone,
    OspConnection,
    StreamEnded,
    StreamMessage,
)

log = logging.getLogger(__name__)

ALPN = "osp"
IDLE_TIMEOUT_S = 25.0
HELD_UP_S = 0.02
"""A liveness timer that fires this much later than it was due means the event loop was held up."""


@dataclass(frozen=True, kw_only=True)
class TransportConfig:
    """Transport settings shared by the device and the controller."""

    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    """Largest message accepted on a stream (413 above it)."""
    idle_timeout: float = IDLE_TIMEOUT_S
    """QUIC max_idle_timeout, seconds (the profile fixes 25 s)."""
    keepalive_interval: float = 10.0
    """Send agent-status-request after this many seconds without receiving anything."""
    liveness_timeout: float | None = 5.0
    """Give up on a peer that has sent nothing for this many seconds (power cut, crash, cable pulled):
    agent-status-requests go out once it has been silent for half of it, and the connection ends
    with :class:`~device_sdk.errors.ConnectionLost`. A baby monitor may want 2 s. None: only the QUIC
    idle timeout ends a silent connection."""
    datagrams: bool = True
    """Enable QUIC DATAGRAM frames (RFC 9221) for input channels."""
    handshake_timeout: float = 5.0
    """Controller side: give up connecting after this many seconds."""
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    """What a peer may make this agent hold (receive windows, streams, unauthenticated connections,
    unread answers); see ``docs/protocol.md`` section 3, "Resource bounds"."""

    def __post_init__(self) -> None:
        if self.liveness_timeout is not None and not self.liveness_timeout > 0:
            raise ConfigError(
                f"liveness_timeout must be a positive number of seconds or None, not {self.liveness_timeout!r}"
            )
        if not self.keepalive_interval > 0:
            raise ConfigError(
                f"keepalive_interval must be a positive number of seconds, not {self.keepalive_interval!r}"
            )


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """An agent's certificate and key files (see :mod:`device_sdk.identity`).

    The certificate and key, once loaded, are kept in the object itself (not in the process): the
    endpoint that uses it (a device's server, a controller's dials) holds them as long as it holds it.
    """

    cert_path: Path
    key_path: Path
    _loaded: list[tuple[tuple[int, ...], Any, list[Any], Any]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )
    """The last load: (files' version, certificate, chain, private key); at most one entry."""

    @classmethod
    def from_identity(cls, identity: AgentIdentity) -> Credentials:
        return cls(cert_path=identity.cert_path, key_path=identity.key_path)


def quic_configuration(
    *, is_client: bool, credentials: Credentials, config: TransportConfig, server_name: str | None = None
) -> QuicConfiguration:
    """The QUIC/TLS configuration of the profile: ALPN osp only, TLS 1.3, certificates on both sides."""
    qc = QuicConfiguration(
        is_client=is_client,
        alpn_protocols=[ALPN],
        idle_timeout=config.idle_timeout,
        max_datagram_frame_size=65536 if config.datagrams else None,
        server_name=server_name,
        verify_mode=ssl.CERT_NONE,  # no CA: the SPKI fingerprint is checked instead
        # Announced before the peer is known: what an unauthenticated peer gets (lifted once it is).
        max_data=config.limits.unauthenticated_connection_window,
        max_stream_data=config.limits.stream_window,
    )
    _load_cert_chain(qc, credentials)
    return qc


def _file_version(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_size


def _load_cert_chain(qc: QuicConfiguration, credentials: Credentials) -> None:
    """``qc.load_cert_chain`` once per version of the files, not for every connection: a controller
    dials often, and reading and parsing the key is on every dial's critical path. The files are
    replaced atomically (a new inode), so a renewed identity is loaded on the next connection. What is
    loaded stays in ``credentials`` (nothing is cached for the life of the process)."""
    try:
        version = _file_version(credentials.cert_path) + _file_version(credentials.key_path)
    except OSError:
        qc.load_cert_chain(credentials.cert_path, credentials.key_path)  # raises the clear error
        return
    loaded = credentials._loaded
    if loaded and loaded[0][0] == version:
        _, qc.certificate, chain, qc.private_key = loaded[0]
        qc.certificate_chain = list(chain)
        return
    qc.load_cert_chain(credentials.cert_path, credentials.key_path)
    loaded[:] = [(version, qc.certificate, list(qc.certificate_chain), qc.private_key)]


class ConnectionHandler:
    """What the device or controller does with a connection. Override what you need."""

    def connection_ready(self, conn: AgentConnection) -> None:
        """TLS is up; ``conn.peer_fingerprint`` is known (None: no client certificate). On the
        controller side, only once it matched the expected fingerprint. Called while the handshake's
        last datagram is processed: what is sent here leaves in the same flight."""

    def control_message(self, conn: AgentConnection, msg: Message) -> None:
        """A control message the connection does not answer itself (auth, agent-info-event)."""

    def stream_message(self, conn: AgentConnection, stream_id: int, msg: Message) -> None:
        """A message on a bidirectional (channel) stream."""

    def stream_ended(self, conn: AgentConnection, stream_id: int, reset_code: int | None) -> None:
        """The peer ended or reset a channel stream."""

    def datagram(self, conn: AgentConnection, data: bytes) -> None:
        """A QUIC DATAGRAM frame."""

    def connection_lost(self, conn: AgentConnection, error: ConnectionClosed) -> None:
        """The connection is over (:class:`~device_sdk.errors.ConnectionLost` when the peer went
        silent)."""

    def after_receive(self, conn: AgentConnection) -> None:
        """A UDP datagram was processed (acknowledgements may have freed send buffers)."""


_DETACHED = ConnectionHandler()
"""The handler of a connection that is over: the layer above is let go."""


class AgentConnection:
    """One OSP connection, device or controller side. Methods are called on the event loop.

    ``pairing_deadline`` (device side): close the connection with 401 if it is neither authenticated
    nor pairing (no auth-spake2-handshake received) that many seconds after it was created.
    """

    def __init__(
        self,
        protocol: _Protocol,
        *,
        is_client: bool,
        config: TransportConfig,
        local_info: Callable[[], AgentInfo],
        pairing_deadline: float | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self._protocol = protocol
        self.osp = OspConnection(protocol.quic, max_message_size=config.max_message_size)
        self.is_client = is_client
        self.config = config
        self.limits = config.limits
        bound_receive_windows(protocol.quic, ReceiveWindows(config.limits, self.osp.buffered), config.limits)
        self._local_info = local_info
        self.handler: ConnectionHandler = ConnectionHandler()
        self.peer_name: str | None = None
        """The peer's display name when known (from its agent-info, or set by the layer above); it
        names the peer in :class:`~device_sdk.errors.ConnectionLost`."""
        self.pairing_started = False
        """An auth-spake2-handshake has arrived from the (unauthenticated) peer."""
        self.peer_fingerprint: bytes | None = None
        self.expected_fingerprint: bytes | None = None
        """Controller side: the device's pinned or advertised fingerprint. Checked as the handshake
        completes, before anything is sent; a mismatch closes the connection with 401."""
        self.peer_address: tuple[str, int] | None = None
        self.alpn: str | None = None
        self._next_request_id = 1
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.ready: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[ConnectionClosed] = loop.create_future()
        now = loop.time()
        self.idle_since = now
        """Loop time of the last complete message received (or of the connection's start)."""
        self._last_heard = now  # loop time of the last UDP datagram received
        self._last_probe = 0.0
        self._rereading = False  # the watchdog was re-armed to read what a hold-up left waiting
        self._watchdog: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None
        if pairing_deadline is not None:
            self._deadline = loop.call_later(pairing_deadline, self._pairing_deadline_due)
        self._control_unacked: list[int] = []  # control streams sent and not yet acknowledged
        self._last_control_stream: int | None = None
        self._closing_task: asyncio.Task[None] | None = None
        self._finished = False

    # -- properties ------------------------------------------------------------------------------

    @property
    def authenticated(self) -> bool:
        return self.osp.authenticated

    def set_authenticated(self) -> None:
        """The peer is trusted (paired now or before): lift the gate on channel messages and the
        limits of an unauthenticated peer (windows slide, more streams)."""
        if self.osp.authenticated:
            return
        self.osp.authenticated = True
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if not self.osp.closed:
            lift_limits(self._protocol.quic, self.limits)
            self._protocol.transmit()

    @property
    def is_closed(self) -> bool:
        return self.osp.closed

    @property
    def datagrams_enabled(self) -> bool:
        """Both sides enabled QUIC DATAGRAM support."""
        return datagrams_negotiated(self._protocol.quic)

    # -- sending ---------------------------------------------------------------------------------

    def send_control(self, msg: Message) -> None:
        """Send a control message on a new unidirectional stream. A peer that leaves more than
        ``limits.unread_answer_*`` of them unacknowledged does not read them: closed with 429."""
        sid = self.osp.send_control(msg)
        if sid is not None:
            self._last_control_stream = sid
            unacked = self._control_unacked
            unacked.append(sid)
            buffered = self.osp.send_buffered
            sizes = [size for size in map(buffered, unacked) if size]
            if len(sizes) != len(unacked):
                unacked[:] = [s for s in unacked if buffered(s)]
            if answers_unread(sizes, self.limits):
                log.info("closing a connection whose peer does not read its answers (%d waiting)", len(sizes))
                self.close(CloseCode.TOO_MANY_ATTEMPTS, "answers not read")
                return
        self._protocol.transmit()

    def open_stream(self) -> int:
        return self.osp.open_stream()

    def send_stream(self, stream_id: int, msg: Message, *, end_stream: bool = False) -> None:
        self.osp.send_stream(stream_id, msg, end_stream=end_stream)
        self._protocol.transmit()

    def send_stream_raw(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        self.osp.send_stream_raw(stream_id, data, end_stream=end_stream)
        self._protocol.transmit()

    def end_stream(self, stream_id: int) -> None:
        self.osp.end_stream(stream_id)
        self._protocol.transmit()

    def reset_stream(self, stream_id: int, code: int) -> None:
        self.osp.reset_stream(stream_id, code)
        self._protocol.transmit()

    def stream_buffered(self, stream_id: int) -> int:
        return self.osp.send_buffered(stream_id)

    def datagram_can_leave_now(self, size: int) -> bool:
        return not self.osp.closed and datagram_can_leave_now(self._protocol.quic, size)

    def send_datagram(self, data: bytes) -> None:
        if not self.osp.closed:
            self._protocol.quic.send_datagram_frame(data)
            self._protocol.transmit()

    def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Close with an application error code (5139 is a normal close).

        The connection is over when this returns (``closed`` is done, the handler has been told):
        QUIC's closing period (three probe timeouts, which answer a peer that missed the close) runs
        on in the background, and aioquic's state is released when it ends."""
        if not self.osp.closed:
            self.osp.close(code, reason)
            self._protocol.transmit()
        self._closed_here()

    def _closed_here(self) -> None:
        """This side closed the connection (a call of :meth:`close`, or a peer that broke the
        rules): report it now rather than when the closing period ends."""
        closed_here = self.osp.closed_here
        if closed_here is not None and not self._finished:
            code, reason = closed_here
            self._finish(ConnectionClosed(code, reason, by_peer=False))

    def close_after_flush(self, code: int, reason: str = "", grace: float = 0.5) -> None:
        """Close once the control messages sent so far are acknowledged (or after ``grace`` s).

        aioquic sends only CONNECTION_CLOSE once closing, so a final auth-status must leave first.
        """
        if self.osp.closed or self._closing_task is not None:
            return

        async def later() -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + grace
            sid = self._last_control_stream
            # no event tells when data is acknowledged: poll briefly
            while sid is not None and self.osp.send_buffered(sid) and loop.time() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            self.close(code, reason)

        self._closing_task = asyncio.get_running_loop().create_task(later())

    async def wait_closed(self) -> ConnectionClosed:
        return await asyncio.shield(self.closed)

    # -- requests --------------------------------------------------------------------------------

    async def agent_info(self, timeout: float = 5.0) -> AgentInfo:
        """Ask the peer for its agent-info."""
        response = await self._request(AgentInfoRequest(self._new_request_id()), timeout)
        assert isinstance(response, AgentInfoResponse)
        return response.agent_info

    async def agent_status(self, timeout: float = 5.0) -> None:
        """A round trip of agent-status (keep-alive, liveness check)."""
        await self._request(AgentStatusRequest(self._new_request_id()), timeout)

    def _new_request_id(self) -> int:
        rid = self._next_request_id
        self._next_request_id += 1
        return rid

    def send_agent_status_request(self) -> asyncio.Future[Message]:
        """Send an agent-status request now (in the same flight as whatever else is being sent);
        the future gets the :class:`AgentStatusResponse`, or :class:`ConnectionClosed`."""
        return self._send_request(AgentStatusRequest(self._new_request_id()))

    def send_agent_info_request(self) -> asyncio.Future[Message]:
        """Send an agent-info request now (in the same flight as whatever else is being sent);
        the future gets the :class:`AgentInfoResponse`, or :class:`ConnectionClosed`."""
        return self._send_request(AgentInfoRequest(self._new_request_id()))

    def _send_request(self, msg: AgentInfoRequest | AgentStatusRequest) -> asyncio.Future[Message]:
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        if self.closed.done():
            fut.set_exception(self.closed.result())
            return fut
        self._pending[msg.request_id] = fut
        fut.add_done_callback(lambda f: self._request_done(msg.request_id, f))
        self.send_control(msg)
        return fut

    def _request_done(self, request_id: int, fut: asyncio.Future[Message]) -> None:
        self._pending.pop(request_id, None)
        if not fut.cancelled():
            fut.exception()  # retrieved: a request nobody waits for any more must not warn at exit

    async def _request(self, msg: AgentInfoRequest | AgentStatusRequest, timeout: float) -> Message:
        fut = self._send_request(msg)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            fut.cancel()
            raise ConnectTimeout(f"no answer to {type(msg).__name__} in {timeout:g} s") from None

    # -- events from the protocol ----------------------------------------------------------------

    def _quic_event(self, event: qe.QuicEvent) -> None:
        for ev in self.osp.handle_event(event):
            try:
                self._dispatch(ev)
            except Exception:  # a bug above must not take the whole endpoint down
                log.exception("error handling %s", type(ev).__name__)
                self.close(CloseCode.BAD_REQUEST, "internal error")
        if self.osp.closed:
            self._protocol.transmit()
            self._closed_here()

    def _dispatch(self, ev: object) -> None:
        if isinstance(ev, ControlMessage):
            self._note_activity()
            if isinstance(ev.message, AuthSpake2Handshake):
                self.pairing_started = True
            self._control(ev.message)
        elif isinstance(ev, StreamMessage):
            self._note_activity()
            self.handler.stream_message(self, ev.stream_id, ev.message)
        elif isinstance(ev, StreamEnded):
            self.handler.stream_ended(self, ev.stream_id, ev.reset_code)
        elif isinstance(ev, DatagramReceived):
            self.handler.datagram(self, ev.data)
        elif isinstance(ev, HandshakeDone):
            self._handshake_done(ev)
        elif isinstance(ev, ConnectionEnded):
            self._ended(ev)

    def _handshake_done(self, ev: HandshakeDone) -> None:
        self.alpn = ev.alpn
        self.peer_fingerprint = ev.peer_fingerprint
        self._note_activity()
        self._arm_watchdog(self._probe_after())
        if not self.ready.done():
            self.ready.set_result(None)
        expected = self.expected_fingerprint
        if self.is_client and expected is not None and self.peer_fingerprint != expected:
            self.close(CloseCode.UNAUTHORIZED, "device fingerprint mismatch")
            return
        # Now, while the handshake's last datagram is processed: what the handler sends leaves in
        # the same flight as the client's TLS Finished.
        self.handler.connection_ready(self)

    def _control(self, msg: Message) -> None:
        if isinstance(msg, AgentInfoRequest):
            self.send_control(AgentInfoResponse(msg.request_id, self._local_info()))
        elif isinstance(msg, AgentStatusRequest):
            self.send_control(AgentStatusResponse(msg.request_id))
        elif isinstance(msg, AgentInfoResponse | AgentStatusResponse):
            if isinstance(msg, AgentInfoResponse) and msg.agent_info.display_name:
                self.peer_name = msg.agent_info.display_name
            fut = self._pending.get(msg.request_id)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        else:
            self.handler.control_message(self, msg)

    def _ended(self, ev: ConnectionEnded) -> None:
        if ev.lost_contact:
            self._finish(ConnectionLost(self.peer_label, self._silent_for(), code=ev.code, reason=ev.reason))
        else:
            self._finish(ConnectionClosed(ev.code, ev.reason, by_peer=ev.by_peer))

    @property
    def peer_label(self) -> str:
        """How a person knows the peer: its name, else its address."""
        if self.peer_name:
            return self.peer_name
        what = "the device" if self.is_client else "the controller"
        if self.peer_address is None:
            return what
        host, port = self.peer_address
        return f"{what} at {f'[{host}]' if ':' in host else host}:{port}"

    def _silent_for(self) -> float:
        return asyncio.get_running_loop().time() - self._last_heard

    def _finish(self, error: ConnectionClosed) -> None:
        """Report the end of the connection once, with ``error``."""
        if self._finished:
            return
        self._finished = True
        for timer in (self._watchdog, self._deadline):
            if timer is not None:
                timer.cancel()
        self._watchdog = self._deadline = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(error)
        if not self.ready.done():
            self.ready.set_exception(error)
            self.ready.exception()  # mark retrieved: a refused handshake is reported elsewhere
        if not self.closed.done():
            self.closed.set_result(error)
        self.handler.connection_lost(self, error)

    def _released(self) -> None:
        """aioquic is done with the connection: let go of the layer above and of aioquic's buffers
        now, not at the next cyclic garbage collection."""
        self.handler = _DETACHED
        self._pending.clear()
        self.osp.release()
        release(self._protocol.quic)

    # -- keep-alive, liveness, deadlines ------------------------------------------------------------

    def _note_activity(self) -> None:
        """A complete message arrived: in the datagram being processed, whose arrival time
        :meth:`_Protocol.datagram_received` has just recorded (no clock read per message)."""
        self.idle_since = self._last_heard

    def _probe_after(self) -> float:
        """Seconds of silence after which the peer is sent an agent-status-request."""
        timeout = self.config.liveness_timeout
        interval = self.config.keepalive_interval
        return interval if timeout is None else min(interval, timeout / 2)

    def _arm_watchdog(self, delay: float) -> None:
        """One timer per connection, re-armed only when it fires: received datagrams only update
        a timestamp (no timer churn on the hot path)."""
        if self._watchdog is None and not self._finished:
            self._watchdog = asyncio.get_running_loop().call_later(max(delay, 0.001), self._watchdog_due)

    def _watchdog_due(self) -> None:
        """Probe a silent peer; give up on it once it has been silent for ``liveness_timeout`` and a
        probe sent after the last thing heard from it has had half a repeat interval to be answered.

        Only this side's own time counts against the peer. A watchdog that fires late (this event
        loop was held up: a blocking handler, a stalled machine) first lets the loop read what arrived
        meanwhile, and a peer that was never probed because of the hold-up is probed now rather than
        given up on."""
        handle, self._watchdog = self._watchdog, None
        if self.osp.closed:
            return
        now = asyncio.get_running_loop().time()
        silent = now - self._last_heard
        timeout = self.config.liveness_timeout
        probe_after = self._probe_after()
        repeat = probe_after / 2
        # Once per hold-up: a loop that stays busy still gives up on a silent peer.
        held_up = handle is not None and now - handle.when() > HELD_UP_S and not self._rereading
        self._rereading = False
        if timeout is not None and silent >= timeout:
            if held_up:
                self._rereading = True
                self._arm_watchdog(0.0)  # the datagrams already waiting are read before it fires
                return
            # a probe sent since the last thing heard, and given half a repeat to be answered
            # (without a hold-up the last one left a whole repeat ago: contact is lost on time)
            if self._last_probe > self._last_heard and now - self._last_probe >= repeat / 2:
                self._lose_contact(silent)
                return
        if silent >= probe_after and now - self._last_probe >= repeat:
            self._last_probe = now
            self.send_control(AgentStatusRequest(self._new_request_id()))
        # next: the first probe, else the next repeat (then contact is lost at the timeout, or a
        # repeat after a probe that a hold-up delayed past it)
        wake = self._last_heard + probe_after if silent < probe_after else self._last_probe + repeat
        if timeout is not None and silent < timeout:
            wake = min(wake, self._last_heard + timeout)
        self._arm_watchdog(wake - now)

    def _lose_contact(self, silent: float) -> None:
        """Nothing heard for ``liveness_timeout``: report it now (aioquic's closing period would add
        three probe timeouts, seconds when nothing is acknowledged) and close."""
        log.info("lost contact with %s: nothing heard for %.1f s", self.peer_label, silent)
        self._finish(ConnectionLost(self.peer_label, silent, code=CloseCode.NORMAL, reason="lost contact"))
        self.close(CloseCode.NORMAL, "lost contact")

    def _pairing_deadline_due(self) -> None:
        self._deadline = None
        if not self.osp.closed and not self.osp.authenticated and not self.pairing_started:
            log.info("closing a connection that did not start pairing in time")
            self.close(CloseCode.UNAUTHORIZED, "pairing not started in time")


class _Protocol(QuicConnectionProtocol):
    """aioquic's asyncio protocol, feeding one :class:`AgentConnection`."""

    conn: AgentConnection

    def __init__(self, quic: QuicConnection, *args: Any, **kwargs: Any) -> None:
        super().__init__(quic, *args, **kwargs)
        self.quic = quic
        """The sans-I/O connection this protocol drives (aioquic keeps it only in a private attribute)."""
        self.transport: asyncio.DatagramTransport | None = None
        """The socket's transport (a dialled connection's own; a device's is its server's)."""
        self.closer: asyncio.Task[None] | None = None
        """A dialled connection's socket closing once the connection's closing period is over."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def quic_event_received(self, event: qe.QuicEvent) -> None:
        self.conn._quic_event(event)
        if isinstance(event, qe.ConnectionTerminated) and is_terminated(self.quic):
            asyncio.get_running_loop().call_soon(self.conn._released)

    _batching = False
    _flush_scheduled = False
    flush_later = False
    """Send what the datagram being processed produced at the next turn of the event loop, after the
    tasks it woke up have run, and with what they send. Always so on the dialling (controller) side:
    a reading or an answer reaches the caller before this side's acknowledgement goes out (a send on
    loopback costs about as much as the caller's wake-up), and the client's TLS Finished leaves with
    the caller's first request. A device sends at once: its answers are made while the datagram is
    processed, and sending them is what its peer waits for."""

    def transmit(self) -> None:
        # While a received datagram is processed, whatever the handlers send leaves in one go at the end.
        if not self._batching:
            super().transmit()

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        self.conn._last_heard = asyncio.get_running_loop().time()
        self._batching = True
        try:
            super().datagram_received(data, addr)
            conn = self.conn
            closed_by_peer = peer_close(self.quic)
            if closed_by_peer is not None:
                conn._quic_event(closed_by_peer)  # now, not when draining ends 3 PTO later
            if not conn.osp.closed:
                try:
                    conn.handler.after_receive(conn)
                except Exception:
                    log.exception("error after receive")
        finally:
            self._batching = False
        if self.flush_later:
            if not self._flush_scheduled:
                self._flush_scheduled = True
                asyncio.get_running_loop().call_soon(self._flush)
        else:
            self.transmit()

    def _flush(self) -> None:
        self._flush_scheduled = False
        self.transmit()
