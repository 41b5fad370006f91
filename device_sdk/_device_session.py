"""Per-connection glue of the device: auth state machine and channel sessions on one connection.

:class:`DeviceSession` is the :class:`~device_sdk.transport.ConnectionHandler` of each connection.
It feeds auth messages to a :class:`~device_sdk.pairing.auth_device.DeviceAuth` (untrusted peers),
data channels to :class:`~device_sdk.channels.ChannelSession` objects, and pumps frames out as the
QUIC stream buffers drain (flow control: a slow controller's frames wait in its own bounded queue).
:class:`SessionHub` is what the connections share: the registry's events and actuator calls.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import cbor2

from .channels import (
    CallsReady,
    ChannelSession,
    FrameError,
    InputSession,
    OpenRefused,
    PeerInfo,
    SensorSession,
    SessionReady,
    encode_input_datagram,
    loads_frame,
    run_call,
)
from .errors import ConnectionClosed, TransportError
from .events import Paired, PairingFailed, PairingStarted, ShowPin
from .identity import fingerprint_text
from .pairing.auth import AttemptStarted, Authenticated, AuthFailed, SendMessage
from .pairing.auth import ShowPin as AuthShowPin
from .pairing.auth_device import DeviceAuth
from .transport import AgentConnection, ConnectionHandler
from .wire import (
    AuthMessage,
    CloseCode,
    DataChannelOpenRequest,
    DataChannelOpenResponse,
    DataFrame,
    Message,
    OpenResult,
    encode_message,
)

if TYPE_CHECKING:
    from .device import Device

log = logging.getLogger(__name__)

LEARN_NAME_DELAY_S = 0.05
"""How long after a pairing the device asks the controller for its name (off the pairing's critical path)."""
LEARN_NAME_TIMEOUT_S = 2.0
"""How long it waits for that answer before announcing the pairing with a placeholder name."""
SHARE_REFILL_DELAY_S = 0.05
"""How long after an attempt starts the device computes the next attempt's SPAKE2 share (once
this attempt's answer is out)."""

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


class SessionHub:
    """State shared by the connections of one device."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.sessions: set[DeviceSession] = set()
        self.owners: weakref.WeakKeyDictionary[ChannelSession, DeviceSession] = weakref.WeakKeyDictionary()
        """Which connection each open channel session belongs to."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    def registry_event(self, event: object) -> None:
        if isinstance(event, SessionReady):
            owner = self.owners.get(event.session)
            if owner is not None:
                owner.schedule_pump()
        elif isinstance(event, CallsReady):
            for call in self.device.channels.take_calls():
                self.spawn(run_call(call, clock=self.device.clock))

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def spawn_later(self, delay: float, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``make()`` as a task ``delay`` seconds from now; until then nothing runs for it."""

        def start() -> None:
            self._timers.discard(handle)
            self.spawn(make())

        handle = asyncio.get_running_loop().call_later(delay, start)
        self._timers.add(handle)

    def abort_pairing(self, fp: bytes) -> None:
        """Button mode: another controller tried; abort this controller's attempt."""
        for session in list(self.sessions):
            if session.auth is not None and session.auth.controller_fp == fp:
                session.auth.abort(self.device.clock(), "another controller tried to pair")
                session.drain_auth()

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        for session in list(self.sessions):
            session.shutdown()


class DeviceSession(ConnectionHandler):
    """One controller's connection to the device."""

    def __init__(self, hub: SessionHub, conn: AgentConnection) -> None:
        self.hub = hub
        self.device = hub.device
        self.conn = conn
        self.auth: DeviceAuth | None = None
        self._auth_timer: asyncio.TimerHandle | None = None
        self.channels: dict[int, ChannelSession] = {}
        self._channel_ids: dict[int, int] = {}  # stream id -> channel id
        self._pump_scheduled = False
        self._blocked = False
        self._datagram_timer: asyncio.TimerHandle | None = None
        hub.sessions.add(self)

    # -- connection lifecycle ------------------------------------------------------------------

    def connection_ready(self, conn: AgentConnection) -> None:
        fp = conn.peer_fingerprint
        now = self.device.clock()
        if fp is not None and self.device.trust.is_trusted(fp):
            conn.set_authenticated()
            self.device.trust.touch(fp, now)
            return
        window = self.device.window
        self.auth = DeviceAuth(
            device_fp=self.device.identity.fingerprint,
            controller_fp=fp,
            window=window,
            psk=self.device.psk_provider(),
            shares=self.device.spake2_shares,
        )
        self.auth.start(now)
        self.drain_auth()

    def connection_lost(self, conn: AgentConnection, error: ConnectionClosed) -> None:
        if self.auth is not None and not self.auth.finished:
            self.auth.connection_lost(self.device.clock())
            self.drain_auth()
        self.shutdown()

    def shutdown(self) -> None:
        self.hub.sessions.discard(self)
        for timer in (self._auth_timer, self._datagram_timer):
            if timer is not None:
                timer.cancel()
        for session in self.channels.values():
            session.close()
        self.channels.clear()

    # -- auth --------------------------------------------------------------------------------------

    def control_message(self, conn: AgentConnection, msg: Message) -> None:
        if not isinstance(msg, AuthMessage):
            return  # agent-info-event from a controller: nothing to do
        if self.auth is None or conn.authenticated:
            log.debug("ignoring %s from an authenticated peer", type(msg).__name__)
            return
        self.auth.receive(msg, self.device.clock())
        self.drain_auth()

    def drain_auth(self) -> None:
        auth = self.auth
        if auth is None:
            return
        while (event := auth.next_event()) is not None:
            if isinstance(event, SendMessage):
                self.conn.send_control(event.message)
            elif isinstance(event, AttemptStarted):
                # The attempt took the prepared share: prepare the next one once this one is answered.
                asyncio.get_running_loop().call_later(SHARE_REFILL_DELAY_S, self.device.prepare_pairing_share)
                self.device.emit(PairingStarted())
            elif isinstance(event, AuthShowPin):
                valid_s = max(0.0, event.expires_at - self.device.clock())
                self.device.emit(ShowPin(event.text, event.qr_text, valid_s))
            elif isinstance(event, Authenticated):
                self._paired(event.peer_fp)
            elif isinstance(event, AuthFailed):
                self.device.emit(PairingFailed(event.reason))
                if event.close_code is not None:
                    self.conn.close_after_flush(event.close_code, event.reason)
        self._arm_auth_timer()

    def _arm_auth_timer(self) -> None:
        if self._auth_timer is not None:
            self._auth_timer.cancel()
            self._auth_timer = None
        if self.auth is None or self.auth.finished:
            return
        when = self.auth.next_timer()
        if when is None:
            return
        delay = max(0.0, when - self.device.clock())
        self._auth_timer = asyncio.get_running_loop().call_later(delay, self._auth_tick)

    def _auth_tick(self) -> None:
        self._auth_timer = None
        if self.auth is not None:
            self.auth.handle_timer(self.device.clock())
            self.drain_auth()

    def _paired(self, fp: bytes) -> None:
        self.device.trust.add(fp, f"controller {fingerprint_text(fp)[:8]}", self.device.clock())
        self.conn.set_authenticated()
        self.hub.spawn_later(LEARN_NAME_DELAY_S, lambda: self._learn_name(fp))

    async def _learn_name(self, fp: bytes) -> None:
        """Ask the new controller for its agent-info, store its name in the trust store, then emit
        :class:`Paired` (with the placeholder name if the controller does not answer in time).

        Started :data:`LEARN_NAME_DELAY_S` after the commit, not at once: the controller is busy
        finishing its side of the pairing.
        """
        try:
            info = await self.conn.agent_info(timeout=LEARN_NAME_TIMEOUT_S)
        except TransportError:
            pass
        else:
            if self.device.trust.is_trusted(fp):
                self.device.trust.add(fp, info.display_name, self.device.clock())
        entry = self.device.trust.get(fp)
        if entry is not None:
            self.device.emit(Paired(entry.fingerprint_text, entry.name, entry.role))

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
            session.receive_frame(frame, self.device.clock())
            self.schedule_pump()
        else:
            conn.close(CloseCode.BAD_REQUEST, f"type {msg.TYPE_KEY} on a channel stream")

    def _open(self, stream_id: int, req: DataChannelOpenRequest) -> None:
        if stream_id in self.channels:
            self._reset(stream_id, "second open request on one stream")
            return
        fp = self.conn.peer_fingerprint
        assert fp is not None  # authenticated peers have a certificate
        entry = self.device.trust.get(fp)
        peer = PeerInfo(fp=fp, role=entry.role if entry else "user", name=entry.name if entry else "")
        result = self.device.channels.open_session(req.label, req.protocol, peer=peer, now=self.device.clock())
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
        if not self._pump_scheduled and not self.conn.is_closed:
            self._pump_scheduled = True
            asyncio.get_running_loop().call_soon(self._pump)

    def after_receive(self, conn: AgentConnection) -> None:
        if self._blocked:
            self._pump()

    def _pump(self) -> None:
        self._pump_scheduled = False
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
            high_water = READING_HIGH_WATER if isinstance(session, SensorSession | InputSession) else STREAM_HIGH_WATER
            while session.has_pending:
                room = high_water - self.conn.stream_buffered(stream_id)
                if room <= 0:
                    self._blocked = True
                    break
                frames = session.next_frames(max_bytes=min(room, PUMP_BYTES))
                if not frames:
                    break
                data = b"".join(_encode_frame(f) for f in frames)
                self.conn.send_stream_raw(stream_id, data)

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
            self.conn.send_datagram(encode_input_datagram(self._channel_ids[stream_id], cbor2.dumps(frame)))

    def _datagram_retry(self) -> None:
        self._datagram_timer = None
        self._pump()


def _encode_frame(frame: Any) -> bytes:
    return encode_message(DataFrame(cbor2.dumps(frame)))
