"""The controller's view of one authenticated connection to a device: its channels as async APIs.

Obtained from :meth:`device_sdk.Controller.connect` or :meth:`~device_sdk.Controller.pair`::

    async with await controller.connect("Thermo") as conn:
        async for reading in conn.subscribe("temperature", min_interval_ms=100):
            show(reading.value)
        await conn.set("led", True)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import Any

from ..channels import (
    ACTUATOR_PROTOCOL,
    ADMIN_LABEL,
    ADMIN_PROTOCOL,
    CATALOG_LABEL,
    CATALOG_PROTOCOL,
    INPUT_PROTOCOL,
    SENSOR_PROTOCOL,
    STREAM_PROTOCOL,
    ActuatorAnswer,
    ActuatorClient,
    ActuatorState,
    AdminClient,
    Catalog,
    FrameError,
    PeerRecord,
    Reading,
    ReadingFilter,
    Role,
    StreamChunk,
    StreamFormat,
    StreamReceiver,
    dumps_frame,
    loads_frame,
    parse_catalog,
    parse_input_datagram,
    parse_peers,
    subscription_frame,
)
from ..channels.client import PendingRequest
from ..errors import ChannelError, ChannelOpenFailed, ConnectionClosed
from ..transport import AgentConnection, ConnectionHandler
from ..wire import (
    AgentInfo,
    AgentInfoEvent,
    CloseCode,
    DataChannelOpenRequest,
    DataChannelOpenResponse,
    DataFrame,
    Message,
    OpenResult,
    encode_message,
)

log = logging.getLogger(__name__)

MAX_QUEUED_FRAMES = 1024
"""Frames kept per channel for a caller that does not read; the oldest are dropped beyond."""
MAX_QUEUED_READINGS = 256
"""The same for sensor and input channels: a caller that pauses gets the newest readings, not a backlog."""


class _Channel:
    """One open data channel, controller side: frames arrive into a bounded queue."""

    def __init__(
        self, conn: DeviceConnection, stream_id: int, channel_id: int, label: str, limit: int = MAX_QUEUED_FRAMES
    ) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.channel_id = channel_id
        self.label = label
        self.opened: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.frames: deque[Any] = deque(maxlen=limit)
        self.dropped = 0
        self._wakeup = asyncio.Event()
        self.ended: str | None = None
        self._finished = False
        self.sink: Callable[[Any], None] | None = None
        """When set, takes each frame as it arrives instead of the queue (request/answer channels)."""
        self.on_end: Callable[[str], None] | None = None
        """Called once when the channel ends, with why."""

    def push(self, frame: Any) -> None:
        if self.sink is not None:
            self.sink(frame)
            return
        if len(self.frames) == self.frames.maxlen:
            self.dropped += 1
        self.frames.append(frame)
        self._wakeup.set()

    def end(self, why: str) -> None:
        if self.ended is not None:
            return
        self.ended = why
        if not self.opened.done():
            self.opened.set_exception(ChannelError(f"channel {self.label!r}: {why}"))
            self.opened.exception()
        self._wakeup.set()
        if self.on_end is not None:
            self.on_end(why)

    async def next_frame(self) -> Any:
        while not self.frames:
            if self.ended is not None:
                raise ChannelError(f"channel {self.label!r} ended: {self.ended}")
            self._wakeup.clear()
            await self._wakeup.wait()
        return self.frames.popleft()

    def send(self, frame: Any) -> None:
        self.conn.agent.send_stream(self.stream_id, DataFrame(dumps_frame(frame)))

    def close(self) -> None:
        """Forget the channel and end our side of its stream (once)."""
        self.conn._channels.pop(self.stream_id, None)
        self.conn._by_channel_id.pop(self.channel_id, None)
        self.finish()

    def finish(self, reset_code: int | None = None) -> None:
        """End our side of the stream (FIN, or a reset with ``reset_code``) unless it already ended:
        a stream both sides have ended gives the device its stream credit back."""
        if self._finished or self.conn.agent.is_closed:
            return
        self._finished = True
        if reset_code is not None:
            self.conn.agent.reset_stream(self.stream_id, reset_code)
            return
        # RuntimeError: aioquic already reset our side (the device sent STOP_SENDING).
        with contextlib.suppress(RuntimeError, ValueError):
            self.conn.agent.end_stream(self.stream_id)


class _StateWatcher:
    """One caller of :meth:`DeviceConnection.actuator_states`: the states it has not read yet."""

    def __init__(self, first: ActuatorState | None) -> None:
        self.states: deque[ActuatorState] = deque(maxlen=MAX_QUEUED_FRAMES)
        if first is not None:
            self.states.append(first)
        self.ended: str | None = None
        self._wakeup = asyncio.Event()

    def push(self, state: ActuatorState) -> None:
        self.states.append(state)
        self._wakeup.set()

    def end(self, why: str) -> None:
        self.ended = why
        self._wakeup.set()

    async def next_state(self) -> ActuatorState:
        while not self.states:
            if self.ended is not None:
                raise ChannelError(self.ended)
            self._wakeup.clear()
            await self._wakeup.wait()
        return self.states.popleft()


class _RequestChannel:
    """An actuator or admin channel, controller side: each answer goes to the request waiting for it,
    and the actuator's confirmed states (answers with a state, state frames) to its watchers."""

    def __init__(self, channel: _Channel, client: ActuatorClient | AdminClient) -> None:
        self.channel = channel
        self.client = client
        self._waiting: dict[int, asyncio.Future[ActuatorAnswer]] = {}
        self._watchers: list[_StateWatcher] = []
        for frame in channel.frames:  # arrived with the open answer, before this took over
            self._receive(frame)
        channel.frames.clear()
        channel.sink = self._receive
        channel.on_end = self._ended

    def _receive(self, frame: Any) -> None:
        item = self.client.receive(frame)
        if isinstance(item, ActuatorAnswer):
            waiting = self._waiting.pop(item.id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(item)
            if item.ok and item.has_value and isinstance(self.client, ActuatorClient):
                item = self.client.state
        if isinstance(item, ActuatorState):
            for watcher in self._watchers:
                watcher.push(item)

    def _ended(self, why: str) -> None:
        error = ChannelError(f"channel {self.channel.label!r} ended: {why}")
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(error)
        for watcher in self._watchers:
            watcher.end(str(error))

    async def call(self, request: PendingRequest, timeout: float) -> Any:
        """Send ``request`` and wait for its answer: the new value, or :class:`ActuatorError`."""
        if self.channel.ended is not None:
            raise ChannelError(f"channel {self.channel.label!r} ended: {self.channel.ended}")
        answer: asyncio.Future[ActuatorAnswer] = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = answer
        try:
            self.channel.send(request.frame)
            async with asyncio.timeout(timeout):
                return (await answer).result()
        finally:
            self._waiting.pop(request.id, None)

    def watch(self) -> _StateWatcher:
        state = self.client.state if isinstance(self.client, ActuatorClient) else None
        watcher = _StateWatcher(state)
        if self.channel.ended is not None:
            watcher.end(f"channel {self.channel.label!r} ended: {self.channel.ended}")
        self._watchers.append(watcher)
        return watcher

    def unwatch(self, watcher: _StateWatcher) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)


