"""The device's connections: authentication and channel sessions on each one, frames pumped out.

:class:`DeviceSession` is the :class:`~device_sdk.transport.ConnectionHandler` of each connection.
It hands auth messages to the device's pairing runner (:mod:`device_sdk.device.pairing`), data
channels to :class:`~device_sdk.channels.ChannelSession` objects, and pumps frames out as the QUIC
stream buffers drain (flow control: a slow controller's frames wait in its own bounded queue).
:class:`SessionHub` is what the connections share: the registry's events and actuator calls. Both
get what they need in a :class:`SessionContext` (the registry, the trust store, the pairing runner and
a clock), never the device.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..channels import (
    CallsReady,
    ChannelRegistry,
    ChannelSession,
    FrameError,
    InputSession,
    OpenRefused,
    PeerInfo,
    SensorSession,
    SessionReady,
    dumps_frame,
    encode_input_datagram,
    loads_frame,
)
from ..channels.runner import start_call
from ..errors import ConnectionClosed
from ..pairing.trust import DeviceTrustStore
from ..transport import AgentConnection, ConnectionHandler
from ..wire import (
    AuthMessage,
    CloseCode,
    DataChannelOpenRequest,
    DataChannelOpenResponse,
    DataFrame,
    Message,
    OpenResult,
    encode_message,
)
from .pairing import PairingRunner

log = logging.getLogger(__name__)

REVOKED_CLOSE_GRACE_S = 0.5
"""A removed controller's connection closes once what it was sent has left, or after this long."""
STREAM_HIGH_WATER = 64 * 1024
"""Stop pulling frames for a channel while this much is unacknowledged on its stream."""
READING_HIGH_WATER = 8 * 1024
"""The same for sensor and input channels (a few hundred readings): readings wait in the session's
bounded queue, which drops the oldest, rather than in QUIC's send buffer, which never drops; so a
stalled controller gets the newest readings when it comes back, not seconds of backlog. 8 KiB rather
than 4: aioquic delays its acknowledgements by 1 ms, so 4 KiB in flight caps a stream near 4 MB/s and
made bench/channels.py (a) slower and less steady; 32 KiB keeps half a stalled second in flight."""
PUMP_BYTES = 16 * 1024
DATAGRAM_SIZE_ESTIMATE = 256
"""Room asked of the congestion window before an input frame is handed to aioquic."""


@dataclass(frozen=True, kw_only=True)
class SessionContext:
    """What the device's connections need from the device."""

    registry: ChannelRegistry
    """The device's channels: opens, frames, actuator calls."""
    trust: DeviceTrustStore
    """Who may open channels, and with which role."""
    pairing: PairingRunner
    """Takes each connection's authentication."""
    clock: Callable[[], float]
    """Unix time (for frames received and calls run)."""


