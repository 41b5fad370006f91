"""Byte-stream channels, device side (profile section 6.4): :class:`ByteStream` and :class:`StreamSession`.

The application writes bytes (audio, video, logs) to a :class:`ByteStream`; they are cut into chunks of
at most ``chunk_size`` bytes, each with the next sequence number. Every open channel first sends the
format frame, then the chunks.

Drop policy: each controller has a buffer of ``buffer_bytes`` (chunk payload bytes). When a new chunk
would overflow it, the oldest *whole* chunks waiting for that controller are dropped until it fits, so
a slow controller gets the newest data, its latency stays bounded, and the gap shows in ``"s"``. The
format frame is never dropped. Other controllers and the writer are never slowed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from device_sdk.errors import ChannelError

from .descriptor import ChannelDescriptor
from .frames import StreamChunk, StreamFormat
from .session import ChannelSession, Hub, PeerInfo
from .source import ChannelSource


class ByteStream(ChannelSource["StreamSession"]):
    """A byte stream declared with ``registry.stream(...)``: call :meth:`write` with the data."""

    def __init__(
        self,
        *,
        hub: Hub,
        descriptor: ChannelDescriptor,
        format: StreamFormat,
        chunk_size: int,
        buffer_bytes: int,
    ) -> None:
        super().__init__(hub=hub, descriptor=descriptor)
        self._format = format
        self._chunk_size = chunk_size
        self._buffer_bytes = buffer_bytes
        self._seq = 0

    def __repr__(self) -> str:
        return f"<ByteStream {self.name!r} seq={self._seq}>"

    @property
    def format(self) -> StreamFormat:
        """The stream's format (sent first on every channel)."""
        return self._format

    @property
    def seq(self) -> int:
        """The sequence number of the latest chunk (0 before the first; the first is 1)."""
        return self._seq

    def write(self, data: bytes | bytearray | memoryview, t: float | None = None) -> list[StreamChunk]:
        """Append ``data`` taken at Unix time ``t`` (default: the registry's clock); return its chunks.

        Raises :class:`~device_sdk.errors.ChannelError` after the channel was removed.
        """
        if self._removed:
            raise ChannelError(f"channel {self.name!r} was removed")
        payload = bytes(data)
        when = self._hub.clock() if t is None else float(t)
        chunks: list[StreamChunk] = []
        for start in range(0, len(payload), self._chunk_size):
            self._seq += 1
            chunk = StreamChunk(self._seq, when, payload[start : start + self._chunk_size])
            chunks.append(chunk)
            frame = chunk.to_frame()
            for session in tuple(self._sessions):
                session._offer(frame)
        return chunks

    def _open_session(self, *, label: str, protocol: str, peer: PeerInfo) -> StreamSession:
        session = StreamSession(
            hub=self._hub,
            source=self,
            label=label,
            protocol=protocol,
            peer=peer,
            buffer_bytes=self._buffer_bytes,
        )
        self._attach(session)
        session._push_format(self._format.to_frame())
        return session


class StreamSession(ChannelSession):
    """One controller's channel to a byte stream: the format frame, then chunks (see the module doc)."""

    kind: ClassVar[str] = "stream"

    def __init__(
        self, *, hub: Hub, source: ByteStream, label: str, protocol: str, peer: PeerInfo, buffer_bytes: int
    ) -> None:
        super().__init__(hub=hub, source=source, label=label, protocol=protocol, peer=peer)
        self._limit = buffer_bytes
        self._buffered = 0
        self.dropped_chunks = 0
        """Chunks dropped for this controller because its buffer was full."""

    @property
    def buffered_bytes(self) -> int:
        """Chunk payload bytes waiting to be pulled."""
        return self._buffered

    def _push_format(self, frame: dict[str, Any]) -> None:
        self._push(frame)

    def _offer(self, frame: dict[str, Any]) -> None:
        if self._closed:
            return
        size = len(frame["d"])
        while self._buffered + size > self._limit:
            index = 0 if "d" in self._queue[0] else 1
            old = self._queue[index]
            del self._queue[index]
            self._buffered -= len(old["d"])
            self.dropped_chunks += 1
        self._buffered += size
        self._push(frame)

    def _frame_size(self, frame: Any) -> int:
        data = frame.get("d")
        return len(data) + 24 if isinstance(data, bytes) else super()._frame_size(frame)

    def _taken(self, frame: Any) -> None:
        data = frame.get("d")
        if isinstance(data, bytes):
            self._buffered -= len(data)