async def _readings(channel: _Channel) -> AsyncGenerator[Reading, None]:
    """The readings of a sensor or input channel, stale ones dropped; closes the channel at the end."""
    readings = ReadingFilter()
    try:
        frames = channel.frames
        while True:
            # a frame already queued is taken without an awaitable (readings arrive in bursts)
            reading = readings.accept(frames.popleft() if frames else await channel.next_frame())
            if reading is not None:
                yield reading
    finally:
        channel.close()


class DeviceConnection(ConnectionHandler):
    """An authenticated connection to a device (see the module docstring)."""

    def __init__(
        self,
        agent: AgentConnection,
        *,
        name: str,
        fingerprint: bytes,
        on_device_info: Callable[[AgentInfo], None] | None = None,
    ) -> None:
        self.agent = agent
        self.name = name
        self.fingerprint = fingerprint
        self.device_info: AgentInfo | None = None
        """The device's agent-info, as last announced in an agent-info-event (None before one)."""
        self.on_agent_info: Callable[[AgentInfo], None] | None = None
        """Called with the device's agent-info when it announces a change (a rename, ...)."""
        self._on_device_info = on_device_info  # the controller's own hook (its pinned name), before on_agent_info
        self._channels: dict[int, _Channel] = {}
        self._by_channel_id: dict[int, _Channel] = {}
        self._next_channel_id = 0
        self._next_request_id = 1
        self._actuators: dict[str, _RequestChannel] = {}
        self._admin: _RequestChannel | None = None
        self._formats: dict[str, StreamFormat] = {}
        self._input_datagrams = 0
        self.auth_handler: ConnectionHandler | None = None
        """While pairing: the handler that receives auth messages."""
        self.trusted = False
        """The device is paired and pinned: the connection is authenticated as soon as its
        fingerprint matched (in the flight of the handshake's end)."""

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> DeviceConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection normally (5139)."""
        self.agent.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.agent.wait_closed()

    @property
    def closed(self) -> bool:
        return self.agent.is_closed

    async def wait_closed(self) -> ConnectionClosed:
        """Wait until the connection has ended, whoever ended it; the error says how
        (:class:`~device_sdk.errors.ConnectionLost` when the device vanished)."""
        return await self.agent.wait_closed()

    @property
    def datagrams_enabled(self) -> bool:
        """Whether both sides enabled QUIC DATAGRAM frames, so input channels use them."""
        return self.agent.datagrams_enabled

    @property
    def input_datagrams(self) -> int:
        """Input frames received as QUIC datagrams for an open channel (the rest came on streams)."""
        return self._input_datagrams

    async def agent_info(self) -> AgentInfo:
        return await self.agent.agent_info()

    # -- channels ---------------------------------------------------------------------------------

    async def open_channel(
        self, label: str, protocol: str, *, timeout: float = 5.0, first_frame: Any = None
    ) -> _Channel:
        """Open a data channel; raises :class:`ChannelOpenFailed` when the device refuses.

        ``first_frame`` (a subscription, say) is sent right behind the open request, in the same
        datagram: the device reads it once the channel is open (and drops it after a refusal), so the
        channel is set up in one round trip."""
        stream_id = self.agent.open_stream()
        channel_id = self._next_channel_id
        self._next_channel_id += 2
        limit = MAX_QUEUED_READINGS if protocol in (SENSOR_PROTOCOL, INPUT_PROTOCOL) else MAX_QUEUED_FRAMES
        channel = _Channel(self, stream_id, channel_id, label, limit)
        self._channels[stream_id] = channel
        self._by_channel_id[channel_id] = channel
        request_id = self._next_request_id
        self._next_request_id += 1
        data = encode_message(DataChannelOpenRequest(request_id, channel_id, label, protocol))
        if first_frame is not None:
            data += encode_message(DataFrame(dumps_frame(first_frame)))
        self.agent.send_stream_raw(stream_id, data)
        try:
            async with asyncio.timeout(timeout):
                result = await channel.opened
        except TimeoutError:
            channel.close()
            raise ChannelError(f"no answer to opening channel {label!r}") from None
        except ChannelError:
            channel.close()  # the stream ended (reset) before the answer: our side ends too
            raise
        if result != OpenResult.SUCCESS:
            channel.close()  # a refused open finishes our side as well (else its stream credit leaks)
            raise ChannelOpenFailed(label, result)
        return channel

    async def catalog(self) -> Catalog:
        """The device's channels."""
        channel = await self.open_channel(CATALOG_LABEL, CATALOG_PROTOCOL)
        try:
            return parse_catalog(await channel.next_frame())
        finally:
            channel.close()

    async def catalogs(self) -> AsyncGenerator[Catalog, None]:
        """The device's channels now, then each new catalog the device sends (a channel added or removed at
        run time, a rename), for as long as this is iterated: the catalog channel stays open meanwhile.

        A caller that falls behind gets the newest catalog, not every one. Ends with
        :class:`~device_sdk.errors.ChannelError` when the channel ends (the connection was lost); a malformed
        catalog raises :class:`~device_sdk.channels.FrameError` (a ``ChannelError``)::

            async for catalog in conn.catalogs():
                show([c.name for c in catalog.channels])
        """
        channel = await self.open_channel(CATALOG_LABEL, CATALOG_PROTOCOL)
        try:
            while True:
                frame = await channel.next_frame()
                while channel.frames:  # several waiting: only the newest says what the device has now
                    frame = channel.frames.popleft()
                yield parse_catalog(frame)
        finally:
            channel.close()

    async def subscribe(
        self, name: str, *, min_interval_ms: int | None = None, change: float | None = None
    ) -> AsyncGenerator[Reading, None]:
        """Readings of sensor ``name``: the current value first, then each new one (newest only)."""
        subscription = None
        if min_interval_ms is not None or change is not None:
            subscription = subscription_frame(min_interval_ms=min_interval_ms, change=change)
        channel = await self.open_channel(name, SENSOR_PROTOCOL, first_frame=subscription)
        async with contextlib.aclosing(_readings(channel)) as readings:  # closes the channel with us
            async for reading in readings:
                yield reading

    async def input(self, name: str) -> AsyncGenerator[Reading, None]:
        """States of input channel ``name`` (game pads): over datagrams when both sides can."""
        channel = await self.open_channel(name, INPUT_PROTOCOL)
        async with contextlib.aclosing(_readings(channel)) as readings:  # closes the channel with us
            async for reading in readings:
                yield reading

    async def stream(self, name: str) -> AsyncGenerator[StreamChunk, None]:
        """Chunks of byte stream ``name``; ``self.stream_format(name)`` tells their format."""
        channel = await self.open_channel(name, STREAM_PROTOCOL)
        receiver = StreamReceiver()
        try:
            while True:
                item = receiver.receive(await channel.next_frame())
                if isinstance(item, StreamFormat):
                    self._formats[name] = item
                elif isinstance(item, StreamChunk):
                    yield item
        finally:
            channel.close()

    def stream_format(self, name: str) -> StreamFormat | None:
        return self._formats.get(name)

    async def set(self, name: str, value: Any, *, timeout: float = 5.0) -> Any:
        """Set actuator ``name``: the new state, or :class:`~device_sdk.errors.ActuatorError`."""
        link = await self._actuator(name)
        assert isinstance(link.client, ActuatorClient)
        return await link.call(link.client.set(value), timeout)

    async def do(self, name: str, action: str, *, timeout: float = 5.0) -> Any:
        """Run ``action`` on actuator ``name``."""
        link = await self._actuator(name)
        assert isinstance(link.client, ActuatorClient)
        return await link.call(link.client.do(action), timeout)

    async def actuator_states(self, name: str) -> AsyncGenerator[ActuatorState, None]:
        """The state of actuator ``name`` as the device confirms it: the current state first, then every
        change, whoever made it (a set from this or another controller, a physical switch).

        The state of a set that the device refused never appears. A caller that does not keep up gets the
        newest states (at most :data:`MAX_QUEUED_FRAMES` wait). Ends with :class:`ChannelError` when the
        channel ends (the connection was lost, the actuator was removed).
        """
        link = await self._actuator(name)
        watcher = link.watch()
        try:
            while True:
                yield await watcher.next_state()
        finally:
            link.unwatch(watcher)

    async def _actuator(self, name: str) -> _RequestChannel:
        link = self._actuators.get(name)
        if link is None or link.channel.ended is not None:
            link = self._actuators[name] = _RequestChannel(
                await self.open_channel(name, ACTUATOR_PROTOCOL), ActuatorClient()
            )
        return link

    # -- admin --------------------------------------------------------------------------------------

    async def _admin_call(self, build: Callable[[AdminClient], PendingRequest], timeout: float = 5.0) -> Any:
        """Open the admin channel once and run the request ``build`` makes (a user controller may
        only leave; anything else it asks is answered ``forbidden``)."""
        if self._admin is None or self._admin.channel.ended is not None:
            self._admin = _RequestChannel(await self.open_channel(ADMIN_LABEL, ADMIN_PROTOCOL), AdminClient())
        client = self._admin.client
        assert isinstance(client, AdminClient)
        return await self._admin.call(build(client), timeout)

    async def admin(self, op: str, **params: Any) -> Any:
        """Run any admin operation by name."""
        return await self._admin_call(lambda c: c.request(op, **params))

    async def open_pairing_window(self, seconds: int | None = None) -> None:
        await self._admin_call(lambda c: c.open_pairing_window(seconds))

    async def list_peers(self) -> list[PeerRecord]:
        return parse_peers(await self._admin_call(lambda c: c.list_peers()))

    async def remove_peer(self, fp: str) -> Any:
        return await self._admin_call(lambda c: c.remove_peer(fp))

    async def set_role(self, fp: str, role: Role) -> Any:
        return await self._admin_call(lambda c: c.set_role(fp, role))

    async def rename(self, name: str) -> Any:
        return await self._admin_call(lambda c: c.rename(name))

    async def leave(self) -> None:
        """Ask the device to forget this controller (any paired controller may; profile v1.1).

        Returns once the device has answered ok, which it does once the removal is on disk; it then
        closes this connection (401). Raises :class:`~device_sdk.errors.ActuatorError` when the device
        refuses, :class:`~device_sdk.errors.ChannelError` when the connection ends first.
        """
        await self._admin_call(lambda c: c.leave())

    # -- ConnectionHandler --------------------------------------------------------------------------

    def connection_ready(self, conn: AgentConnection) -> None:
        if self.trusted:
            conn.set_authenticated()
        if self.auth_handler is not None:
            self.auth_handler.connection_ready(conn)

    def control_message(self, conn: AgentConnection, msg: Message) -> None:
        if isinstance(msg, AgentInfoEvent):
            self.device_info = msg.agent_info
            if self._on_device_info is not None:
                self._on_device_info(msg.agent_info)
            if self.on_agent_info is not None:
                self.on_agent_info(msg.agent_info)
        if self.auth_handler is not None:
            self.auth_handler.control_message(conn, msg)

    def stream_message(self, conn: AgentConnection, stream_id: int, msg: Message) -> None:
        channel = self._channels.get(stream_id)
        if channel is None:
            return
        if isinstance(msg, DataChannelOpenResponse):
            if not channel.opened.done():
                channel.opened.set_result(msg.result)
        elif isinstance(msg, DataFrame):
            try:
                channel.push(loads_frame(msg.payload))
            except FrameError:
                log.info("channel %r: payload is not one CBOR item; resetting", channel.label)
                conn.reset_stream(stream_id, CloseCode.BAD_REQUEST)
                channel.end("bad payload")

    def stream_ended(self, conn: AgentConnection, stream_id: int, reset_code: int | None) -> None:
        channel = self._channels.pop(stream_id, None)
        if channel is not None:
            self._by_channel_id.pop(channel.channel_id, None)
            channel.end("closed by the device" if reset_code is None else f"reset ({reset_code})")
            channel.finish(reset_code)

    def datagram(self, conn: AgentConnection, data: bytes) -> None:
        try:
            channel_id, frame = parse_input_datagram(data)
        except Exception:
            return
        channel = self._by_channel_id.get(channel_id)
        if channel is not None:
            self._input_datagrams += 1
            channel.push(frame)

    def connection_lost(self, conn: AgentConnection, error: ConnectionClosed) -> None:
        if self.auth_handler is not None:
            self.auth_handler.connection_lost(conn, error)
        for channel in list(self._channels.values()):
            channel.end(str(error))