class SessionHub:
    """State shared by the connections of one device."""

    def __init__(self, context: SessionContext) -> None:
        self.context = context
        self.sessions: set[DeviceSession] = set()
        self.owners: weakref.WeakKeyDictionary[ChannelSession, DeviceSession] = weakref.WeakKeyDictionary()
        """Which connection each open channel session belongs to."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._running_calls = False
        self._encoded: dict[int, tuple[object, bytes]] = {}  # id(frame) -> (frame, its data-frame)
        self._forget_encoded: asyncio.Handle | None = None

    def registry_event(self, event: object) -> None:
        if isinstance(event, SessionReady):
            owner = self.owners.get(event.session)
            if owner is not None:
                owner.schedule_pump()
        elif isinstance(event, CallsReady):
            self._run_calls()

    def _run_calls(self) -> None:
        """Run the calls that are ready, here and now: a synchronous handler answers before the
        datagram that asked is done with, so the answer leaves with its acknowledgement; an async
        handler goes on in a task. A call that makes the next one ready (the same channel's next
        request) does not nest: the loop takes it."""
        if self._running_calls:
            return
        self._running_calls = True
        try:
            registry, clock = self.context.registry, self.context.clock
            while calls := registry.take_calls():
                for call in calls:
                    start_call(call, clock=clock, spawn=self.spawn)
        finally:
            self._running_calls = False

    def reading_data(self, frame: object) -> bytes:
        """The data-frame message of a reading ``frame``, encoded once for every connection it goes
        to: a sensor or an input queues the same frame object in each subscriber's session, so the
        connections pumped in one turn of the event loop share the bytes (a connection pumped later,
        say after a stall, encodes it again). The frames are held until the next turn, so an ``id``
        is not reused while its entry is kept."""
        entry = self._encoded.get(id(frame))
        if entry is not None and entry[0] is frame:
            return entry[1]
        data = _encode_frame(frame)
        self._encoded[id(frame)] = (frame, data)
        if self._forget_encoded is None:
            self._forget_encoded = asyncio.get_running_loop().call_soon(self._forget)
        return data

    def _forget(self) -> None:
        self._forget_encoded = None
        self._encoded.clear()

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def revoke(self, fp: bytes, reason: str) -> None:
        """Controller ``fp`` is no longer trusted: close its connections with 401 once the answers
        already queued for it (the one that acknowledges its removal) have left."""
        for session in list(self.sessions):
            if session.conn.peer_fingerprint == fp:
                session.close_after_answers(CloseCode.UNAUTHORIZED, reason)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for session in list(self.sessions):
            session.shutdown()


class DeviceSession(ConnectionHandler):
    """One controller's connection to the device."""

    def __init__(self, hub: SessionHub, conn: AgentConnection) -> None:
        self.hub = hub
        self.context = hub.context
        self.conn = conn
        self.pairing = hub.context.pairing
        self.channels: dict[int, ChannelSession] = {}
        self._channel_ids: dict[int, int] = {}  # stream id -> channel id
        self._pump_handle: asyncio.Handle | None = None
        self._blocked = False
        self._datagram_timer: asyncio.TimerHandle | None = None
        self._closing = False
        hub.sessions.add(self)

    # -- connection lifecycle ------------------------------------------------------------------

    def connection_ready(self, conn: AgentConnection) -> None:
        self.pairing.connection_ready(conn)

    def connection_lost(self, conn: AgentConnection, error: ConnectionClosed) -> None:
        self.pairing.connection_lost(conn)
        self.shutdown()

    def shutdown(self) -> None:
        self.hub.sessions.discard(self)
        if self._datagram_timer is not None:
            self._datagram_timer.cancel()
        for session in self.channels.values():
            session.close()
        self.channels.clear()

    def close_after_answers(self, code: int, reason: str) -> None:
        """Close the connection once the frames queued for it have left (or after a grace period)."""
        if self._closing or self.conn.is_closed:
            return
        self._closing = True
        self.hub.spawn(self._close_when_sent(code, reason))

    async def _close_when_sent(self, code: int, reason: str) -> None:
        # Runs after the admin call that removed this peer has queued its answer.
        self._pump()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REVOKED_CLOSE_GRACE_S
        while loop.time() < deadline and any(self.conn.stream_buffered(sid) for sid in self.channels):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        self.conn.close(code, reason)

    # -- auth --------------------------------------------------------------------------------------

    def control_message(self, conn: AgentConnection, msg: Message) -> None:
        if isinstance(msg, AuthMessage):
            self.pairing.auth_message(conn, msg)
        # agent-info-event from a controller: nothing to do

    # -- channels ------------------------------------------------------------------------------------

    def stream_message(self, conn: AgentConnection, stream_id: int, msg: Message) -> None:
        if isinstance(msg, DataChannelOpenRequest):
            self._open(stream_id, msg)
        elif isinstance(msg, DataFrame):
            session = self.channels.get(stream_id)
            if session is None:
                return  # frames after a refusal or a close: ignore
            try:
                frame = loads_frame(msg.payload)
            except FrameError as exc:
                self._reset(stream_id, f"data-frame payload is not one CBOR item: {exc}")
                return
            session.receive_frame(frame, self.context.clock())
            self.schedule_pump()
        else:
            conn.close(CloseCode.BAD_REQUEST, f"type {msg.TYPE_KEY} on a channel stream")

    def _open(self, stream_id: int, req: DataChannelOpenRequest) -> None:
        if stream_id in self.channels:
            self._reset(stream_id, "second open request on one stream")
            return
        fp = self.conn.peer_fingerprint
        assert fp is not None  # authenticated peers have a certificate
        entry = self.context.trust.get(fp)
        if entry is None or self._closing:  # removed: its connection is closing
            self.conn.send_stream(
                stream_id, DataChannelOpenResponse(req.request_id, OpenResult.PERMANENT_ERROR), end_stream=True
            )
            return
        peer = PeerInfo(fp=fp, role=entry.role, name=entry.name)
        result = self.context.registry.open_session(req.label, req.protocol, peer=peer, now=self.context.clock())
        if isinstance(result, OpenRefused):
            self.conn.send_stream(stream_id, DataChannelOpenResponse(req.request_id, result.result), end_stream=True)
            return
        self.hub.owners[result] = self
        self.channels[stream_id] = result
        self._channel_ids[stream_id] = req.channel_id
        if isinstance(result, InputSession) and self.conn.datagrams_enabled:
            result.use_datagrams(True)
        self.conn.send_stream(stream_id, DataChannelOpenResponse(req.request_id, OpenResult.SUCCESS))
        self.schedule_pump()

    def _reset(self, stream_id: int, why: str) -> None:
        log.info("resetting channel stream %d: %s", stream_id, why)
        session = self.channels.pop(stream_id, None)
        if session is not None:
            session.close()
        self.conn.reset_stream(stream_id, CloseCode.BAD_REQUEST)

    def stream_ended(self, conn: AgentConnection, stream_id: int, reset_code: int | None) -> None:
        session = self.channels.pop(stream_id, None)
        self._channel_ids.pop(stream_id, None)
        if session is not None:
            session.close()
            if reset_code is None:
                conn.end_stream(stream_id)

    # -- pumping frames out -----------------------------------------------------------------------

    def schedule_pump(self) -> None:
        """Pull from the sessions soon: once the datagram being processed is done with (so that
        what it asked for leaves in the same flight as its acknowledgement), else at the next turn
        of the event loop (readings published in one turn leave together)."""
        if self._pump_handle is None and not self.conn.is_closed:
            self._pump_handle = asyncio.get_running_loop().call_soon(self._pump)

    def after_receive(self, conn: AgentConnection) -> None:
        if self._blocked or self._pump_handle is not None:
            self._pump()

    def _pump(self) -> None:
        if self._pump_handle is not None:
            self._pump_handle.cancel()
            self._pump_handle = None
        self._blocked = False
        if self.conn.is_closed:
            return
        for stream_id, session in list(self.channels.items()):
            if isinstance(session, InputSession) and session.datagrams:
                self._send_datagram(stream_id, session)
            if session.closed:
                self.channels.pop(stream_id, None)
                self.conn.end_stream(stream_id)
                continue
            readings = isinstance(session, SensorSession | InputSession)
            high_water = READING_HIGH_WATER if readings else STREAM_HIGH_WATER
            encode = self.hub.reading_data if readings else _encode_frame
            while session.has_pending:
                room = high_water - self.conn.stream_buffered(stream_id)
                if room <= 0:
                    self._blocked = True
                    break
                frames = session.next_frames(max_bytes=min(room, PUMP_BYTES))
                if not frames:
                    break
                # one frame: its bytes as they are (b"".join of one bytes object is that object)
                self.conn.send_stream_raw(stream_id, b"".join([encode(f) for f in frames]))

    def _send_datagram(self, stream_id: int, session: InputSession) -> None:
        if not session.datagram_pending:
            return
        # Hand a frame to aioquic only when it can leave now; until then the session keeps only
        # the newest frame waiting (aioquic's own datagram queue never expires anything).
        if not self.conn.datagram_can_leave_now(DATAGRAM_SIZE_ESTIMATE):
            self._blocked = True
            if self._datagram_timer is None:
                self._datagram_timer = asyncio.get_running_loop().call_later(0.002, self._datagram_retry)
            return
        frame = session.take_latest_input()
        if frame is not None:
            self.conn.send_datagram(encode_input_datagram(self._channel_ids[stream_id], dumps_frame(frame)))

    def _datagram_retry(self) -> None:
        self._datagram_timer = None
        self._pump()


def _encode_frame(frame: Any) -> bytes:
    return encode_message(DataFrame(dumps_frame(frame)))
