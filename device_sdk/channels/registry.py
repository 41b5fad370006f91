"""The device's channels: declarations, the catalog and channel opening (profile section 6).

:class:`ChannelRegistry` is what an application author uses to declare sensors, actuators, byte streams
and inputs, and what the transport uses to open channels (:meth:`ChannelRegistry.open_session`) and run
actuator calls (:meth:`ChannelRegistry.take_calls`). It is a pure object: it does no I/O and starts no
task; it tells the outside world what happened through listener events (:class:`CatalogChanged`,
:class:`SessionReady`, :class:`CallsReady`). It is not thread-safe: use it from the event loop.

Declaring::

    registry = ChannelRegistry(device_name="Kitchen", model="pi-kit", board="pi4", sdk="0.1.0")
    temp = registry.sensor("temperature", unit="C", min=-40, max=85, rate_hz=1)
    led = registry.actuator("led", type="bool", initial=False, handler=set_led)
    feeder = registry.actuator("feeder", actions={"feed": feed_once})
    audio = registry.stream("audio", format={"codec": "pcm_s16le", "rate": 16000, "channels": 1})
    pad = registry.input("gamepad", rate_hz=500)
    temp.publish(21.5)
    led.report(True)          # the physical switch was pressed
    audio.write(pcm_bytes)
    pad.publish({"x": 0.1, "y": -0.4, "a": True})

Driving it (the transport):

1. ``registry.add_listener(on_event)``.
2. On data-channel-open-request: ``registry.open_session(label, protocol, peer=..., now=...)``; for an
   :class:`OpenRefused` answer its ``result`` (102) and end the stream; else answer 1 and pull.
3. Each frame received on the stream: ``session.receive_frame(frame, now)``.
4. On :class:`SessionReady` and whenever the stream can take more: ``session.next_frames(...)`` while
   ``session.has_pending``; an :class:`~device_sdk.channels.input.InputSession` in datagram mode gives
   its frame through ``take_latest_input()`` instead. When ``session.closed`` is true, end the stream.
5. On :class:`CallsReady`: run every call of ``registry.take_calls()`` with
   :func:`~device_sdk.channels.runner.run_call` (a task each); answers then appear as pending frames.
6. When the stream ends (FIN, reset, connection lost): ``session.close()``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from device_sdk.errors import ConfigError, UnknownName
from device_sdk.wire.cbor import unencodable

from .actuator import ActionHandler, Actuator, SetHandler
from .admin import AdminBackend, AdminChannel
from .calls import ActuatorCall, CallDispatcher
from .catalog import CatalogPublisher
from .descriptor import (
    ADMIN_LABEL,
    ADMIN_PROTOCOL,
    CATALOG_LABEL,
    CATALOG_PROTOCOL,
    RESERVED_LABELS,
    Catalog,
    ChannelDescriptor,
    ChannelKind,
    DeviceInfo,
)
from .frames import StreamFormat
from .input import Input
from .sensor import Sensor
from .session import CatalogChanged, ChannelSession, OpenRefused, PeerInfo, RegistryEvent, Role
from .stream import ByteStream
from .values import ValueSpec, ValueType

_log = logging.getLogger(__name__)

Channel = Sensor | Actuator | ByteStream | Input
"""A declared channel."""
Listener = Callable[[RegistryEvent], None]
_C = TypeVar("_C", Sensor, Actuator, ByteStream, Input)


class _Hub:
    """The registry as its channels see it."""

    def __init__(self, registry: ChannelRegistry, max_in_flight: int) -> None:
        self._registry = registry
        self.dispatcher = CallDispatcher(self.notify, max_in_flight=max_in_flight)

    def clock(self) -> float:
        return self._registry.clock()

    def notify(self, event: RegistryEvent) -> None:
        self._registry._emit(event)

    def submit(self, call: ActuatorCall) -> None:
        self.dispatcher.submit(call)

    def has_room(self, session: ChannelSession) -> bool:
        return self.dispatcher.has_room(session)

    def call_done(self, call: ActuatorCall) -> None:
        self.dispatcher.finished(call)

    def session_closed(self, session: ChannelSession) -> None:
        self._registry._sessions.pop(session, None)


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, not {value!r}")
    return value


class ChannelRegistry:
    """The channels a device offers, and the open channels to them.

    ``clock`` gives the Unix time for readings published without a time. The limits bound what one
    controller can make the device hold: ``sensor_queue`` readings per sensor channel,
    ``stream_buffer_bytes`` per byte-stream channel (written in chunks of at most ``stream_chunk_bytes``),
    ``answer_limit`` unread answers per actuator or admin channel, ``max_calls_in_flight`` unfinished
    requests per channel (more are answered ``"busy"``). ``admin`` enables the admin channel.
    """

    def __init__(
        self,
        *,
        device_name: str,
        model: str,
        board: str | None = None,
        sdk: str | None = None,
        clock: Callable[[], float] = time.time,
        admin: AdminBackend | None = None,
        sensor_queue: int = 64,
        stream_buffer_bytes: int = 256 * 1024,
        stream_chunk_bytes: int = 16 * 1024,
        answer_limit: int = 256,
        max_calls_in_flight: int = 16,
    ) -> None:
        if not isinstance(device_name, str) or not device_name:
            raise ConfigError("device_name must be a non-empty text")
        if not isinstance(model, str) or not model:
            raise ConfigError("model must be a non-empty text")
        self.clock = clock
        self._device = DeviceInfo(name=device_name, model=model, board=board, sdk=sdk)
        self._sensor_queue = _check_positive("sensor_queue", sensor_queue)
        self._stream_buffer = _check_positive("stream_buffer_bytes", stream_buffer_bytes)
        self._stream_chunk = _check_positive("stream_chunk_bytes", stream_chunk_bytes)
        if self._stream_chunk > self._stream_buffer:
            raise ConfigError("stream_chunk_bytes must not exceed stream_buffer_bytes")
        self._answer_limit = _check_positive("answer_limit", answer_limit)
        self._hub = _Hub(self, _check_positive("max_calls_in_flight", max_calls_in_flight))
        self._channels: dict[str, Channel] = {}
        self._listeners: list[Listener] = []
        self._version = 0
        self._catalog = CatalogPublisher(hub=self._hub)
        self._admin: AdminChannel | None = None
        self._sessions: dict[ChannelSession, None] = {}
        """The open sessions, in the order opened (a session leaves as it closes)."""
        if admin is not None:
            self.set_admin_backend(admin)

    def __repr__(self) -> str:
        return f"<ChannelRegistry {self._device.name!r} channels={list(self._channels)}>"

    # -- declarations ------------------------------------------------------------------------------

    def sensor(
        self,
        name: str,
        *,
        type: ValueType = "float",
        unit: str | None = None,
        min: float | None = None,
        max: float | None = None,
        values: Sequence[str] = (),
        rate_hz: float | None = None,
        description: str | None = None,
        queue_limit: int | None = None,
    ) -> Sensor:
        """Declare a sensor; publish its readings with :meth:`Sensor.publish`."""
        spec = self._spec(name, type, min, max, values)
        descriptor = self._descriptor(name, "sensor", spec, unit, rate_hz, description, {})
        limit = self._sensor_queue if queue_limit is None else _check_positive("queue_limit", queue_limit)
        return self._add(Sensor(hub=self._hub, descriptor=descriptor, spec=spec, queue_limit=limit))

    def actuator(
        self,
        name: str,
        *,
        type: ValueType | None = None,
        initial: Any = None,
        handler: SetHandler | None = None,
        actions: Mapping[str, ActionHandler] | None = None,
        unit: str | None = None,
        min: float | None = None,
        max: float | None = None,
        values: Sequence[str] = (),
        description: str | None = None,
        admin_only: bool = False,
    ) -> Actuator:
        """Declare an actuator.

        ``handler(value)`` carries out a ``set`` and returns the new state (None: the value). Each
        ``actions[name]()`` carries out a ``do`` and returns the new state (None: unchanged). Handlers may
        be async; raise :class:`~device_sdk.channels.calls.ActuatorBusy` to answer ``"busy"`` or
        :class:`~device_sdk.errors.ActuatorError` for another code. A settable actuator needs ``type``
        and ``initial``; one with only actions and no ``initial`` is stateless (its type defaults to an
        enum of the action names). ``admin_only`` answers ``"forbidden"`` to user peers.
        """
        action_map = dict(actions or {})
        for action, fn in action_map.items():
            if not isinstance(action, str) or not action or not callable(fn):
                raise ConfigError(f"actuator {name!r}: actions must map names to callables")
        if handler is None and not action_map:
            raise ConfigError(f"actuator {name!r} needs a handler or actions")
        if handler is not None and not callable(handler):
            raise ConfigError(f"actuator {name!r}: handler must be callable")
        if handler is not None and initial is None:
            raise ConfigError(f"actuator {name!r} can be set, so it needs an initial state")
        if type is None:
            if initial is not None:
                raise ConfigError(f"actuator {name!r} has a state, so it needs a type")
            type, values = "enum", tuple(action_map)
        spec = self._spec(name, type, min, max, values)
        extra: dict[str, Any] = {}
        if action_map:
            extra["actions"] = list(action_map)
        if handler is None:
            extra["settable"] = False
        if admin_only:
            extra["admin_only"] = True
        descriptor = self._descriptor(name, "actuator", spec, unit, None, description, extra)
        try:
            actuator = Actuator(
                hub=self._hub,
                descriptor=descriptor,
                spec=spec,
                initial=initial,
                handler=handler,
                actions=action_map,
                admin_only=admin_only,
                answer_limit=self._answer_limit,
            )
        except ValueError as exc:
            raise ConfigError(f"actuator {name!r}: bad initial state: {exc}") from None
        return self._add(actuator)

    def stream(
        self,
        name: str,
        *,
        format: Mapping[str, Any],
        description: str | None = None,
        chunk_bytes: int | None = None,
        buffer_bytes: int | None = None,
    ) -> ByteStream:
        """Declare a byte stream with ``format`` (a map with a text ``"codec"``); write with
        :meth:`ByteStream.write`."""
        codec = format.get("codec") if isinstance(format, Mapping) else None
        if not isinstance(codec, str) or not codec:
            raise ConfigError(f"stream {name!r}: format needs a text 'codec'")
        if not all(isinstance(k, str) for k in format):
            raise ConfigError(f"stream {name!r}: format keys must be text")
        why = unencodable(dict(format))
        if why is not None:  # it is sent in the catalog and on every open
            raise ConfigError(f"stream {name!r}: the format holds {why}")
        fmt = StreamFormat(codec, {k: v for k, v in format.items() if k != "codec"})
        chunk = self._stream_chunk if chunk_bytes is None else _check_positive("chunk_bytes", chunk_bytes)
        buffer = self._stream_buffer if buffer_bytes is None else _check_positive("buffer_bytes", buffer_bytes)
        if chunk > buffer:
            raise ConfigError(f"stream {name!r}: chunk_bytes must not exceed buffer_bytes")
        spec = ValueSpec(type="bytes")
        descriptor = self._descriptor(
            name, "stream", spec, None, None, description, {"format": fmt.to_frame()["format"]}
        )
        return self._add(
            ByteStream(hub=self._hub, descriptor=descriptor, format=fmt, chunk_size=chunk, buffer_bytes=buffer)
        )

    def input(
        self,
        name: str,
        *,
        type: ValueType = "map",
        unit: str | None = None,
        min: float | None = None,
        max: float | None = None,
        values: Sequence[str] = (),
        rate_hz: float | None = None,
        description: str | None = None,
    ) -> Input:
        """Declare an input (high-rate state, newest wins); publish with :meth:`Input.publish`."""
        spec = self._spec(name, type, min, max, values)
        descriptor = self._descriptor(name, "input", spec, unit, rate_hz, description, {})
        return self._add(Input(hub=self._hub, descriptor=descriptor, spec=spec))

    def remove(self, name: str) -> None:
        """Remove channel ``name``: its open channels are closed and the catalog changes."""
        channel = self._channels.pop(name, None)
        if channel is None:
            raise UnknownName(name)
        channel._remove()
        self._catalog_changed()

    def set_admin_backend(self, backend: AdminBackend | None) -> None:
        """Enable the admin channel with ``backend`` (None disables it for new opens)."""
        if backend is None:
            self._admin = None
            return
        self._admin = AdminChannel(
            hub=self._hub,
            backend=backend,
            on_role_changed=self.update_peer_role,
            on_renamed=self.set_device_name,
            answer_limit=self._answer_limit,
        )

    def _spec(
        self, name: str, vtype: ValueType, low: float | None, high: float | None, values: Sequence[str]
    ) -> ValueSpec:
        if not isinstance(name, str) or not name or len(name.encode("utf-8")) > 255:
            raise ConfigError(f"a channel name must be 1..255 bytes of text, not {name!r}")
        if name in RESERVED_LABELS:
            raise ConfigError(f"{name!r} is reserved for the {name} channel")
        if name in self._channels:
            raise ConfigError(f"a channel named {name!r} already exists")
        try:
            return ValueSpec(type=vtype, min=low, max=high, values=tuple(values))
        except ValueError as exc:
            raise ConfigError(f"channel {name!r}: {exc}") from None

    @staticmethod
    def _descriptor(
        name: str,
        kind: ChannelKind,
        spec: ValueSpec,
        unit: str | None,
        rate_hz: float | None,
        description: str | None,
        extra: dict[str, Any],
    ) -> ChannelDescriptor:
        if rate_hz is not None and (isinstance(rate_hz, bool) or not isinstance(rate_hz, int | float)):
            raise ConfigError(f"channel {name!r}: rate_hz must be a number")
        return ChannelDescriptor(
            name=name,
            kind=kind,
            type=spec.type,
            unit=unit,
            min=spec.min,
            max=spec.max,
            values=spec.values,
            rate_hz=rate_hz,
            description=description,
            extra=extra,
        )

    def _add(self, channel: _C) -> _C:
        self._channels[channel.name] = channel
        self._catalog_changed()
        return channel

    # -- catalog -----------------------------------------------------------------------------------

    @property
    def device(self) -> DeviceInfo:
        """The device part of the catalog."""
        return self._device

    def set_device_name(self, name: str) -> None:
        """The device's display name changed (rename, mDNS conflict): update the catalog."""
        if name != self._device.name:
            self._device = DeviceInfo(
                name=name, model=self._device.model, board=self._device.board, sdk=self._device.sdk
            )
            self._catalog_changed()

    @property
    def catalog_version(self) -> int:
        """Increases by one with every catalog change."""
        return self._version

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The declared channels, in declaration order."""
        return tuple(self._channels.values())

    def __getitem__(self, name: str) -> Channel:
        return self._channels[name]

    def __contains__(self, name: object) -> bool:
        return name in self._channels

    def catalog(self) -> Catalog:
        """The catalog: the device and the channel descriptors."""
        return Catalog(device=self._device, channels=tuple(c.descriptor for c in self._channels.values()))

    def catalog_frame(self) -> dict[str, Any]:
        """The catalog frame sent on the catalog channel."""
        return self.catalog().to_frame()

    def _catalog_changed(self) -> None:
        self._version += 1
        self._catalog.publish(self.catalog_frame())
        self._emit(CatalogChanged(self._version))

    # -- listeners ---------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every :class:`CatalogChanged`, :class:`SessionReady` and
        :class:`CallsReady`; returns a function that removes it. Exceptions it raises are logged."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _emit(self, event: RegistryEvent) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                _log.exception("a channel registry listener failed on %r", event)

    # -- sessions ----------------------------------------------------------------------------------

    def open_session(self, label: str, protocol: str, *, peer: PeerInfo, now: float) -> ChannelSession | OpenRefused:
        """Answer a data-channel-open-request for ``label``/``protocol`` from an authenticated ``peer``.

        Returns the new session (answer result 1, then pull its first frames) or :class:`OpenRefused`
        (answer its ``result``, 102, and end the stream).
        """

        def refuse(reason: str) -> OpenRefused:
            _log.info("refused channel %r (%s) for %s: %s", label, protocol, peer.fp_text[:8], reason)
            return OpenRefused(label=label, protocol=protocol, reason=reason)

        session: ChannelSession
        if label == CATALOG_LABEL:
            if protocol != CATALOG_PROTOCOL:
                return refuse(f"the catalog channel speaks {CATALOG_PROTOCOL}")
            session = self._catalog.open_session(label=label, protocol=protocol, peer=peer, frame=self.catalog_frame())
        elif label == ADMIN_LABEL:
            if protocol != ADMIN_PROTOCOL:
                return refuse(f"the admin channel speaks {ADMIN_PROTOCOL}")
            if self._admin is None:
                return refuse("this device has no admin channel")
            session = self._admin.open_session(label=label, protocol=protocol, peer=peer)
        else:
            channel = self._channels.get(label)
            if channel is None:
                return refuse("no such channel")
            if protocol != channel.descriptor.protocol:
                return refuse(f"channel {label!r} speaks {channel.descriptor.protocol}")
            session = channel._open_session(label=label, protocol=protocol, peer=peer)
        if not session.closed:
            self._sessions[session] = None
        return session

    @property
    def sessions(self) -> tuple[ChannelSession, ...]:
        """The open sessions."""
        return tuple(self._sessions)

    def take_calls(self) -> list[ActuatorCall]:
        """The actuator and admin calls that may run now (each returned once); run each with
        :func:`~device_sdk.channels.runner.run_call`."""
        return self._hub.dispatcher.take()

    def update_peer_role(self, fp: bytes, role: Role) -> None:
        """Controller ``fp`` now has ``role``: its open sessions act on it (a demoted admin's admin
        channel answers ``"forbidden"``). Called by the admin channel after a ``set-role``."""
        for session in self.sessions:
            if session.peer.fp == fp and session.peer.role != role:
                session.peer = PeerInfo(fp=fp, role=role, name=session.peer.name)

    def close_peer(self, fp: bytes, reason: str = "peer removed") -> None:
        """Close every open session of controller ``fp`` from the device side."""
        for session in self.sessions:
            if session.peer.fp == fp:
                session._terminate(reason)
