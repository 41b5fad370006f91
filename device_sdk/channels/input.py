"""Input channels, device side (profile section 6.4), and the input datagram codec.

An input (a game pad, a joystick: high-rate state where only the newest matters) publishes readings like
a sensor. Each controller's :class:`InputSession` keeps at most the newest reading waiting: a newer one
replaces it. The transport sends it either as a QUIC DATAGRAM (when both sides enabled RFC 9221:
:meth:`InputSession.use_datagrams`, :meth:`InputSession.take_latest_input`,
:func:`encode_input_datagram`) or as a data-frame on the channel stream (:meth:`~ChannelSession.next_frames`).
Receivers drop frames whose sequence number is not larger than the last one seen
(:class:`~device_sdk.channels.client.InputFilter`), so the two paths may be mixed.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from device_sdk.wire.cbor import dumps_item, loads_item
from device_sdk.wire.varint import decode_varint, encode_varint

from .descriptor import ChannelDescriptor, FrameError
from .frames import Reading
from .sensor import ReadingSource
from .session import ChannelSession, Hub, PeerInfo, reading_frame_size
from .values import ValueSpec


class Input(ReadingSource):
    """An input declared with ``registry.input(...)``: call :meth:`publish` with each new state."""

    def __init__(self, *, hub: Hub, descriptor: ChannelDescriptor, spec: ValueSpec) -> None:
        super().__init__(hub=hub, descriptor=descriptor, spec=spec)

    def _open_session(self, *, label: str, protocol: str, peer: PeerInfo) -> InputSession:
        session = InputSession(hub=self._hub, source=self, label=label, protocol=protocol, peer=peer)
        self._attach(session)
        if self._reading is not None:
            session._offer(self._reading, self._reading.to_frame())
        return session


class InputSession(ChannelSession):
    """One controller's channel to an input: at most the newest reading waits (``superseded`` counts
    the readings replaced before they were sent). Frames from the controller are ignored."""

    kind: ClassVar[str] = "input"

    def __init__(self, *, hub: Hub, source: Input, label: str, protocol: str, peer: PeerInfo) -> None:
        super().__init__(hub=hub, source=source, label=label, protocol=protocol, peer=peer)
        self._queue = deque(maxlen=1)
        self._datagrams = False
        self.superseded = 0
        """Readings replaced by a newer one before the transport took them."""

    @property
    def datagrams(self) -> bool:
        """Whether readings go out as datagrams (:meth:`take_latest_input`) rather than on the stream."""
        return self._datagrams

    def use_datagrams(self, enabled: bool = True) -> None:
        """Send readings as datagrams (both sides enabled QUIC DATAGRAM) or, with False, on the stream."""
        self._datagrams = enabled
        if self._queue:
            self._wake()

    @property
    def has_pending(self) -> bool:
        """Whether :meth:`next_frames` has a frame (never in datagram mode)."""
        return not self._datagrams and super().has_pending

    @property
    def datagram_pending(self) -> bool:
        """Whether :meth:`take_latest_input` has a frame (only in datagram mode)."""
        return self._datagrams and bool(self._queue) and not self._closed

    def next_frames(self, *, max_frames: int | None = None, max_bytes: int | None = None) -> list[Any]:
        """The newest reading as a frame on the stream (nothing in datagram mode)."""
        if self._datagrams:
            self._armed = True
            return []
        return super().next_frames(max_frames=max_frames, max_bytes=max_bytes)

    def take_latest_input(self) -> dict[str, Any] | None:
        """Take the newest waiting reading frame (for a datagram), or None; re-arms the notification.

        Works in either mode; the transport uses it in datagram mode. Encode the frame with
        :func:`dumps_frame` and wrap it with :func:`encode_input_datagram`. If the datagram is too
        large for the connection, send the same frame as a data-frame on the stream instead.
        """
        self._armed = True
        if self._closed or not self._queue:
            return None
        frame: dict[str, Any] = self._queue.popleft()
        return frame

    def _frame_size(self, frame: Any) -> int:
        return reading_frame_size(frame)

    def _offer(self, reading: Reading, frame: dict[str, Any]) -> None:
        if self._closed:
            return
        if self._queue:
            self.superseded += 1
        self._push(frame)


# -- datagram payload codec ------------------------------------------------------------------------


def encode_input_datagram(channel_id: int, frame_bytes: bytes) -> bytes:
    """A datagram payload: the QUIC varint ``channel_id`` followed by the CBOR-encoded frame."""
    return encode_varint(channel_id) + bytes(frame_bytes)


def decode_input_datagram(data: bytes) -> tuple[int, bytes]:
    """Split a datagram payload into (channel id, CBOR frame bytes); :class:`FrameError` when malformed."""
    try:
        channel_id, offset = decode_varint(data)
    except ValueError as exc:
        raise FrameError(f"bad input datagram: {exc}") from None
    if offset >= len(data):
        raise FrameError("bad input datagram: no frame after the channel id")
    return channel_id, bytes(data[offset:])


FRAME_MAX_NESTING = 64
"""Deepest nesting of arrays and maps accepted in a received frame."""


def loads_frame(data: bytes) -> Any:
    """Decode exactly one tag-free CBOR item (profile section 3, which applies to frames too);
    :class:`FrameError` for anything else (garbage, trailing bytes, a semantic tag anywhere)."""
    try:
        return loads_item(data, max_nesting=FRAME_MAX_NESTING)
    except ValueError as exc:
        raise FrameError(f"not a CBOR item of the profile: {exc}") from None


def dumps_frame(frame: Any) -> bytes:
    """Encode a frame as one tag-free CBOR item. Raises ``ValueError`` for a value that would need a
    tag (an integer beyond 64 bits, a set, a date...): no peer of the profile may be sent one."""
    return dumps_item(frame)


def parse_input_datagram(data: bytes) -> tuple[int, Any]:
    """Decode a datagram payload into (channel id, decoded frame); :class:`FrameError` when malformed."""
    channel_id, frame_bytes = decode_input_datagram(data)
    return channel_id, loads_frame(frame_bytes)
